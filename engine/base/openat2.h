// openat2(2), which glibc does not wrap, as a plain system call.
//
// For opening a path inside a tree that must not be escaped (an image's
// rootfs, a layer, a build context): the RESOLVE_* flags of
// <linux/openat2.h> make the kernel keep the lookup below `dirfd`, which a
// string check of the path cannot do against symlinks and "..".
#pragma once

#include <cstdint>

namespace slipway {

// openat2(dirfd, path, {flags, mode, resolve}). Returns the new fd, or -1
// with errno set, like open(2); the caller names the call and the path in
// its error. Retried on EINTR and on EAGAIN (a concurrent rename or mount
// made the kernel give up on a RESOLVE_IN_ROOT/RESOLVE_BENEATH lookup, which
// it asks to retry); so RESOLVE_CACHED, which fails with EAGAIN whenever the
// lookup is not cached, is not for this function.
//
// Allocates nothing and takes no lock: safe in a sandbox child between clone
// and execve.
int Openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve);

}  // namespace slipway
