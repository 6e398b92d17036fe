// A BlobSink that keeps what it was given and counts Reset() calls, so tests
// can see that a retried or failed download started over.
#pragma once

#include <string>
#include <string_view>

#include "engine/registry/client.h"

namespace slipway::testing {

class RecordingSink : public BlobSink {
 public:
  Status Write(std::string_view d) override {
    data.append(d);
    return Status::Ok();
  }
  Status Reset() override {
    ++resets;
    data.clear();
    return Status::Ok();
  }
  std::string data;
  int resets = 0;
};

}  // namespace slipway::testing
