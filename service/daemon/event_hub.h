// EventHub: the run and step changes GET /api/v1/events streams to the
// dashboard (docs/dashboard.md). A RunObserver of the RunService: each
// change becomes an event with an increasing id, its JSON made once, kept in
// a bounded buffer (the last `capacity`) for streams to read and for
// clients that reconnect with Last-Event-ID to catch up from.
//
// Ids start at slipwayd's start time in milliseconds times 1000, so a client
// holding an id of an earlier slipwayd is older than everything here and is
// told to reset rather than handed a gap.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "pipelines/run_service.h"

namespace slipway::daemon {

class EventHub final : public pipelines::RunObserver {
 public:
  struct Event {
    uint64_t id = 0;
    std::string name;  // "run" or "step"
    std::string repo;  // "" for exec runs
    int64_t run_id = 0;
    std::string data;  // the JSON, serialized
  };

  explicit EventHub(size_t capacity = 1000);

  // RunObserver: quick, never blocks on a reader.
  void RunChanged(const pipelines::Run& run) override;
  void StepChanged(const std::string& repo, const pipelines::StepRecord& step) override;

  // The id of the newest event (what a new stream starts after).
  uint64_t last_id() const;
  // The events after `after`, oldest first, waiting up to `wait` while
  // there are none (Wake() ends the wait early). `*reset` is set when
  // events after `after` were dropped from the buffer already, or `after`
  // is not an id this hub could have made: the caller then starts over from
  // the newest.
  std::vector<Event> Since(uint64_t after, std::chrono::milliseconds wait, bool* reset);
  // Wakes every waiting reader (a token was revoked: streams check theirs).
  void Wake();

 private:
  void Add(Event event);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_id_;
  const uint64_t first_id_;
  uint64_t wakes_ = 0;
  std::deque<Event> events_;
};

}  // namespace slipway::daemon
