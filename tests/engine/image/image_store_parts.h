// White-box access for tests: the parts an ImageStore keeps under its root
// (content store, snapshots, metadata), opened on their own at the layout
// engine/image/image_store.h documents, to check what a store operation left
// on disk or to damage it on purpose. ImageStore itself hands out none of
// them; production code goes through its methods.
#pragma once

#include <memory>
#include <string>

#include "engine/image/content_store.h"
#include "engine/image/metadata.h"
#include "engine/image/snapshots.h"

namespace slipway::testing {

struct ImageStoreParts {
  std::unique_ptr<ContentStore> content;
  std::unique_ptr<SnapshotStore> snapshots;
  std::unique_ptr<Metadata> metadata;
};

// The parts of the image store at `root` (which must exist). Fails the
// current test, and leaves the part null, if one cannot be opened.
ImageStoreParts OpenImageStoreParts(const std::string& root);

}  // namespace slipway::testing
