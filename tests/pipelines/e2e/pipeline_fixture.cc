#include "tests/pipelines/e2e/pipeline_fixture.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "tests/testing/fixtures.h"

namespace slipway::testing {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

bool IsFinalRunStatus(const std::string& s) {
  return s == "success" || s == "failure" || s == "error" || s == "cancelled" || s == "interrupted";
}

// A run's "steps" array (empty if it has none).
json Steps(const json& run) {
  if (run.is_object() && run.contains("steps") && run["steps"].is_array()) return run["steps"];
  return json::array();
}

std::string Tail(const std::string& text, size_t max = 4000) {
  return text.size() <= max ? text : "[...]\n" + text.substr(text.size() - max);
}

}  // namespace

std::string PipelineRepo::Push(const std::string& pipeline, std::map<std::string, std::string> files,
                               const std::string& branch) {
  if (repo_.WorkGit("branch --show-current") != branch) repo_.WorkGit("checkout -q -B '" + branch + "'");
  files[".slipway.yml"] = pipeline;
  std::string commit = repo_.Commit(files, "pipeline for " + branch);
  repo_.Push(branch);
  return commit;
}

std::string Str(const json& object, const std::string& key) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null()) return "";
  return object[key].is_string() ? object[key].get<std::string>() : object[key].dump();
}

int64_t Int(const json& object, const std::string& key, int64_t otherwise) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number_integer()) return otherwise;
  return object[key].get<int64_t>();
}

std::string Q(const std::string& text) {
  return json(text).dump();
}

std::string HoldCommand(const std::string& name) {
  return "i=0; while [ ! -e " + name + " ]; do i=$((i+1)); [ $i -lt 1200 ]; sleep 0.1; done";
}

void PipelineTest::SetUp() {
  daemon_ = StartDaemonWithBusybox(DaemonArgs());
  ASSERT_NE(daemon_, nullptr);
}

void PipelineTest::TearDown() {
  if (daemon_ != nullptr && HasFailure()) {
    std::cerr << "--- slipwayd's log (tail) ---\n" << Tail(daemon_->Log()) << "\n";
  }
  daemon_.reset();
}

json PipelineTest::AddRepo(const std::string& name, const std::string& url, const json& extra) {
  json body = extra;
  body["name"] = name;
  body["url"] = url;
  HttpReply r = Api().Post("/api/v1/repos", body);
  EXPECT_EQ(r.status, 201) << "POST /api/v1/repos " << body.dump() << ": " << r;
  return r.status == 201 ? r.Json() : json();
}

void PipelineTest::SetSecret(const std::string& repo, const std::string& key, const std::string& value) {
  HttpReply r =
      Api().Send("PUT", "/api/v1/repos/" + repo + "/secrets/" + key, value, "application/octet-stream");
  EXPECT_EQ(r.status, 204) << "PUT secret " << key << " of " << repo << ": " << r;
}

int64_t PipelineTest::Trigger(const std::string& repo, const json& body) {
  HttpReply r = Api().Post("/api/v1/repos/" + repo + "/runs", body);
  json run = r.Json();
  EXPECT_EQ(r.status, 201) << "trigger " << repo << " " << body.dump() << ": " << r;
  if (r.status != 201 || !run.is_object() || !run["id"].is_number_integer()) {
    ADD_FAILURE() << "no run id in " << r;
    return 0;
  }
  EXPECT_EQ(Str(run, "status"), "queued") << run.dump();
  return run["id"].get<int64_t>();
}

json PipelineTest::GetRun(int64_t id) const {
  HttpReply r = Api().Get("/api/v1/runs/" + std::to_string(id));
  EXPECT_EQ(r.status, 200) << "GET run " << id << ": " << r;
  return r.status == 200 ? r.Json() : json();
}

json PipelineTest::AwaitRun(int64_t id, seconds deadline) const {
  json run;
  bool ended = WaitUntil(
      [&] {
        run = GetRun(id);
        return !run.is_object() || IsFinalRunStatus(Str(run, "status"));
      },
      deadline);
  EXPECT_TRUE(ended) << "run " << id << " has not ended after " << deadline.count() << " s: " << run.dump();
  return run;
}

