#include "service/daemon/hello_world.h"

#include <unistd.h>

#include "engine/image/oci_archive.h"

namespace slipway::daemon {

Result<bool> ImportHelloWorld(ImageStore& store, const std::string& archive) {
  if (store.Resolve(kHelloWorldImage).ok()) return false;
  if (::access(archive.c_str(), F_OK) != 0) {
    if (errno == ENOENT) return false;
    return ErrnoStatus("access " + archive);
  }
  SLIPWAY_RETURN_IF_ERROR(LoadOciArchive(store, archive).status());
  if (!store.Resolve(kHelloWorldImage).ok())
    return FailedPrecondition(archive + " holds no image named " + kHelloWorldImage);
  return true;
}

}  // namespace slipway::daemon
