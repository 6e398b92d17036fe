// EndSignal: shared by everyone waiting for one container to end.
//
// It fires once, with the container as it ended, and stays fired. The
// container is "settled" once whatever follows its end is done too (with
// auto_remove: its removal, which waits for its log readers to finish).
//
// An EndSignal holds no file descriptor: an ended container kept until `rm`
// costs a little memory and nothing else, however many there are. A poll
// loop that needs the end as a descriptor takes an EndWatch for as long as it
// waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/containers/container.h"

namespace slipway {

class EndSignal {
 public:
  // The first call records `c` and wakes every waiter; later calls do nothing.
  void Fire(const Container& c);
  bool fired() const;
  // The container as it ended, once fired.
  std::optional<Container> final() const;
  // Waits up to `timeout`; true once fired.
  bool AwaitFired(std::chrono::milliseconds timeout) const;

  void Settle();
  void AwaitSettled() const;
  // Waits up to `timeout`; true once settled.
  bool AwaitSettled(std::chrono::milliseconds timeout) const;

 private:
  friend class EndWatch;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // fired or settled
  std::optional<Container> final_;
  bool settled_ = false;
  std::vector<int> watch_fds_;  // eventfds of the EndWatches now open
};

// An eventfd that becomes readable (and stays so) once `signal` fires, at
// once if it has; for poll() loops. It is closed, and forgotten by the
// signal, when the watch goes.
class EndWatch {
 public:
  static Result<EndWatch> Open(std::shared_ptr<EndSignal> signal);
  EndWatch(EndWatch&&) = default;
  EndWatch& operator=(EndWatch&&) = delete;
  ~EndWatch();
  int fd() const { return fd_.get(); }

 private:
  EndWatch(std::shared_ptr<EndSignal> signal, UniqueFd fd) : signal_(std::move(signal)), fd_(std::move(fd)) {}
  std::shared_ptr<EndSignal> signal_;
  UniqueFd fd_;
};

}  // namespace slipway
