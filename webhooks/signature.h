// Whether a delivery comes from the forge: the repository's webhook secret
// against what the delivery carries. GitHub: X-Hub-Signature-256
// "sha256=<hex HMAC-SHA256(secret, raw body)>"; Gitea: X-Gitea-Signature
// "<hex HMAC-SHA256(secret, raw body)>"; GitLab: X-Gitlab-Token equal to the
// secret. Every comparison takes the same time whatever the input
// (CRYPTO_memcmp over equal lengths). Pure: no I/O.
#pragma once

#include <string>
#include <string_view>

#include "engine/base/status.h"
#include "webhooks/forge_event.h"

namespace slipway::webhooks {

// Ok if the delivery is authentic. kUnauthenticated otherwise, saying why
// ("X-Hub-Signature-256 is missing", "signature does not match") and never
// the secret, the expected value or the received one.
Status VerifyDelivery(Forge forge, const Headers& headers, std::string_view body, std::string_view secret);

// Lowercase hex of HMAC-SHA256(key, data): what GitHub and Gitea sign with
// (tests and the bench sign their deliveries with it too).
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// A new webhook secret: 32 random bytes as 64 hex digits.
std::string NewWebhookSecret();

}  // namespace slipway::webhooks
