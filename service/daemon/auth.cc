#include "service/daemon/auth.h"

#include "engine/base/ascii.h"
#include "engine/base/fs.h"
#include "service/daemon/api_routes.h"
#include "service/daemon/token.h"
#include "webhooks/signature.h"

namespace slipway::daemon::api {

namespace {

// The token of "Bearer <token>" (scheme without case), or "".
std::string_view BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size() || Lower(header.substr(0, kScheme.size())) != kScheme) return {};
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Principal FromToken(const AccessToken& token, bool cookie) {
  Principal p;
  p.role = token.scope == Scope::kOperate ? Principal::Role::kOperate : Principal::Role::kRead;
  p.name = token.name;
  p.cookie = cookie;
  p.token_sha256 = token.sha256;
  return p;
}

}  // namespace

Authenticator::Authenticator(std::string control_token, AccessTokens* tokens, bool public_read)
    : control_token_(std::move(control_token)),
      tokens_(tokens),
      public_read_(public_read),
      csrf_key_(RandomHex(32)) {}

Principal Authenticator::Resolve(std::optional<std::string_view> authorization,
                                 const std::vector<std::string>& session_cookies) const {
  Principal p;
  if (authorization) {
    if (TokenMatches(control_token_, *authorization)) {
      p.role = Principal::Role::kAdmin;
      p.name = "control";
    } else if (tokens_) {
      if (auto token = tokens_->Authenticate(BearerToken(*authorization))) p = FromToken(*token, false);
    }
    return p;
  }
  if (tokens_) {
    for (const std::string& value : session_cookies) {
      if (auto token = tokens_->Authenticate(value)) return FromToken(*token, true);
    }
  }
  if (public_read_) {
    p.role = Principal::Role::kRead;
    p.anonymous = true;
  }
  return p;
}

std::string Authenticator::Csrf(const Principal& principal) const {
  if (principal.token_sha256.empty()) return "";
  return webhooks::HmacSha256Hex(csrf_key_, principal.token_sha256);
}

bool Authenticator::CsrfMatches(const Principal& principal, std::string_view header) const {
  const std::string expected = Csrf(principal);
  return !expected.empty() && ConstantTimeEqual(expected, header);
}

bool Authenticator::Permits(const Principal& principal, unsigned route_flags, std::string_view method) {
  switch (principal.role) {
    case Principal::Role::kAdmin: return true;
    case Principal::Role::kOperate:
      if (route_flags & kOperate) return true;
      [[fallthrough]];
    case Principal::Role::kRead: return (route_flags & kRead) && (method == "GET" || method == "HEAD");
    default: return false;
  }
}

bool Authenticator::SameOrigin(std::string_view origin, std::string_view host) {
  std::string_view rest;
  if (origin.starts_with("http://")) {
    rest = origin.substr(7);
  } else if (origin.starts_with("https://")) {
    rest = origin.substr(8);
  } else {
    return false;
  }
  if (rest.empty() || host.empty() || rest.find_first_of("/?#@") != std::string_view::npos) return false;
  return Lower(rest) == Lower(host);
}

}  // namespace slipway::daemon::api
