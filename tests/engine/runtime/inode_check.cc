// inode-check DIR...: for every entry of each DIR, compares the inode number
// readdir gives (d_ino) with the one fstatat gives (st_ino), as CPython's
// DirEntry.inode() and os.stat() would. Mount points (statx says
// STATX_ATTR_MOUNT_ROOT; their st_ino is the mounted root's) are skipped.
// Not compared by st_dev: on an overlay without xino, files report their
// layer's device, which is the fault this looks for.
// Prints one line per mismatch; exits 0 if none, 1 if any, 2 on an error.
//
// Linked statically: it runs inside sandboxes whose images have no libc.
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

int main(int argc, char** argv) {
  int result = 0;
  for (int i = 1; i < argc; ++i) {
    DIR* dir = ::opendir(argv[i]);
    if (dir == nullptr) {
      std::fprintf(stderr, "opendir %s: %s\n", argv[i], ::strerror(errno));
      return 2;
    }
    int checked = 0;
    while (dirent* e = ::readdir(dir)) {
      if (::strcmp(e->d_name, ".") == 0 || ::strcmp(e->d_name, "..") == 0) continue;
      struct statx st;
      if (::statx(::dirfd(dir), e->d_name, AT_SYMLINK_NOFOLLOW, STATX_INO, &st) != 0) {
        std::fprintf(stderr, "statx %s/%s: %s\n", argv[i], e->d_name, ::strerror(errno));
        return 2;
      }
      if (st.stx_attributes_mask & st.stx_attributes & STATX_ATTR_MOUNT_ROOT) continue;
      ++checked;
      if (st.stx_ino != e->d_ino) {
        std::printf("%s/%s d_ino=%llu st_ino=%llu\n", argv[i], e->d_name,
                    static_cast<unsigned long long>(e->d_ino), static_cast<unsigned long long>(st.stx_ino));
        result = 1;
      }
    }
    ::closedir(dir);
    // A directory with nothing to compare proves nothing.
    if (checked == 0) {
      std::fprintf(stderr, "%s: no entry but mount points to compare\n", argv[i]);
      return 2;
    }
  }
  return result;
}
