// Deliveries an attacker can send: no signature, a signature made with
// another secret (another registered repository's too), a body changed after
// signing, a signature header that is not hex. Each is 401 and queues
// nothing. Also a repository nobody registered (404), bodies that are not
// what a forge sends (400), and one larger than the limit (413). The secret
// is in no answer and in no file of slipwayd's.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/testing/fixtures.h"
#include "tests/webhooks/e2e/webhook_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

const std::string kSecret = "the-right-secret-7f3a9c";
const std::string kOtherSecret = "the-other-repos-secret-0b1d";

class SignatureTest : public WebhookTest, public ::testing::WithParamInterface<std::string> {};

// `d` with every header named in `names` (case-insensitive prefix) removed.
Delivery Without(Delivery d, const std::vector<std::string>& names) {
  std::erase_if(d.headers, [&](const std::string& h) {
    for (const std::string& n : names) {
      if (h.size() > n.size() && strncasecmp(h.c_str(), n.c_str(), n.size()) == 0 && h[n.size()] == ':')
        return true;
    }
    return false;
  });
  return d;
}

// `d` with header `name` set to `value` (every copy the forge sends of it).
Delivery With(Delivery d, const std::vector<std::string>& names, const std::string& value) {
  d = Without(std::move(d), names);
  for (const std::string& n : names) d.headers.push_back(n + ": " + value);
  return d;
}

std::vector<std::string> SignatureHeaders(const std::string& forge) {
  if (forge == "github") return {"X-Hub-Signature-256"};
  if (forge == "gitea") return {"X-Gitea-Signature", "X-Gogs-Signature", "X-Hub-Signature-256"};
  return {"X-Gitlab-Token"};
}

TEST_P(SignatureTest, UnsignedOrMissignedDeliveriesAre401AndQueueNothing) {
  const std::string forge = GetParam();
  ForgeRepoInfo info{forge, "team/app"};
  ForgeRepoInfo other{forge, "team/other", 5151};
  PipelineRepo repo;
  std::string before = repo.Push(OneStep("true"));
  std::string after = repo.Push(OneStep("true"));
  ASSERT_FALSE(AddForgeRepo("app", repo.file_url(), info, kSecret).is_null());
  ASSERT_FALSE(AddForgeRepo("other", repo.file_url(), other, kOtherSecret).is_null());
  std::string body = PushPayload(info, "refs/heads/main", before, after).dump();
  std::vector<std::string> sig = SignatureHeaders(forge);

  struct Case {
    std::string what;
    Delivery delivery;
  };
  std::string tampered = body;
  tampered.replace(tampered.find(after), 40, before);  // run another commit under the same signature
  Delivery good = Sign(forge, "push", body, kSecret);
  std::vector<Case> cases = {
      {"no signature", Sign(forge, "push", body, "")},
      {"signed with another repository's secret", Sign(forge, "push", body, kOtherSecret)},
      {"an empty signature", With(good, sig, "")},
  };
  // GitLab's token signs nothing: a changed body with the right token is
  // authentic by GitLab's design (TLS protects it), so only GitHub and Gitea
  // can refuse it.
  if (forge != "gitlab") {
    Delivery d = good;
    d.body = tampered;
    cases.push_back({"the body changed after signing", d});
  }
  if (forge == "gitlab") {
    cases.push_back({"the secret with a byte more", With(good, sig, kSecret + "x")});
    cases.push_back({"a prefix of the secret", With(good, sig, kSecret.substr(0, 8))});
  } else {
    std::string mac = HmacHex(kSecret, body);
    std::string upper = mac;
    for (char& c : upper) c = static_cast<char>(toupper(c));
    std::string prefix = forge == "github" ? "sha256=" : "";
    cases.push_back({"the signature truncated", With(good, sig, prefix + mac.substr(0, 32))});
    cases.push_back({"not hex", With(good, sig, prefix + std::string(64, 'z'))});
    cases.push_back({"the SHA-1 form", With(good, sig, "sha1=" + mac.substr(0, 40))});
    cases.push_back({"the secret itself", With(good, sig, prefix + kSecret)});
    if (forge == "github") cases.push_back({"hex without sha256=", With(good, sig, mac)});
  }
  for (const Case& c : cases) {
    HttpReply r = Deliver(c.delivery);
    EXPECT_TRUE(IsApiError(r, 401, "unauthenticated")) << forge << ", " << c.what;
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << r;
    EXPECT_EQ(r.body.find(HmacHex(kSecret, body)), std::string::npos) << "the expected signature is in " << r;
  }
  EXPECT_TRUE(Runs().empty()) << Runs().size() << " runs were queued, e.g. " << Runs()[0].dump();

  // The same delivery properly signed runs (and a refused delivery's id was
  // not recorded as seen: it is not answered 200 as a duplicate).
  HttpReply ok = Deliver(good);
  EXPECT_TRUE(ok.status == 201 || ok.status == 202) << ok;
  int64_t id = QueuedRun(ok);
  ASSERT_GT(id, 0);
  EXPECT_EQ(Str(AwaitRun(id), "status"), "success");

  // The secrets are in no answer and no file (the database holds them sealed).
  for (const char* path : {"/api/v1/repos", "/api/v1/repos/app", "/api/v1/runs"}) {
    HttpReply r = Api().Get(path);
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << path << ": " << r;
  }
  EXPECT_TRUE(FilesContaining(daemon().data_dir(), kSecret).empty())
      << FilesContaining(daemon().data_dir(), kSecret)[0];
  EXPECT_EQ(daemon().Log().find(kSecret), std::string::npos) << "slipwayd's log holds the secret";
}

