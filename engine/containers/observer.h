// What the container lifecycle tells its owner as containers move through
// their states, for counting (slipwayd's metrics). Called from the
// lifecycle's own threads, never under its locks; keep it quick.
#pragma once

#include "engine/containers/container.h"

namespace slipway {

class ContainerObserver {
 public:
  virtual ~ContainerObserver() = default;
  virtual void Started(const Container& c) {}
  virtual void Exited(const Container& c) {}  // c.result is set
  virtual void Failed(const Container& c) {}  // could not be started
  // After every change of either count (called under the start queue's lock).
  virtual void Counts(int running, int queued) {}
};

}  // namespace slipway
