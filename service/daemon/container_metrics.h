// The container lifecycle's counts as slipwayd's metrics.
#pragma once

#include "engine/containers/observer.h"
#include "service/daemon/metrics.h"

namespace slipway::daemon {

class ContainerMetrics : public ContainerObserver {
 public:
  explicit ContainerMetrics(Metrics& metrics) : m_(metrics) {}
  void Started(const Container&) override { m_.sandboxes_started.Inc(); }
  void Exited(const Container& c) override {
    m_.sandboxes_exited.Inc();
    if (c.result && c.result->oom_killed) m_.sandboxes_oom_killed.Inc();
  }
  void Failed(const Container&) override { m_.sandboxes_failed.Inc(); }
  void Counts(int running, int queued) override {
    m_.sandboxes_running.Set(running);
    m_.sandboxes_queued.Set(queued);
  }

 private:
  Metrics& m_;
};

}  // namespace slipway::daemon
