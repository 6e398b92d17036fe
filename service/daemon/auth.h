// Authenticator: who a request is (a Principal) from its Authorization
// header and session cookie, and the checks the API server makes with it:
// the route's scope, the CSRF header of cookie-authenticated changes, the
// Origin of cookie-authenticated requests (docs/dashboard.md). No Pistache
// here: api_server.cc hands in the header values.
//
// Resolution, in this order: an Authorization header decides alone (the
// control token is admin; an access token its scope; anything else, none:
// a wrong credential is 401 even where reading is public); else a
// `slipway_session` cookie holding an access token (a stale one counts as
// no cookie); else anonymous `read` if reading is public; else none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/daemon/access_tokens.h"
#include "service/daemon/principal.h"

namespace slipway::daemon::api {

// The session cookie's name.
inline constexpr char kSessionCookie[] = "slipway_session";
// The header cookie-authenticated state changes carry.
inline constexpr char kCsrfHeader[] = "X-Slipway-CSRF";

class Authenticator {
 public:
  // `tokens` may be null (only the control token then); it outlives this.
  Authenticator(std::string control_token, AccessTokens* tokens, bool public_read);

  Principal Resolve(std::optional<std::string_view> authorization,
                    const std::vector<std::string>& session_cookies) const;

  // The CSRF value of a cookie session: HMAC-SHA256 of the token's hash
  // under a key made when slipwayd starts. "" for what is not an access token.
  std::string Csrf(const Principal& principal) const;
  // Compared in constant time.
  bool CsrfMatches(const Principal& principal, std::string_view header) const;

  // Whether `principal` may call a route with these flags (api_routes.h,
  // kRead and kOperate) with `method`. Admin may call everything.
  static bool Permits(const Principal& principal, unsigned route_flags, std::string_view method);

  // Whether an Origin header's value names the origin of `host` (the Host
  // header): "http(s)://" + host, compared without case. "null" and
  // anything malformed are foreign.
  static bool SameOrigin(std::string_view origin, std::string_view host);

  AccessTokens* tokens() const { return tokens_; }
  bool public_read() const { return public_read_; }

 private:
  const std::string control_token_;
  AccessTokens* const tokens_;
  const bool public_read_;
  const std::string csrf_key_;
};

}  // namespace slipway::daemon::api
