// Secrets of a pipeline step through the real container lifecycle: real
// sandboxes under slipway-monitor, a real SQLite file and state directory.
// The step sees its secret variables; its log, its record, the database and
// every file of the state and data directories only ever hold "****".
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/fs.h"
#include "tests/engine/containers/service_fixture.h"
#include "tests/engine/distribution/image_test_util.h"

namespace slipway::testing {
namespace {

using std::chrono::milliseconds;

class ContainerSecretsTest : public ContainerServiceTest {
 protected:
  ContainerSecretsTest() : ContainerServiceTest("secretstest") {}

  void SetUp() override {
    ContainerServiceTest::SetUp();
    OpenService(/*run=*/true);
    secret_ = "tok-" + RandomHex(12);
    half1_ = secret_.substr(0, 10);
    half2_ = secret_.substr(10);
  }

  CreateRequest Request(const std::string& script) const {
    CreateRequest r;
    r.rootfs = BusyboxRootfs();
    r.command = {"sh", "-c", script};
    r.env = {"PLAIN=visible"};
    r.timeout_ms = 60000;  // a hung test fails instead of hanging
    return r;
  }

  CreateOptions StepOptions() const {
    CreateOptions o;
    o.labels = {{"slipway.pipeline", "run-1"}};
    o.ends_with_caller = true;
    o.secret_env = {{"TOKEN", secret_}};
    return o;
  }

