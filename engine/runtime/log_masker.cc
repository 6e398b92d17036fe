#include "engine/runtime/log_masker.h"

#include <algorithm>
#include <deque>

namespace slipway {

SecretMatcher::SecretMatcher(const std::vector<std::string>& secrets) {
  nodes_.emplace_back();
  // The trie of every non-empty secret.
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    max_length_ = std::max(max_length_, secret.size());
    State at = kRoot;
    for (unsigned char byte : secret) {
      auto& children = nodes_[at].children;
      auto it = std::lower_bound(children.begin(), children.end(), byte,
                                 [](const auto& child, unsigned char b) { return child.first < b; });
      if (it != children.end() && it->first == byte) {
        at = it->second;
        continue;
      }
      State next = static_cast<State>(nodes_.size());
      uint32_t depth = nodes_[at].depth + 1;
      children.insert(it, {byte, next});  // before emplace_back: it would invalidate `children`
      nodes_.emplace_back();
      nodes_[next].depth = depth;
      at = next;
    }
    nodes_[at].longest_match = static_cast<uint32_t>(secret.size());
  }
  for (State& next : root_next_) next = kRoot;
  for (const auto& [byte, child] : nodes_[kRoot].children) root_next_[byte] = child;
  // Failure links, breadth first: a node's fail state is shallower, so it is
  // final (its own longest_match included) before the node needs it.
  std::deque<State> queue;
  for (const auto& [byte, child] : nodes_[kRoot].children) queue.push_back(child);
  while (!queue.empty()) {
    State at = queue.front();
    queue.pop_front();
    for (size_t i = 0; i < nodes_[at].children.size(); ++i) {
      auto [byte, child] = nodes_[at].children[i];
      State fail = Next(nodes_[at].fail, byte);
      nodes_[child].fail = fail;
      nodes_[child].longest_match = std::max(nodes_[child].longest_match, nodes_[fail].longest_match);
      queue.push_back(child);
    }
  }
}

SecretMatcher::State SecretMatcher::Child(State state, unsigned char byte) const {
  const auto& children = nodes_[state].children;
  auto it = std::lower_bound(children.begin(), children.end(), byte,
                             [](const auto& child, unsigned char b) { return child.first < b; });
  return it != children.end() && it->first == byte ? it->second : -1;
}

// Amortised O(1): each failure step makes the depth smaller, and each byte
// adds at most one to it.
SecretMatcher::State SecretMatcher::Next(State state, unsigned char byte) const {
  while (state != kRoot) {
    State child = Child(state, byte);
    if (child >= 0) return child;
    state = nodes_[state].fail;
  }
  return root_next_[byte];
}

LogMasker::LogMasker(std::shared_ptr<const SecretMatcher> matcher) : matcher_(std::move(matcher)) {}

std::string LogMasker::Write(std::string_view chunk) {
  if (matcher_->max_length() == 0) return std::string(chunk);
  pending_.append(chunk);
  for (unsigned char byte : chunk) {
    state_ = matcher_->Next(state_, byte);
    ++offset_;
    uint32_t length = matcher_->LongestMatch(state_);
    if (length == 0) continue;
    // A new occurrence [start, offset_): it ends after every known range, so
    // only ranges at the back can overlap it; they merge into it.
    Range range{offset_ - length, offset_, false};
    while (!ranges_.empty() && ranges_.back().end > range.start) {
      range.start = std::min(range.start, ranges_.back().start);
      range.announced = range.announced || ranges_.back().announced;
      ranges_.pop_back();
    }
    ranges_.push_back(range);
  }
  std::string out;
  // No occurrence still to come can start before the text the automaton is
  // in the middle of (its depth), so everything before it is final.
  Emit(offset_ - matcher_->Depth(state_), out);
  return out;
}

std::string LogMasker::Flush() {
  std::string out;
  Emit(offset_, out);
  state_ = SecretMatcher::kRoot;
  return out;
}

void LogMasker::Emit(uint64_t upto, std::string& out) {
  uint64_t cursor = pending_start_;
  size_t done = 0;
  // A range starting exactly at `upto` is announced too: anything that
  // still merges into it starts at or after `upto`, so its start is final.
  for (; done < ranges_.size() && ranges_[done].start <= upto; ++done) {
    Range& range = ranges_[done];
    if (range.start > cursor) out.append(pending_, cursor - pending_start_, range.start - cursor);
    if (!range.announced) out.append(kMask);
    range.announced = true;
    if (range.end > upto) {
      // Still open (a later occurrence may overlap it): its "****" is out,
      // the rest of it will be dropped as it comes.
      cursor = upto;
      break;
    }
    cursor = range.end;
  }
  if (cursor < upto) out.append(pending_, cursor - pending_start_, upto - cursor);
  ranges_.erase(ranges_.begin(), ranges_.begin() + static_cast<ptrdiff_t>(done));
  pending_.erase(0, upto - pending_start_);
  pending_start_ = upto;
}

std::string MaskSecrets(std::string_view text, const SecretMatcher& matcher) {
  // Not owning: the matcher outlives this call (aliasing constructor).
  LogMasker masker(std::shared_ptr<const SecretMatcher>(std::shared_ptr<void>(), &matcher));
  std::string out = masker.Write(text);
  out += masker.Flush();
  return out;
}

}  // namespace slipway
