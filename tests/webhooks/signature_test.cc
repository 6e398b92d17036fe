// Delivery verification as each forge signs: HMAC-SHA256 over the raw body
// (GitHub "sha256=<hex>", Gitea bare hex) and GitLab's token. Decisions:
// hex digits in either case are accepted (the bytes are what is compared);
// the "sha256=" prefix must be exactly that; no other header is a fallback.
#include "webhooks/signature.h"

#include <gtest/gtest.h>

#include "engine/base/ascii.h"

namespace slipway::webhooks {
namespace {

constexpr char kSecret[] = "It's a Secret to Everybody";
constexpr char kBody[] = "Hello, World!";

// GitHub's documented test vector ("Validating webhook deliveries").
TEST(SignatureTest, HmacMatchesGitHubsDocumentedExample) {
  EXPECT_EQ(HmacSha256Hex(kSecret, kBody),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

// RFC 4231 test case 2.
TEST(SignatureTest, HmacMatchesRfc4231) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

std::string Sig() {
  return HmacSha256Hex(kSecret, kBody);
}

TEST(SignatureTest, GitHubGoodSignature) {
  Headers h = {{"x-hub-signature-256", "sha256=" + Sig()}};
  EXPECT_TRUE(VerifyDelivery(Forge::kGitHub, h, kBody, kSecret).ok());
}

TEST(SignatureTest, GitHubUppercaseHexIsTheSameSignature) {
  Headers h = {{"x-hub-signature-256", "sha256=" + Upper(Sig())}};
  EXPECT_TRUE(VerifyDelivery(Forge::kGitHub, h, kBody, kSecret).ok());
}

void ExpectRefused(Forge forge, const Headers& h, const std::string& body, const std::string& secret,
                   const std::string& message) {
  Status st = VerifyDelivery(forge, h, body, secret);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kUnauthenticated);
  EXPECT_EQ(st.message(), message);
  // Never the secret, the expected signature, or what was received.
  if (!secret.empty()) EXPECT_EQ(st.message().find(secret), std::string::npos);
  EXPECT_EQ(st.message().find(HmacSha256Hex(secret, body).substr(0, 8)), std::string::npos);
  for (const auto& [name, value] : h) {
    if (value.size() >= 8) EXPECT_EQ(st.message().find(value), std::string::npos);
  }
}

TEST(SignatureTest, GitHubRefusals) {
  std::string sig = Sig();
  ExpectRefused(Forge::kGitHub, {}, kBody, kSecret, "X-Hub-Signature-256 is missing");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", ""}}, kBody, kSecret,
                "X-Hub-Signature-256 is missing");
  // GitHub's old SHA-1 header is not enough.
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature", "sha1=" + std::string(40, 'a')}}, kBody, kSecret,
                "X-Hub-Signature-256 is missing");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", sig}}, kBody, kSecret,
                "X-Hub-Signature-256 is not of the form sha256=<hex>");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "SHA256=" + sig}}, kBody, kSecret,
                "X-Hub-Signature-256 is not of the form sha256=<hex>");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha1=" + sig}}, kBody, kSecret,
                "X-Hub-Signature-256 is not of the form sha256=<hex>");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256=" + sig.substr(0, 63)}}, kBody, kSecret,
                "signature does not match");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256=" + sig + "00"}}, kBody, kSecret,
                "signature does not match");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256=" + sig.substr(0, 32)}}, kBody, kSecret,
                "signature does not match");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256="}}, kBody, kSecret,
                "signature does not match");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256= " + sig.substr(1)}}, kBody, kSecret,
                "signature does not match");
  std::string flipped = sig;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256=" + flipped}}, kBody, kSecret,
                "signature does not match");
  // Non-hex with the right length: 'g' must not decode as some nibble.
  std::string nonhex = sig;
  nonhex[0] = 'g';
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256=" + nonhex}}, kBody, kSecret,
                "signature does not match");
  // Another body, the same signature; another secret.
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256=" + sig}}, "Hello, World?", kSecret,
                "signature does not match");
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256=" + sig}}, kBody, "another secret",
                "signature does not match");
}

