#include "pipelines/libgit2.h"

#include <mutex>

namespace slipway::pipelines {

void InitLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    // Objects, packs and refs are fsync'ed as git does with core.fsync: a
    // mirror renamed into place, or a ref moved, survives a power loss with
    // what it points to.
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
    for (int level : {GIT_CONFIG_LEVEL_PROGRAMDATA, GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG,
                      GIT_CONFIG_LEVEL_GLOBAL}) {
      git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
    }
  });
}

std::string GitErrorMessage() {
  const git_error* e = git_error_last();
  return e && e->message && *e->message ? e->message : "unknown libgit2 error";
}

std::string OidHex(const git_oid& oid) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &oid);
  return hex;
}

}  // namespace slipway::pipelines