  // Follows the container's log until `done(stdout, stderr)` holds or it ends.
  void Follow(const std::string& id,
              const std::function<bool(const std::string&, const std::string&)>& done) {
    out_.clear();
    err_.clear();
    Status st = service_->StreamLogs(id, /*follow=*/true, [&](Stream s, std::string_view data) {
      (s == Stream::kStdout ? out_ : err_).append(data);
      return !done(out_, err_);
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
  }

  // Every file that holds the secret: the database (and its -wal), the
  // images, the sandboxes' state, output logs and results, the event log.
  std::vector<std::string> WhereIsTheSecret() const { return FilesContaining(root_, secret_); }

  std::string secret_, half1_, half2_;
  std::string out_, err_;
};

TEST_F(ContainerSecretsTest, TheStepSeesItsSecretAndNothingElseDoes) {
  // The value is in the environment alone: the script holds it only in two
  // halves, printed by two writes.
  std::string script = "test \"$TOKEN\" = \"" + half1_ + "\"\"" + half2_ +
                       "\" && echo env-ok; echo \"$PLAIN\"; echo \"$TOKEN\"; printf %s " + half1_ +
                       "; printf %s " + half2_ + "; echo; echo \"<$TOKEN>\" >&2; echo ready; exec sleep 1000";
  auto created = service_->Create(Request(script), StepOptions());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string id = created->id;
  EXPECT_EQ(created->labels.at("slipway.pipeline"), "run-1");
  EXPECT_TRUE(created->ends_with_caller);
  EXPECT_TRUE(created->spec.masked_values.empty());
  EXPECT_EQ(WhereIsTheSecret(), std::vector<std::string>{}) << "created";
  ASSERT_TRUE(service_->Start(id).ok());

  Follow(id, [](const std::string& out, const std::string& err) {
    return out.ends_with("ready\n") && err.ends_with(">\n");
  });
  EXPECT_EQ(out_, "env-ok\nvisible\n****\n****\nready\n");
  EXPECT_EQ(err_, "<****>\n");

  // While it runs: the variable really is in its init's environment...
  auto running = service_->Inspect(id);
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  ASSERT_EQ(running->state, ContainerState::kRunning);
  // "ready" is printed just before `exec sleep`: read the environment once
  // the exec is done, since mid-exec /proc/<pid>/environ can read as empty.
  const std::string proc = "/proc/" + std::to_string(running->pid);
  auto is_sleep = [&] {
    auto comm = ReadFile(proc + "/comm");
    return comm.ok() && *comm == "sleep\n";
  };
  for (int i = 0; i < 500 && !is_sleep(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto environ = ReadFile(proc + "/environ");
  ASSERT_TRUE(environ.ok()) << environ.status().ToString();
  EXPECT_NE(environ->find(std::string("TOKEN=") + secret_ + '\0'), std::string::npos);
  // ...and in no record, no file, no API answer.
  EXPECT_EQ(running->ToJson().find(secret_), std::string::npos);
  EXPECT_EQ(running->ToJson().find("TOKEN="), std::string::npos) << "no env entry of it at all";
  EXPECT_NE(running->ToJson().find("PLAIN=visible"), std::string::npos) << "the request's env is shown";
  auto listed = service_->List(/*all=*/true);
  ASSERT_TRUE(listed.ok());
  for (const Container& c : *listed) EXPECT_EQ(c.ToJson().find(secret_), std::string::npos);
  EXPECT_EQ(WhereIsTheSecret(), std::vector<std::string>{}) << "running";
  // The scan does read these files: the log is among them.
  EXPECT_FALSE(FilesContaining(state_dir_, "env-ok").empty());
  EXPECT_FALSE(FilesContaining(data_dir_, "PLAIN=visible").empty()) << "the scan reads the database too";

  ASSERT_TRUE(service_->Stop(id, milliseconds(0)).ok());
  Container ended = AwaitEnd(id);
  EXPECT_EQ(ended.state, ContainerState::kExited);
  EXPECT_EQ(ended.ToJson().find(secret_), std::string::npos);
  Follow(id, [](const std::string&, const std::string&) { return false; });
  EXPECT_EQ(out_, "env-ok\nvisible\n****\n****\nready\n");
  EXPECT_EQ(WhereIsTheSecret(), std::vector<std::string>{}) << "ended";
  ASSERT_TRUE(service_->Remove(id, /*force=*/false).ok());
  EXPECT_EQ(WhereIsTheSecret(), std::vector<std::string>{}) << "removed";
}

// A container without secret_env prints what it prints: masking is for the
// values the step was given, nothing else.
TEST_F(ContainerSecretsTest, WithoutSecretsOutputIsUnchanged) {
  auto created = service_->Create(Request("echo " + half1_ + half2_));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(service_->Start(created->id).ok());
  AwaitEnd(created->id);
  Follow(created->id, [](const std::string&, const std::string&) { return false; });
  EXPECT_EQ(out_, secret_ + "\n");
}

// A secret variable replaces one of the same name from the request or the
// image; the step sees the secret's value.
TEST_F(ContainerSecretsTest, ASecretReplacesAVariableOfTheSameName) {
  CreateRequest r = Request("echo \"[$TOKEN]\"; env | grep -c '^TOKEN='");
  r.env.push_back("TOKEN=public");
  auto created = service_->Create(r, StepOptions());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(service_->Start(created->id).ok());
  Container ended = AwaitEnd(created->id);
  ASSERT_TRUE(ended.result.has_value()) << ended.ToJson();
  EXPECT_EQ(ended.result->exit_code, 0);
  Follow(created->id, [](const std::string&, const std::string&) { return false; });
  EXPECT_EQ(out_, "[****]\n1\n");
}

TEST_F(ContainerSecretsTest, BadSecretsAreRefusedWithoutQuotingThem) {
  struct Case {
    std::string what;
    CreateOptions options;
  };
  CreateOptions no_caller = StepOptions();
  no_caller.ends_with_caller = false;
  CreateOptions bad_name = StepOptions();
  bad_name.secret_env = {{"A=B", secret_}};
  CreateOptions empty_name = StepOptions();
  empty_name.secret_env = {{"", secret_}};
  CreateOptions nul_value = StepOptions();
  nul_value.secret_env = {{"TOKEN", secret_ + std::string(1, '\0') + "x"}};
  CreateOptions bad_utf8 = StepOptions();
  bad_utf8.secret_env = {{"TOKEN", secret_ + "\xff\xfe"}};
  CreateOptions twice = StepOptions();
  twice.secret_env = {{"TOKEN", secret_}, {"TOKEN", secret_}};
  for (const Case& c :
       {Case{"no ends_with_caller", no_caller}, Case{"name with =", bad_name}, Case{"empty name", empty_name},
        Case{"NUL in value", nul_value}, Case{"invalid UTF-8", bad_utf8}, Case{"given twice", twice}}) {
    auto created = service_->Create(Request("true"), c.options);
    ASSERT_FALSE(created.ok()) << c.what;
    EXPECT_EQ(created.status().code(), Code::kInvalidArgument)
        << c.what << ": " << created.status().ToString();
    EXPECT_NE(created.status().message().find("secret_env"), std::string::npos) << created.status().message();
    EXPECT_EQ(created.status().message().find(secret_), std::string::npos) << c.what;
  }
  auto all = service_->List(/*all=*/true);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty()) << "a refused create records nothing";

  // Values to mask belong to a launch only: a caller-made spec with them
  // would put the secrets themselves in the row.
  SpecContainer spec;
  spec.image = "rootfs";
  spec.spec.lower_dirs = {BusyboxRootfs()};
  spec.spec.argv = {"true"};
  spec.spec.masked_values = {secret_};
  auto from_spec = service_->CreateFromSpec(spec);
  ASSERT_FALSE(from_spec.ok());
  EXPECT_EQ(from_spec.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(WhereIsTheSecret(), std::vector<std::string>{});
}

// slipwayd dies while a step holding secrets is queued: after the restart
// it never starts (its secrets went with the old process, and its caller
// too). A plain queued container still runs.
TEST_F(ContainerSecretsTest, AQueuedStepWithSecretsNeverStartsAfterARestart) {
  OpenService(/*run=*/false);  // a service that queues but never launches
  auto step = service_->Create(Request("echo \"$TOKEN\""), StepOptions());
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  ASSERT_TRUE(service_->Start(step->id).ok());
  auto plain = service_->Create(Request("echo plain"));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_TRUE(service_->Start(plain->id).ok());
  ASSERT_EQ(service_->Inspect(step->id)->state, ContainerState::kQueued);

  OpenService(/*run=*/true);
  EXPECT_EQ(report_.lost, 1);
  Container ran = AwaitEnd(plain->id);
  EXPECT_EQ(ran.state, ContainerState::kExited);
  Container lost = AwaitEnd(step->id);
  EXPECT_EQ(lost.state, ContainerState::kLost);
  EXPECT_TRUE(lost.sandbox_id.empty()) << "it never got a sandbox";
  EXPECT_FALSE(lost.result.has_value());
  // The only sandbox ever made is the plain container's.
  EXPECT_EQ(ListDir(state_dir_ + "/sandboxes"), std::vector<std::string>{ran.sandbox_id});
  EXPECT_EQ(WhereIsTheSecret(), std::vector<std::string>{});
}

// slipwayd dies while a step holding secrets runs: the restarted service
// stops and removes it (its caller is gone), leaving no trace of the value.
TEST_F(ContainerSecretsTest, ARunningStepWithSecretsIsStoppedAfterARestart) {
  auto step = service_->Create(Request("echo \"$TOKEN\"; echo ready; exec sleep 1000"), StepOptions());
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  ASSERT_TRUE(service_->Start(step->id).ok());
  Follow(step->id, [](const std::string& out, const std::string&) { return out.ends_with("ready\n"); });
  EXPECT_EQ(out_, "****\nready\n");
  // The service goes; the sandbox stays under its monitor, as after a crash.
  service_->Shutdown(milliseconds(0));
  OpenService(/*run=*/true);
  EXPECT_EQ(report_.abandoned, 1);
  Container lost = AwaitEnd(step->id);
  EXPECT_EQ(lost.state, ContainerState::kLost);
  EXPECT_EQ(ListDir(state_dir_ + "/sandboxes"), std::vector<std::string>{});
  EXPECT_EQ(WhereIsTheSecret(), std::vector<std::string>{});
}

}  // namespace
}  // namespace slipway::testing