TEST(SignatureTest, NonHexThatDecodesLikeTheSignatureIsRefused) {
  // A lenient decoder that masked invalid digits could turn these into the
  // expected bytes; each digit must be a real hex digit.
  std::string sig = Sig();
  for (size_t i = 0; i < sig.size(); i += 7) {
    for (char bad : {'g', 'G', 'z', ':', '/', '@', '`', ' ', '\0'}) {
      std::string s = sig;
      s[i] = bad;
      Status st = VerifyDelivery(Forge::kGitea, {{"x-gitea-signature", s}}, kBody, kSecret);
      EXPECT_FALSE(st.ok()) << i << " " << int(bad);
    }
  }
}

TEST(SignatureTest, GiteaGoodAndBad) {
  EXPECT_TRUE(VerifyDelivery(Forge::kGitea, {{"x-gitea-signature", Sig()}}, kBody, kSecret).ok());
  ExpectRefused(Forge::kGitea, {}, kBody, kSecret, "X-Gitea-Signature is missing");
  // Gitea's header is bare hex: GitHub's prefix makes it another value.
  ExpectRefused(Forge::kGitea, {{"x-gitea-signature", "sha256=" + Sig()}}, kBody, kSecret,
                "signature does not match");
  // Gitea also sends X-Hub-Signature-256; only its own header counts.
  ExpectRefused(Forge::kGitea, {{"x-hub-signature-256", "sha256=" + Sig()}}, kBody, kSecret,
                "X-Gitea-Signature is missing");
  ExpectRefused(Forge::kGitea, {{"x-gitea-signature", Sig().substr(2)}}, kBody, kSecret,
                "signature does not match");
}

TEST(SignatureTest, GitLabToken) {
  EXPECT_TRUE(VerifyDelivery(Forge::kGitLab, {{"x-gitlab-token", kSecret}}, kBody, kSecret).ok());
  ExpectRefused(Forge::kGitLab, {}, kBody, kSecret, "X-Gitlab-Token is missing");
  ExpectRefused(Forge::kGitLab, {{"x-gitlab-token", "It's a Secret to Everybod"}}, kBody, kSecret,
                "X-Gitlab-Token does not match");
  ExpectRefused(Forge::kGitLab, {{"x-gitlab-token", std::string(kSecret) + " "}}, kBody, kSecret,
                "X-Gitlab-Token does not match");
  ExpectRefused(Forge::kGitLab, {{"x-gitlab-token", "it's a secret to everybody"}}, kBody, kSecret,
                "X-Gitlab-Token does not match");
  std::string with_nul = std::string(kSecret) + std::string(1, '\0');
  ExpectRefused(Forge::kGitLab, {{"x-gitlab-token", with_nul}}, kBody, kSecret,
                "X-Gitlab-Token does not match");
  // The token is the secret itself, not an HMAC of the body.
  ExpectRefused(Forge::kGitLab, {{"x-gitlab-token", Sig()}}, kBody, kSecret, "X-Gitlab-Token does not match");
}

TEST(SignatureTest, AnEmptySecretVerifiesNothing) {
  std::string empty_sig = HmacSha256Hex("", kBody);
  ExpectRefused(Forge::kGitHub, {{"x-hub-signature-256", "sha256=" + empty_sig}}, kBody, "",
                "the repository has no webhook secret");
  ExpectRefused(Forge::kGitLab, {{"x-gitlab-token", ""}}, kBody, "", "the repository has no webhook secret");
}

TEST(SignatureTest, EmptyAndBinaryBodies) {
  std::string body("\0\xff{}\n", 5);
  Headers h = {{"x-hub-signature-256", "sha256=" + HmacSha256Hex(kSecret, body)}};
  EXPECT_TRUE(VerifyDelivery(Forge::kGitHub, h, body, kSecret).ok());
  EXPECT_FALSE(VerifyDelivery(Forge::kGitHub, h, body.substr(0, 4), kSecret).ok());
  Headers e = {{"x-gitea-signature", HmacSha256Hex(kSecret, "")}};
  EXPECT_TRUE(VerifyDelivery(Forge::kGitea, e, "", kSecret).ok());
}

TEST(SignatureTest, NewWebhookSecretsAre64HexDigitsAndDiffer) {
  std::string a = NewWebhookSecret();
  std::string b = NewWebhookSecret();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_TRUE(IsLowerHex(a));
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace slipway::webhooks