TEST_P(SignatureTest, UnknownRepositoryMalformedAndOversizedDeliveries) {
  const std::string forge = GetParam();
  ForgeRepoInfo info{forge, "team/app"};
  PipelineRepo repo;
  std::string commit = repo.Push(OneStep("true"));
  ASSERT_FALSE(AddForgeRepo("app", repo.file_url(), info, kSecret).is_null());

  // A repository nobody registered, signed with a secret of ours: 404.
  ForgeRepoInfo stranger{forge, "someone/else", 777};
  HttpReply r = Deliver(
      Sign(forge, "push", PushPayload(stranger, "refs/heads/main", kZeroCommit, commit).dump(), kSecret));
  EXPECT_TRUE(IsApiError(r, 404, "not_found")) << r;

  // Not JSON, not an object, a field of the wrong type or missing: 400.
  json missing_after = PushPayload(info, "refs/heads/main", kZeroCommit, commit);
  missing_after.erase("after");
  json bad_commit = PushPayload(info, "refs/heads/main", kZeroCommit, commit);
  bad_commit["after"] = "not-a-commit; rm -rf /";
  if (forge == "gitlab") bad_commit["checkout_sha"] = "not-a-commit; rm -rf /";
  json numeric_ref = PushPayload(info, "refs/heads/main", kZeroCommit, commit);
  numeric_ref["ref"] = 42;
  json bad_ref = PushPayload(info, "refs/heads/main", kZeroCommit, commit);
  bad_ref["ref"] = "refs/heads/../../etc";
  for (const std::string& body :
       {std::string("{\"ref\": \"refs/heads/main\", "), std::string("[1, 2, 3]"), std::string("\"push\""),
        missing_after.dump(), bad_commit.dump(), numeric_ref.dump(), bad_ref.dump()}) {
    HttpReply bad = Deliver(Sign(forge, "push", body, kSecret));
    EXPECT_TRUE(IsApiError(bad, 400, "invalid_argument")) << body.substr(0, 200);
  }

  // Larger than the limit (25 MiB by default): 413, whatever the signature.
  std::string huge = PushPayload(info, "refs/heads/main", kZeroCommit, commit).dump();
  huge.insert(huge.size() - 1, ", \"padding\": \"" + std::string(26u << 20, 'a') + "\"");
  Delivery d = Sign(forge, "push", huge, kSecret);
  HttpReply big = Api().WithoutToken().SendRaw("POST", d.path, d.body, [&] {
    auto h = d.headers;
    h.push_back("Content-Type: application/json");
    return h;
  }());
  EXPECT_EQ(big.status, 413) << big;

  EXPECT_TRUE(Runs().empty()) << Runs().size() << " runs were queued";
  // slipwayd still serves.
  EXPECT_EQ(Api().Get("/api/v1/info").status, 200);
}

INSTANTIATE_TEST_SUITE_P(Forges, SignatureTest, ::testing::Values("github", "gitea", "gitlab"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace slipway::testing
