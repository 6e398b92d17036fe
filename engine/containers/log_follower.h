// Reading a sandbox's output log while its monitor writes it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/base/status.h"
#include "engine/containers/end_signal.h"
#include "engine/runtime/log.h"

namespace slipway {

using LogChunk = std::function<bool(Stream, std::string_view)>;

// Delivers the framed log at `path`, in order, to `chunk` (which returns
// false to stop: the client went away). Without `follow` it returns after
// what has been written so far. With it, it also waits for more until `end`
// fires (the log is complete by then) or `give_up()` says so, waking when the
// monitor writes (inotify on the log's directory) or the end fires, and at
// least every `slice` to ask give_up().
Status FollowLog(const std::string& path, bool follow, const std::shared_ptr<EndSignal>& end,
                 std::chrono::milliseconds slice, const std::function<bool()>& give_up, const LogChunk& chunk);

}  // namespace slipway