json PipelineTest::AwaitStep(int64_t id, const std::string& step, const std::string& status,
                             seconds deadline) const {
  json run;
  bool reached = WaitUntil(
      [&] {
        run = GetRun(id);
        if (!run.is_object() || IsFinalRunStatus(Str(run, "status"))) return true;
        for (const json& s : Steps(run)) {
          if (Str(s, "name") == step && Str(s, "status") == status) return true;
        }
        return false;
      },
      deadline);
  json s = StepOf(run, step);
  EXPECT_TRUE(reached && Str(s, "status") == status)
      << "step " << step << " of run " << id << " is not " << status << ": " << run.dump();
  return run;
}

json PipelineTest::StepOf(const json& run, const std::string& name) {
  if (run.is_object()) {
    for (const json& s : Steps(run)) {
      if (Str(s, "name") == name) return s;
    }
  }
  ADD_FAILURE() << "no step " << name << " in " << run.dump();
  return json();
}

std::string PipelineTest::StepLog(int64_t id, const std::string& step, bool follow) const {
  std::string path = "/api/v1/runs/" + std::to_string(id) + "/steps/" + step + "/logs";
  if (follow) path += "?follow=1";
  HttpReply r = Api().Get(path);
  std::string out, err;
  EXPECT_EQ(r.status, 200) << "GET " << path << ": " << r;
  EXPECT_TRUE(DecodeFrames(r.body, &out, &err)) << "not a multiplexed stream: " << r;
  return out + err;
}

std::vector<json> PipelineTest::ContainersOf(int64_t id, const std::string& step) const {
  std::vector<json> out;
  for (const json& c : daemon_->List(true)) {
    json labels = c.is_object() && c.contains("labels") ? c["labels"] : json();
    if (Str(labels, "slipway.run") != std::to_string(id)) continue;
    if (!step.empty() && Str(labels, "slipway.step") != step) continue;
    out.push_back(c);
  }
  return out;
}

std::string PipelineTest::Workspace(int64_t id) const {
  return daemon_->data_dir() + "/runs/" + std::to_string(id) + "/workspace";
}

void PipelineTest::Release(int64_t id, const std::string& name) const {
  std::string path = Workspace(id) + "/" + name;
  std::ofstream(path) << "go\n";
  EXPECT_TRUE(fs::exists(path)) << "could not write " << path;
}

ProcessRef PipelineTest::StepProcess(int64_t id, const std::string& step) const {
  ProcessRef p;
  std::vector<json> containers;
  WaitUntil(
      [&] {
        containers = ContainersOf(id, step);
        return containers.size() == 1 && Str(containers[0], "state") == "running" &&
               Int(daemon_->Inspect(Str(containers[0], "id")), "pid", 0) > 0;
      },
      seconds(20));
  if (containers.size() != 1) {
    ADD_FAILURE() << containers.size() << " containers labelled run " << id << " step " << step;
    return p;
  }
  json c = daemon_->Inspect(Str(containers[0], "id"));
  p.pid = Int(c, "pid", 0);
  p.start_time = p.pid > 0 ? ProcessStartTime(p.pid) : 0;
  EXPECT_GT(p.pid, 0) << "step " << step << "'s container does not run: " << c.dump();
  return p;
}

void PipelineTest::ExpectNothingLeft(int64_t id) const {
  std::vector<json> left;
  // A run's containers are removed as it ends; allow the removal a moment.
  WaitUntil([&] { return (left = ContainersOf(id)).empty(); }, seconds(5));
  for (const json& c : left) ADD_FAILURE() << "run " << id << " left a container: " << c.dump();
  EXPECT_EQ(daemon_->LeftoversAfter(), "") << "run " << id << " left sandboxes";
  // The run is recorded ended (what AwaitRun sees) just before its
  // workspace is removed: allow that a moment too.
  WaitUntil([&] { return !fs::exists(Workspace(id)); }, seconds(5));
  EXPECT_FALSE(fs::exists(Workspace(id))) << "run " << id << " left its workspace " << Workspace(id);
}

}  // namespace slipway::testing
