#include "tests/webhooks/e2e/webhook_fixture.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <random>

namespace slipway::testing {

using nlohmann::json;

namespace {

std::string HostOf(const std::string& forge) {
  if (forge == "github") return "github.com";
  if (forge == "gitea") return "gitea.example.com";
  return "gitlab.example.com";
}

// The repository object of GitHub's and Gitea's payloads (GitHub's fields;
// Gitea's are a subset with the same names).
json RepositoryObject(const std::string& forge, const std::string& full_name, int64_t id) {
  std::string host = HostOf(forge);
  std::string owner = full_name.substr(0, full_name.find('/'));
  std::string name = full_name.substr(full_name.find('/') + 1);
  json repo = {
      {"id", id},
      {"name", name},
      {"full_name", full_name},
      {"private", false},
      {"fork", false},
      {"owner", {{"id", 1}, {"login", owner}, {"username", owner}, {"name", owner}}},
      {"html_url", "https://" + host + "/" + full_name},
      {"clone_url", "https://" + host + "/" + full_name + ".git"},
      {"ssh_url", "git@" + host + ":" + full_name + ".git"},
      {"default_branch", "main"},
  };
  if (forge == "github") {
    repo["node_id"] = "R_kgDOH" + std::to_string(id);
    repo["url"] = "https://api.github.com/repos/" + full_name;
    repo["git_url"] = "git://github.com/" + full_name + ".git";
    repo["master_branch"] = "main";
  } else {
    repo["empty"] = false;
    repo["description"] = "";
  }
  return repo;
}

// GitLab's project object (also its merge requests' source and target).
json ProjectObject(const std::string& full_name, int64_t id) {
  std::string host = HostOf("gitlab");
  return {
      {"id", id},
      {"name", full_name.substr(full_name.find('/') + 1)},
      {"description", ""},
      {"web_url", "https://" + host + "/" + full_name},
      {"git_ssh_url", "git@" + host + ":" + full_name + ".git"},
      {"git_http_url", "https://" + host + "/" + full_name + ".git"},
      {"namespace", full_name.substr(0, full_name.find('/'))},
      {"visibility_level", 0},
      {"path_with_namespace", full_name},
      {"default_branch", "main"},
      {"homepage", "https://" + host + "/" + full_name},
      {"url", "git@" + host + ":" + full_name + ".git"},
      {"ssh_url", "git@" + host + ":" + full_name + ".git"},
      {"http_url", "https://" + host + "/" + full_name + ".git"},
  };
}

json CommitObject(const std::string& forge, const std::string& full_name, const std::string& sha,
                  const std::string& message) {
  json author = {{"name", "tester"}, {"email", "tester@example.com"}};
  json c = {{"id", sha},
            {"message", message + "\n"},
            {"timestamp", "2026-12-07T13:00:00Z"},
            {"url", "https://" + HostOf(forge) + "/" + full_name + "/commit/" + sha},
            {"author", author},
            {"added", json::array()},
            {"removed", json::array()},
            {"modified", json::array({".slipway.yml"})}};
  if (forge == "gitlab") {
    c["title"] = message;
  } else {
    c["author"]["username"] = "tester";
    c["committer"] = c["author"];
    c["distinct"] = true;
    if (forge == "github") c["tree_id"] = std::string(40, 'e');
  }
  return c;
}

json Sender() {
  return {{"login", "tester"}, {"id", 1}, {"type", "User"}, {"username", "tester"}};
}

}  // namespace

std::string HmacHex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += "0123456789abcdef"[mac[i] >> 4];
    hex += "0123456789abcdef"[mac[i] & 15];
  }
  return hex;
}

std::string NewDeliveryId() {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::atomic<uint64_t> counter{0};
  uint64_t a = rng() ^ ++counter, b = rng();
  char out[40];
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>((a >> 16) & 0xfff),
                static_cast<unsigned>(b & 0xfff), static_cast<unsigned long long>(b >> 16));
  return out;
}

