// Masking secret values in a step's output: every occurrence of any secret
// becomes "****", also when the output arrives in chunks that split a value.
//
// What is masked: the union of every occurrence of every secret. Occurrences
// that overlap (one secret inside another, or the end of one the start of
// the next) merge into one "****", so no byte of any occurrence survives;
// this gives what replacing the longest secret first would give, and is
// stricter for partial overlaps (secrets "abc", "cde": "abcde" -> "****",
// where longest-first replacement would leave "de"). Occurrences that only
// touch ("tok" "tok" -> "********") stay two masks. Bytes are bytes: secrets
// and output may hold any byte, NUL and invalid UTF-8 included.
//
// Which values: every non-empty value, however short. GitLab refuses to mask
// values shorter than 8 characters (and multi-line ones) and leaves them in
// the log; Slipway masks them anyway, because a log made hard to read by a
// 2-byte secret is a smaller harm than a leaked secret. Empty values are
// ignored (they would match everywhere). Refusing or warning about short
// values belongs where a secret is set, not here.
//
// Algorithm: Aho-Corasick over all secrets, built once (SecretMatcher), run
// byte by byte over the stream, so masking is linear in the output's size
// plus the secrets' total size, whatever the number of secrets or how they
// overlap (each automaton state knows the longest secret ending there, so
// no list of matches is walked). Between two writes, a LogMasker holds back
// only the bytes that could still be the start of a secret (the automaton
// state's depth: at most the longest secret's length, so less than the
// "max_len - 1 bytes" tail a plain search would keep). Inside a mask it
// holds nothing: the "****" is written as soon as the mask starts, and the
// rest of a long run of overlapping matches is dropped as it comes, so an
// endless run of a secret does not grow memory.
//
// Limits: a value the step transforms (base64, split by a newline, printed
// with `set -x` quoting) is not recognised; no masker can know every
// encoding, which is why a step receives only the secrets it names.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace slipway {

inline constexpr std::string_view kMask = "****";

// The automaton for one set of secrets. Immutable once built: one matcher
// may be shared by any number of LogMaskers, in any threads.
class SecretMatcher {
 public:
  explicit SecretMatcher(const std::vector<std::string>& secrets);

  // The length of the longest non-empty secret (0: nothing to mask).
  size_t max_length() const { return max_length_; }

  // Automaton internals for LogMasker.
  using State = int32_t;
  static constexpr State kRoot = 0;
  State Next(State state, unsigned char byte) const;
  // How many bytes of the text before `state` are a prefix of some secret
  // (the state's depth).
  uint32_t Depth(State state) const { return nodes_[state].depth; }
  // The length of the longest secret that ends at `state`, 0 if none.
  uint32_t LongestMatch(State state) const { return nodes_[state].longest_match; }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, State>> children;  // sorted by byte
    State fail = kRoot;
    uint32_t depth = 0;
    uint32_t longest_match = 0;
  };
  State Child(State state, unsigned char byte) const;  // -1 if none

  std::vector<Node> nodes_;
  State root_next_[256];  // the root's transitions, dense: most bytes start nothing
  size_t max_length_ = 0;
};

// One output stream's masking state (stdout and stderr each have their own:
// a value split across the two is not in either stream as written). Not
// thread-safe: one writer per stream.
class LogMasker {
 public:
  explicit LogMasker(std::shared_ptr<const SecretMatcher> matcher);

  // Takes the next chunk of the stream; returns the output that is now
  // final (masked), which may be shorter than the chunk, or empty, while
  // bytes are held back.
  std::string Write(std::string_view chunk);
  // End of stream: returns everything held back, masked. The masker starts
  // a new stream afterwards.
  std::string Flush();

 private:
  // A masked range [start, end) of stream offsets, not yet all passed on.
  struct Range {
    uint64_t start, end;
    bool announced;  // its "****" was written already
  };
  void Emit(uint64_t upto, std::string& out);

  std::shared_ptr<const SecretMatcher> matcher_;
  SecretMatcher::State state_ = SecretMatcher::kRoot;
  uint64_t offset_ = 0;         // stream offset just past the last byte taken
  std::string pending_;         // bytes from pending_start_ to offset_, not yet passed on
  uint64_t pending_start_ = 0;  // stream offset of pending_[0]
  std::vector<Range> ranges_;   // sorted, disjoint, not touching others' ends
};

// Masks one whole text (an error message, a finished log line).
std::string MaskSecrets(std::string_view text, const SecretMatcher& matcher);

}  // namespace slipway
