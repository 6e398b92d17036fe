#include "service/daemon/event_hub.h"

#include <nlohmann/json.hpp>

#include "engine/base/time.h"

namespace slipway::daemon {

namespace {

std::string Serialize(const nlohmann::ordered_json& value) {
  // Replaced rather than thrown on: a step's name or a commit message with
  // ill-formed UTF-8 must not cost the event.
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

EventHub::EventHub(size_t capacity)
    : capacity_(capacity ? capacity : 1),
      next_id_(static_cast<uint64_t>(NowUnixMs()) * 1000 + 1),
      first_id_(next_id_) {}

void EventHub::RunChanged(const pipelines::Run& run) {
  Add({0, "run", run.repo, run.id, Serialize(run.ToJsonValue())});
}

void EventHub::StepChanged(const std::string& repo, const pipelines::StepRecord& step) {
  nlohmann::ordered_json body;
  body["run_id"] = step.run_id;
  body["step"] = step.ToJsonValue();
  Add({0, "step", repo, step.run_id, Serialize(body)});
}

void EventHub::Add(Event event) {
  {
    std::lock_guard lock(mu_);
    event.id = next_id_++;
    events_.push_back(std::move(event));
    while (events_.size() > capacity_) events_.pop_front();
  }
  cv_.notify_all();
}

uint64_t EventHub::last_id() const {
  std::lock_guard lock(mu_);
  return next_id_ - 1;
}

std::vector<EventHub::Event> EventHub::Since(uint64_t after, std::chrono::milliseconds wait, bool* reset) {
  std::unique_lock lock(mu_);
  *reset = false;
  // Older than this slipwayd, newer than anything made, or fallen out of
  // the buffer: the events in between cannot be told.
  const uint64_t oldest_kept = events_.empty() ? next_id_ : events_.front().id;
  if (after + 1 < first_id_ || after >= next_id_ || after + 1 < oldest_kept) {
    *reset = true;
    return {};
  }
  const uint64_t wakes = wakes_;
  cv_.wait_for(lock, wait, [&] { return next_id_ - 1 > after || wakes_ != wakes; });
  std::vector<Event> out;
  if (!events_.empty() && after + 1 < events_.front().id) {  // dropped while waiting
    *reset = true;
    return out;
  }
  for (const Event& e : events_) {
    if (e.id > after) out.push_back(e);
  }
  return out;
}

void EventHub::Wake() {
  {
    std::lock_guard lock(mu_);
    ++wakes_;
  }
  cv_.notify_all();
}

}  // namespace slipway::daemon
