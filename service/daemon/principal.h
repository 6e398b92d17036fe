// Principal: who a request is, resolved once from its head (auth.h) before
// its body is read, and what that identity may do (docs/dashboard.md, "Who
// may do what"). Plain data: the connection table keeps the one of the
// request it is reading, handlers see it in api::Request.
#pragma once

#include <string>

namespace slipway::daemon {

struct Principal {
  enum class Role {
    kNone,     // no credential, or a wrong one
    kRead,     // an access token of scope read, or anyone when reading is public
    kOperate,  // an access token of scope operate
    kAdmin,    // the control token
  };
  Role role = Role::kNone;
  std::string name;          // the access token's name; "control"; "" for anonymous
  bool anonymous = false;    // kRead without a credential (dashboard_public_read)
  bool cookie = false;       // authenticated by the session cookie (CSRF applies)
  std::string token_sha256;  // an access token's hash (its CSRF value, its revocation); "" otherwise

  bool authenticated() const { return role != Role::kNone && !anonymous; }
};

// "none", "read", "operate", "admin".
inline const char* RoleName(Principal::Role role) {
  switch (role) {
    case Principal::Role::kRead: return "read";
    case Principal::Role::kOperate: return "operate";
    case Principal::Role::kAdmin: return "admin";
    default: return "none";
  }
}

}  // namespace slipway::daemon
