#include "tests/engine/image/image_store_parts.h"

#include <gtest/gtest.h>

#include "engine/base/database.h"

namespace slipway::testing {

namespace {

template <typename T>
std::unique_ptr<T> OrFail(Result<std::unique_ptr<T>> part, const std::string& path) {
  EXPECT_TRUE(part.ok()) << path << ": " << part.status().message();
  return part.ok() ? std::move(part).value() : nullptr;
}

}  // namespace

ImageStoreParts OpenImageStoreParts(const std::string& root) {
  ImageStoreParts parts;
  parts.content = OrFail(ContentStore::Open(root + "/content"), root + "/content");
  parts.snapshots = OrFail(SnapshotStore::Open(root + "/snapshots"), root + "/snapshots");
  std::string db = root + "/" + kDatabaseFileName;
  parts.metadata = OrFail(Metadata::Open(db), db);
  return parts;
}

}  // namespace slipway::testing
