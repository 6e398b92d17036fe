#include "webhooks/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#include "engine/base/ascii.h"
#include "webhooks/forge_event.h"

namespace slipway::webhooks {
namespace {

using Digest = std::array<unsigned char, 32>;

Digest HmacSha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  // HMAC() fails only when memory runs out. Going on with a zeroed digest
  // would make an all-zero signature valid, so a failure is fatal.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len) == nullptr ||
      len != out.size()) {
    std::fputs("slipway: HMAC-SHA256 failed\n", stderr);
    std::abort();
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `hex` decoded into 32 bytes. Whether it was 64 hex digits is returned
// apart, and the comparison runs over 32 bytes either way: the time it
// takes does not depend on the expected value. Hex in either case is
// accepted (both forges send lowercase; a case difference is no forgery).
bool DecodeDigest(std::string_view hex, Digest& out) {
  out.fill(0);
  bool ok = hex.size() == 2 * out.size();
  for (size_t i = 0; i < out.size() && 2 * i + 1 < hex.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    ok = ok && hi >= 0 && lo >= 0;
    out[i] = static_cast<unsigned char>(((hi & 15) << 4) | (lo & 15));
  }
  return ok;
}

Status Mismatch() {
  return Status(Code::kUnauthenticated, "signature does not match");
}

Status VerifyHmac(const Headers& headers, const char* header, const char* display, std::string_view prefix,
                  std::string_view body, std::string_view secret) {
  auto it = headers.find(header);
  if (it == headers.end() || it->second.empty()) {
    return Status(Code::kUnauthenticated, std::string(display) + " is missing");
  }
  std::string_view value = it->second;
  if (value.substr(0, prefix.size()) != prefix) {
    return Status(Code::kUnauthenticated,
                  std::string(display) + " is not of the form " + std::string(prefix) + "<hex>");
  }
  value.remove_prefix(prefix.size());
  Digest expected = HmacSha256(secret, body);
  Digest received{};
  bool well_formed = DecodeDigest(value, received);
  bool equal = CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
  OPENSSL_cleanse(expected.data(), expected.size());
  if (!well_formed || !equal) return Mismatch();
  return Status::Ok();
}

// GitLab sends the secret itself. Both sides are hashed first, so the
// comparison covers 32 bytes whatever their lengths, and neither the
// secret's length nor its bytes show in the time taken.
Status VerifyToken(const Headers& headers, std::string_view secret) {
  auto it = headers.find("x-gitlab-token");
  if (it == headers.end() || it->second.empty()) {
    return Status(Code::kUnauthenticated, "X-Gitlab-Token is missing");
  }
  // A fixed HMAC key: SHA-256 would do, HMAC is already at hand.
  constexpr std::string_view kKey = "slipway gitlab token";
  Digest expected = HmacSha256(kKey, secret);
  Digest received = HmacSha256(kKey, it->second);
  bool equal = CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
  OPENSSL_cleanse(expected.data(), expected.size());
  if (!equal) return Status(Code::kUnauthenticated, "X-Gitlab-Token does not match");
  return Status::Ok();
}

}  // namespace

Status VerifyDelivery(Forge forge, const Headers& headers, std::string_view body, std::string_view secret) {
  // An empty secret would make every "signature" of an empty key valid.
  if (secret.empty()) return Status(Code::kUnauthenticated, "the repository has no webhook secret");
  switch (forge) {
    case Forge::kGitHub:
      return VerifyHmac(headers, "x-hub-signature-256", "X-Hub-Signature-256", "sha256=", body, secret);
    case Forge::kGitea:
      // Forgejo sends the same value as X-Forgejo-Signature and X-Gitea-Signature.
      return VerifyHmac(headers, "x-gitea-signature", "X-Gitea-Signature", "", body, secret);
    case Forge::kGitLab: return VerifyToken(headers, secret);
  }
  return Status(Code::kUnauthenticated, "unknown forge");
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  Digest d = HmacSha256(key, data);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string NewWebhookSecret() {
  std::array<unsigned char, 32> bytes{};
  // Without randomness there is no secret worth handing out: fatal, as an
  // allocation failure would be.
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    std::fputs("slipway: RAND_bytes failed\n", stderr);
    std::abort();
  }
  std::string hex = HexEncode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return hex;
}

}  // namespace slipway::webhooks
