// The framing of one HTTP/1.1 request, decided from its head alone: where
// the head ends, and how long a body follows. slipwayd checks this before
// Pistache parses anything, because Pistache 0.0.5 trusts Content-Length (it
// reserves that many bytes up front: `999999999999` is std::bad_alloc, `-5`
// a length_error) and rescans an incomplete request line from its start at
// every read (a 10 MB body without a line break costs it minutes of CPU).
//
// The rules (docs/api.md, "Connections and limits"):
// - The head (request line and header fields, up to the blank line) is at
//   most `max_head_bytes`; larger is 431.
// - Content-Length is 1 to 18 decimal digits, given once; anything else
//   (a sign, a space inside, a second Content-Length) is 400. A length over
//   `max_body_bytes` is 413, before a byte of the body is read.
// - Transfer-Encoding (chunked request bodies) is 411: every body the API
//   takes is a small JSON document (or a secret's value) of known length.
// Pure: no I/O, no Pistache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace slipway::daemon {

struct RequestHead {
  enum class Verdict {
    kIncomplete,  // no blank line yet, and still within max_head_bytes
    kComplete,    // head_bytes and body_bytes are set
    kRefused,     // status, code and message say why
  };
  Verdict verdict = Verdict::kIncomplete;
  size_t head_bytes = 0;    // up to and including the blank line's CRLF
  uint64_t body_bytes = 0;  // Content-Length, 0 without one
  std::string method;       // the request line's first word, as sent ("" if none yet)
  std::string target;       // the request line's second word, as sent
  int status = 0;           // kRefused: 400, 411, 413 or 431
  std::string code;         // kRefused: the API error code
  std::string message;      // kRefused: for the client
};

// Scans `bytes`, the start of a request. `scanned` is how far an earlier
// call on a shorter prefix of the same bytes got (0 at first); it is
// updated, so that a head arriving in pieces is searched once, not once per
// piece.
RequestHead ScanRequestHead(std::string_view bytes, size_t* scanned, size_t max_head_bytes,
                            uint64_t max_body_bytes);

}  // namespace slipway::daemon
