#include "service/daemon/request_head.h"

#include <vector>

namespace slipway::daemon {

namespace {

// Digits in a Content-Length: 18 keep any value below 10^18 < 2^63, so that
// the number fits every integer type the length meets afterwards.
constexpr size_t kMaxLengthDigits = 18;

bool EqualsLowercase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

RequestHead Refuse(RequestHead head, int status, std::string code, std::string message) {
  head.verdict = RequestHead::Verdict::kRefused;
  head.status = status;
  head.code = std::move(code);
  head.message = std::move(message);
  return head;
}

// The request line's method and target, as far as they have arrived.
void ReadRequestLine(std::string_view bytes, RequestHead* head) {
  std::string_view line = bytes.substr(0, bytes.find("\r\n"));
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return;
  head->method = std::string(line.substr(0, std::min<size_t>(sp, 16)));
  std::string_view rest = line.substr(sp + 1);
  head->target = std::string(rest.substr(0, rest.find(' ')));
}

}  // namespace

RequestHead ScanRequestHead(std::string_view bytes, size_t* scanned, size_t max_head_bytes,
                            uint64_t max_body_bytes) {
  RequestHead head;
  // The blank line may straddle the previous piece: look back 3 bytes.
  size_t from = *scanned > 3 ? *scanned - 3 : 0;
  size_t end = bytes.find("\r\n\r\n", from);
  if (end == std::string_view::npos) {
    *scanned = bytes.size();
    ReadRequestLine(bytes.substr(0, std::min(bytes.size(), max_head_bytes)), &head);
    if (bytes.size() > max_head_bytes) {
      return Refuse(std::move(head), 431, "headers_too_large",
                    "the request line and headers exceed " + std::to_string(max_head_bytes) + " bytes");
    }
    return head;
  }
  head.head_bytes = end + 4;
  *scanned = head.head_bytes;
  ReadRequestLine(bytes, &head);
  if (head.head_bytes > max_head_bytes) {
    return Refuse(std::move(head), 431, "headers_too_large",
                  "the request line and headers exceed " + std::to_string(max_head_bytes) + " bytes");
  }

  bool has_length = false;
  std::string_view fields = bytes.substr(0, end + 2);
  size_t pos = fields.find("\r\n") + 2;  // past the request line
  while (pos < fields.size()) {
    size_t eol = fields.find("\r\n", pos);
    std::string_view line = fields.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // Pistache decides what a malformed line is
    std::string_view name = line.substr(0, colon);
    std::string_view value = TrimSpace(line.substr(colon + 1));
    if (EqualsLowercase(name, "transfer-encoding")) {
      return Refuse(std::move(head), 411, "length_required",
                    "request bodies need a Content-Length; Transfer-Encoding is not accepted");
    }
    if (!EqualsLowercase(name, "content-length")) continue;
    if (has_length) return Refuse(std::move(head), 400, "invalid_argument", "Content-Length is given twice");
    has_length = true;
    bool digits = !value.empty() && value.size() <= kMaxLengthDigits;
    for (char c : value) digits = digits && c >= '0' && c <= '9';
    if (!digits) {
      std::string shown(value.substr(0, 40));
      return Refuse(std::move(head), 400, "invalid_argument",
                    "invalid Content-Length \"" + shown + "\": want 0 to " + std::to_string(max_body_bytes));
    }
    uint64_t length = 0;
    for (char c : value) length = length * 10 + static_cast<uint64_t>(c - '0');
    if (length > max_body_bytes) {
      return Refuse(std::move(head), 413, "payload_too_large",
                    "the request body has " + std::to_string(length) + " bytes; the limit is " +
                        std::to_string(max_body_bytes));
    }
    head.body_bytes = length;
  }
  head.verdict = RequestHead::Verdict::kComplete;
  return head;
}

}  // namespace slipway::daemon
