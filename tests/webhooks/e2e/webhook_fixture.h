// Webhooks end to end: what GitHub, Gitea and GitLab send, signed and
// POSTed to a real slipwayd (tests/pipelines/e2e/pipeline_fixture.h) for
// real git repositories. Commit statuses are recorded by
// tests/testing/forge_standin.h.
//
// Deliveries are built in each forge's documented format, independently of
// webhooks/ (the parsers under test): the bodies below carry the fields the
// forges send (GitHub "push" and "pull_request" event payloads, Gitea's
// GitHub-like ones, GitLab's "Push Hook", "Tag Push Hook" and "Merge Request
// Hook"), and the headers the forges set, signatures computed here with
// OpenSSL's HMAC:
//   GitHub  X-GitHub-Event, X-GitHub-Delivery, X-GitHub-Hook-ID,
//           X-Hub-Signature-256 "sha256=<hex>", User-Agent GitHub-Hookshot/...
//   Gitea   X-Gitea-Event, X-Gitea-Event-Type, X-Gitea-Delivery,
//           X-Gitea-Signature "<hex>", and the X-Gogs-*/X-GitHub-*/
//           X-Hub-Signature-256 copies Gitea sends too
//   GitLab  X-Gitlab-Event, X-Gitlab-Event-UUID, X-Gitlab-Token (the
//           secret itself), X-Gitlab-Instance, X-Gitlab-Webhook-UUID
// The contract tested is issue 13's and docs/api.md's ("Webhooks"):
//   POST /hooks/<forge> (no control token): 200 ping or duplicate;
//   201/202 queued, {"run": {...}}; 202 ignored (nothing queued); 401 bad
//   or missing signature; 404 no such repository; 400 malformed; 413 too
//   large.
//   POST /api/v1/repos takes "forge", "full_name", "webhook_secret",
//   "status_api", "status_token", "project_id", "cancel_superseded".
//   A run's JSON gains "pull_request", "head_ref", "no_secrets",
//   "superseded_by"; its event is push, tag or pull_request.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/pipelines/e2e/pipeline_fixture.h"

namespace slipway::testing {

// How a forge names one repository in its deliveries.
struct ForgeRepoInfo {
  std::string forge;          // "github", "gitea", "gitlab"
  std::string full_name;      // "team/app" (GitLab: path_with_namespace)
  int64_t project_id = 4242;  // GitLab's project id (also a number on GitHub/Gitea)
};

// One delivery as the forge would POST it.
struct Delivery {
  std::string path;                  // "/hooks/github"
  std::vector<std::string> headers;  // "Name: value", signature included
  std::string body;
};

// Hex of HMAC-SHA256(key, data), computed here (OpenSSL), not by webhooks/.
std::string HmacHex(const std::string& key, const std::string& data);
// A fresh random id in the forge's form (a GUID).
std::string NewDeliveryId();
constexpr char kZeroCommit[] = "0000000000000000000000000000000000000000";

// Bodies in the forges' formats. `ref` is a full ref ("refs/heads/main",
// "refs/tags/v1"); `before`/`after` commit ids (after = kZeroCommit: a
// deletion).
nlohmann::json PushPayload(const ForgeRepoInfo& repo, const std::string& ref, const std::string& before,
                           const std::string& after, const std::string& message = "a change");
// A pull (merge) request `action` ("opened", "synchronize"; GitLab "open",
// "update") of number `number` from branch `head_branch` at `head_sha`
// into `base_branch`; from the fork `fork_full_name` if not empty.
nlohmann::json PullRequestPayload(const ForgeRepoInfo& repo, int64_t number, const std::string& action,
                                  const std::string& base_branch, const std::string& head_branch,
                                  const std::string& head_sha, const std::string& fork_full_name = "");
// GitHub's ping (sent when a hook is made).
nlohmann::json PingPayload(const ForgeRepoInfo& repo);

// The event header's value for a payload kind ("push", "tag", "pull_request",
// "ping") as `forge` names it (GitLab: "Push Hook", "Tag Push Hook",
// "Merge Request Hook").
std::string EventHeader(const std::string& forge, const std::string& kind);

// `body` signed with `secret` as `forge` signs it ("" secret: no signature
// header at all), with the delivery id `id` (NewDeliveryId() if empty).
Delivery Sign(const std::string& forge, const std::string& kind, const std::string& body,
              const std::string& secret, std::string id = "");

// A pipeline test whose repositories are on a forge: registered with a
// webhook secret, triggered by deliveries.
class WebhookTest : public PipelineTest {
 protected:
  // POST /api/v1/repos with the forge fields of `info` and `secret` (plus
  // `extra`): the repository's JSON (null and a failure unless 201).
  nlohmann::json AddForgeRepo(const std::string& name, const std::string& url, const ForgeRepoInfo& info,
                              const std::string& secret,
                              const nlohmann::json& extra = nlohmann::json::object());
  // POSTs a delivery to slipwayd's webhook address, without the control token.
  HttpReply Deliver(const Delivery& delivery) const;
  // The id of the run a delivery's answer queued ({"run": {"id"}}), 0 and a
  // failure unless the answer is 201/202 with a run.
  static int64_t QueuedRun(const HttpReply& reply);
  // GET /api/v1/runs?limit=500 (and `query`): the runs, newest first.
  std::vector<nlohmann::json> Runs(const std::string& query = "") const;
  // The step log of a run's step, with trailing newlines removed.
  std::string Output(int64_t id, const std::string& step);
};

// A one-step pipeline running `command` in busybox.
std::string OneStep(const std::string& command, const std::string& extra_step_yaml = "");

}  // namespace slipway::testing
