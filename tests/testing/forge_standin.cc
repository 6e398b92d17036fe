// ForgeStandin; the contract is in forge_standin.h.
#include "tests/testing/forge_standin.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

namespace slipway::testing {

struct ForgeStandin::Impl {
  httplib::Server server;
};

namespace {

bool ValidState(const std::string& kind, const std::string& state) {
  static const std::set<std::string> kGitHub = {"pending", "success", "failure", "error"};
  static const std::set<std::string> kGitLab = {"pending", "running", "success", "failed", "canceled"};
  return kind == "gitlab" ? kGitLab.count(state) > 0 : kGitHub.count(state) > 0;
}

}  // namespace

ForgeStandin::ForgeStandin(std::string token) : token_(std::move(token)), impl_(std::make_unique<Impl>()) {}

ForgeStandin::~ForgeStandin() {
  Stop();
}

std::string ForgeStandin::Url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void ForgeStandin::Record(StatusCall call) {
  std::lock_guard lock(mu_);
  calls_.push_back(std::move(call));
}

bool ForgeStandin::TakeFailure() {
  int n = fail_next_.load();
  while (n > 0 && !fail_next_.compare_exchange_weak(n, n - 1)) {
  }
  return n > 0;
}

bool ForgeStandin::Start(int port) {
  if (thread_.joinable()) return false;
  impl_ = std::make_unique<Impl>();
  static const std::regex kGitHubPath(R"(^.*/repos/([^/]+/[^/]+)/statuses/([0-9a-fA-F]+)$)");
  static const std::regex kGitLabPath(R"(^.*/projects/([^/]+)/statuses/([0-9a-fA-F]+)$)");
  impl_->server.Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    StatusCall call;
    call.path = req.path;
    call.body = req.body;
    std::smatch m;
    auto answer = [&](int status, const std::string& message) {
      call.answered = status;
      res.status = status;
      res.set_content(nlohmann::json{{"message", message}}.dump(), "application/json");
      Record(call);
    };
    if (std::regex_match(req.path, m, kGitLabPath)) {
      call.kind = "gitlab";
    } else if (std::regex_match(req.path, m, kGitHubPath)) {
      call.kind = "github-gitea";
    } else {
      return answer(404, "no such route");
    }
    call.repo = m[1];
    call.commit = m[2];
    bool authorized = false;
    if (call.kind == "gitlab") {
      authorized = req.get_header_value("PRIVATE-TOKEN") == token_;
    } else {
      const std::string auth = req.get_header_value("Authorization");
      authorized = auth == "token " + token_ || auth == "Bearer " + token_;
    }
    auto body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_object()) {
      auto str = [&](const char* key) {
        auto it = body.find(key);
        return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      call.state = str("state");
      call.context = call.kind == "gitlab" ? str("name") : str("context");
      call.description = str("description");
      call.target_url = str("target_url");
    }
    if (!authorized) return answer(401, "Bad credentials");
    if (!body.is_object() || !ValidState(call.kind, call.state) || call.commit.size() != 40)
      return answer(422, "Validation Failed");
    if (TakeFailure()) return answer(503, "told to fail");
    answer(201, "created");
  });
  port_ = port == 0 ? impl_->server.bind_to_any_port("127.0.0.1")
                    : (impl_->server.bind_to_port("127.0.0.1", port) ? port : -1);
  if (port_ <= 0) {
    port_ = 0;
    return false;
  }
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  // Bound already (connections wait in the backlog), but a stop() before
  // the loop runs would be lost, and Stop() would wait for ever.
  while (!impl_->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return true;
}

void ForgeStandin::Stop() {
  if (!thread_.joinable()) return;
  impl_->server.stop();
  thread_.join();
}

std::vector<StatusCall> ForgeStandin::Calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::vector<std::string> ForgeStandin::States(const std::string& commit) const {
  std::vector<std::string> states;
  for (const StatusCall& call : Calls()) {
    if (call.commit == commit && call.answered / 100 == 2) states.push_back(call.state);
  }
  return states;
}

}  // namespace slipway::testing
