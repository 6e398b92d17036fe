// Resolves `-u USER[:GROUP]` against the image's own /etc/passwd and
// /etc/group, as Docker does: names or numbers, supplementary groups from
// /etc/group, HOME from /etc/passwd. Files are read inside each layer with
// openat2(RESOLVE_IN_ROOT), so an image's symlinks never lead to host files.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "engine/base/status.h"

namespace slipway {

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::string home;  // empty if the user has no passwd entry
};

// `layers` are the image's layer directories, topmost first; an empty `user`
// means root. A name that the image does not know is an error; a number is
// taken as is.
Result<ResolvedUser> ResolveUser(const std::vector<std::string>& layers, const std::string& user);

}  // namespace slipway