json PushPayload(const ForgeRepoInfo& repo, const std::string& ref, const std::string& before,
                 const std::string& after, const std::string& message) {
  bool deleted = after == kZeroCommit;
  bool is_tag = ref.starts_with("refs/tags/");
  json commits =
      deleted ? json::array() : json::array({CommitObject(repo.forge, repo.full_name, after, message)});
  if (repo.forge == "gitlab") {
    json p = {{"object_kind", is_tag ? "tag_push" : "push"},
              {"event_name", is_tag ? "tag_push" : "push"},
              {"before", before},
              {"after", after},
              {"ref", ref},
              {"ref_protected", false},
              {"checkout_sha", deleted ? json(nullptr) : json(after)},
              {"message", nullptr},
              {"user_id", 1},
              {"user_name", "tester"},
              {"user_username", "tester"},
              {"user_email", ""},
              {"user_avatar", ""},
              {"project_id", repo.project_id},
              {"project", ProjectObject(repo.full_name, repo.project_id)},
              {"commits", commits},
              {"total_commits_count", commits.size()},
              {"push_options", json::object()},
              {"repository",
               {{"name", repo.full_name.substr(repo.full_name.find('/') + 1)},
                {"url", "git@gitlab.example.com:" + repo.full_name + ".git"},
                {"description", ""},
                {"homepage", "https://gitlab.example.com/" + repo.full_name},
                {"git_http_url", "https://gitlab.example.com/" + repo.full_name + ".git"},
                {"git_ssh_url", "git@gitlab.example.com:" + repo.full_name + ".git"},
                {"visibility_level", 0}}}};
    return p;
  }
  json p = {{"ref", ref},
            {"before", before},
            {"after", after},
            {"commits", commits},
            {"head_commit", deleted ? json(nullptr) : commits[0]},
            {"repository", RepositoryObject(repo.forge, repo.full_name, repo.project_id)},
            {"pusher", {{"name", "tester"}, {"email", "tester@example.com"}}},
            {"sender", Sender()}};
  if (repo.forge == "github") {
    p["created"] = before == kZeroCommit;
    p["deleted"] = deleted;
    p["forced"] = false;
    p["base_ref"] = nullptr;
    p["compare"] = "https://github.com/" + repo.full_name + "/compare/" + before.substr(0, 12) + "..." +
                   after.substr(0, 12);
  } else {
    p["compare_url"] = "https://gitea.example.com/" + repo.full_name + "/compare/" + before + "..." + after;
    p["total_commits"] = commits.size();
  }
  return p;
}

json PullRequestPayload(const ForgeRepoInfo& repo, int64_t number, const std::string& action,
                        const std::string& base_branch, const std::string& head_branch,
                        const std::string& head_sha, const std::string& fork_full_name) {
  std::string head_full = fork_full_name.empty() ? repo.full_name : fork_full_name;
  int64_t head_id = fork_full_name.empty() ? repo.project_id : repo.project_id + 1000;
  std::string base_sha(40, 'b');
  if (repo.forge == "gitlab") {
    json source = ProjectObject(head_full, head_id);
    json target = ProjectObject(repo.full_name, repo.project_id);
    return {{"object_kind", "merge_request"},
            {"event_type", "merge_request"},
            {"user", {{"id", 1}, {"name", "tester"}, {"username", "tester"}}},
            {"project", target},
            {"object_attributes",
             {{"id", 90000 + number},
              {"iid", number},
              {"target_branch", base_branch},
              {"source_branch", head_branch},
              {"source_project_id", head_id},
              {"target_project_id", repo.project_id},
              {"state", "opened"},
              {"action", action},
              {"title", "a change"},
              {"merge_status", "unchecked"},
              {"url", "https://gitlab.example.com/" + repo.full_name + "/-/merge_requests/" +
                          std::to_string(number)},
              {"source", source},
              {"target", target},
              {"last_commit", CommitObject("gitlab", head_full, head_sha, "a change")}}},
            {"repository",
             {{"name", target["name"]},
              {"url", target["git_ssh_url"]},
              {"homepage", target["web_url"]},
              {"description", ""}}}};
  }
  json head_repo = RepositoryObject(repo.forge, head_full, head_id);
  if (!fork_full_name.empty()) head_repo["fork"] = true;
  json base_repo = RepositoryObject(repo.forge, repo.full_name, repo.project_id);
  json owner = head_full.substr(0, head_full.find('/'));
  json pr = {{"id", 80000 + number},
             {"number", number},
             {"state", "open"},
             {"title", "a change"},
             {"user", Sender()},
             {"html_url",
              "https://" + HostOf(repo.forge) + "/" + repo.full_name + "/pull/" + std::to_string(number)},
             {"head",
              {{"label", owner.get<std::string>() + ":" + head_branch},
               {"ref", head_branch},
               {"sha", head_sha},
               {"repo_id", head_id},
               {"repo", head_repo}}},
             {"base",
              {{"label", repo.full_name.substr(0, repo.full_name.find('/')) + ":" + base_branch},
               {"ref", base_branch},
               {"sha", base_sha},
               {"repo_id", repo.project_id},
               {"repo", base_repo}}},
             {"merged", false}};
  if (repo.forge == "gitea") pr["merge_base"] = base_sha;
  return {{"action", action},
          {"number", number},
          {"pull_request", pr},
          {"repository", base_repo},
          {"sender", Sender()}};
}

json PingPayload(const ForgeRepoInfo& repo) {
  return {
      {"zen", "Keep it logically awesome."},
      {"hook_id", 4242},
      {"hook",
       {{"type", "Repository"},
        {"id", 4242},
        {"active", true},
        {"events", json::array({"push", "pull_request"})},
        {"config",
         {{"content_type", "json"}, {"insecure_ssl", "0"}, {"url", "https://ci.example.com/hooks/github"}}}}},
      {"repository", RepositoryObject(repo.forge, repo.full_name, repo.project_id)},
      {"sender", Sender()}};
}

