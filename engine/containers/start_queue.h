// StartQueue: which container starts next, and how many may run at once.
//
// Containers asked to run wait here, oldest first, until one of
// `max_running` slots is free. A slot is taken when a container leaves the
// queue to start (or when a running sandbox is adopted after a restart) and
// given back when it ends. Only ids move through here: the caller keeps the
// records and does the starting. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "engine/base/status.h"

namespace slipway {

class StartQueue {
 public:
  // Told the new counts after every change, under the queue's lock: keep it
  // short (a gauge update).
  using CountsChanged = std::function<void(int running, int queued)>;

  StartQueue(int max_running, int max_queued, CountsChanged on_change = nullptr);

  // Appends `id`. kResourceExhausted if `max_queued` wait already,
  // kUnavailable once closed.
  Status Push(const std::string& id);
  // Appends `id`, which was queued before a restart, whatever the limit.
  void Restore(const std::string& id);
  // Takes `id` out of the queue; false if it is not waiting.
  bool Remove(const std::string& id);

  // Blocks until a container may start (one waits and a slot is free), takes
  // the slot and returns its id; nullopt once Close() was called.
  std::optional<std::string> Next();
  // A slot taken by a sandbox that is already running (adopted).
  void TakeSlot();
  // Takes a slot for a container that starts at once, without queueing:
  // only if one is free and nobody waits (a queued container is never
  // overtaken). False otherwise, and once closed.
  bool TryTakeSlot();
  // A slot given back: its container ended or failed to start.
  void ReleaseSlot();
  // Next() returns nullopt from now on; waiting ids stay (the caller's
  // records keep them queued for the next start).
  void Close();

  int running() const;
  int queued() const;

 private:
  void ChangedLocked();

  const int max_running_, max_queued_;
  const CountsChanged on_change_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> waiting_;  // oldest first
  int running_ = 0;
  bool closed_ = false;
};

}  // namespace slipway