std::string EventHeader(const std::string& forge, const std::string& kind) {
  if (forge == "gitlab") {
    if (kind == "tag") return "Tag Push Hook";
    if (kind == "pull_request") return "Merge Request Hook";
    if (kind == "ping") return "System Hook";
    return "Push Hook";
  }
  // GitHub and Gitea send tags as push events ("create" comes separately).
  if (kind == "tag") return "push";
  return kind;
}

Delivery Sign(const std::string& forge, const std::string& kind, const std::string& body,
              const std::string& secret, std::string id) {
  if (id.empty()) id = NewDeliveryId();
  Delivery d;
  d.path = "/hooks/" + forge;
  d.body = body;
  std::string event = EventHeader(forge, kind);
  std::string mac = secret.empty() ? "" : HmacHex(secret, body);
  if (forge == "github") {
    d.headers = {"User-Agent: GitHub-Hookshot/2f6b3c1",
                 "X-GitHub-Event: " + event,
                 "X-GitHub-Delivery: " + id,
                 "X-GitHub-Hook-ID: 4242",
                 "X-GitHub-Hook-Installation-Target-Type: repository",
                 "X-GitHub-Hook-Installation-Target-ID: 4242"};
    if (!secret.empty()) d.headers.push_back("X-Hub-Signature-256: sha256=" + mac);
  } else if (forge == "gitea") {
    std::string type = kind == "pull_request" ? "pull_request" : event;
    d.headers = {"User-Agent: Go-http-client/1.1",
                 "X-Gitea-Event: " + event,
                 "X-Gitea-Event-Type: " + type,
                 "X-Gitea-Delivery: " + id,
                 "X-Gogs-Event: " + event,
                 "X-Gogs-Delivery: " + id,
                 "X-GitHub-Event: " + event,
                 "X-GitHub-Delivery: " + id,
                 "X-Gitea-Hook-Installation-Target-Type: repository"};
    if (!secret.empty()) {
      d.headers.push_back("X-Gitea-Signature: " + mac);
      d.headers.push_back("X-Gogs-Signature: " + mac);
      d.headers.push_back("X-Hub-Signature-256: sha256=" + mac);
    }
  } else {
    d.headers = {"User-Agent: GitLab/16.11.0", "X-Gitlab-Event: " + event, "X-Gitlab-Event-UUID: " + id,
                 "X-Gitlab-Webhook-UUID: 5b1c2e3d-0000-4000-8000-000000004242",
                 "X-Gitlab-Instance: https://gitlab.example.com"};
    if (!secret.empty()) d.headers.push_back("X-Gitlab-Token: " + secret);
  }
  return d;
}

// --- WebhookTest ---------------------------------------------------------------------

json WebhookTest::AddForgeRepo(const std::string& name, const std::string& url, const ForgeRepoInfo& info,
                               const std::string& secret, const json& extra) {
  json body = extra;
  body["forge"] = info.forge;
  body["full_name"] = info.full_name;
  body["webhook_secret"] = secret;
  if (info.forge == "gitlab" && !body.contains("project_id"))
    body["project_id"] = std::to_string(info.project_id);
  return AddRepo(name, url, body);
}

HttpReply WebhookTest::Deliver(const Delivery& delivery) const {
  return Api().WithoutToken().Send("POST", delivery.path, delivery.body, "application/json",
                                   delivery.headers);
}

int64_t WebhookTest::QueuedRun(const HttpReply& reply) {
  json j = reply.Json();
  if ((reply.status != 201 && reply.status != 202) || !j.is_object() || !j.contains("run") ||
      !j["run"].is_object() || !j["run"]["id"].is_number_integer()) {
    ADD_FAILURE() << "the delivery queued no run: " << reply;
    return 0;
  }
  return j["run"]["id"].get<int64_t>();
}

std::vector<json> WebhookTest::Runs(const std::string& query) const {
  HttpReply r = Api().Get("/api/v1/runs?limit=500" + (query.empty() ? "" : "&" + query));
  EXPECT_EQ(r.status, 200) << r;
  json j = r.Json();
  std::vector<json> runs;
  if (j.is_object() && j["runs"].is_array()) {
    for (const json& run : j["runs"]) runs.push_back(run);
  }
  return runs;
}

std::string WebhookTest::Output(int64_t id, const std::string& step) {
  std::string out = StepLog(id, step);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string OneStep(const std::string& command, const std::string& extra_step_yaml) {
  return "steps:\n  - name: check\n    image: busybox\n    commands: [" + Q(command) + "]\n" +
         extra_step_yaml;
}

}  // namespace slipway::testing
