// DaemonClient: the CLI's side of slipwayd's REST API (docs/api.md).
//
// Every verb is one or a few requests. JSON answers come back as Json, the
// API's errors ({"error": {"code", "message"}}) as a Status carrying the
// daemon's message; streams (attach, logs -f, pull and push progress) are
// handed to a receiver as they arrive.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "engine/base/url.h"
#include "service/cli/http.h"

namespace slipway::cli {

// Ordered, so that `inspect` prints fields in the daemon's order.
using Json = nlohmann::ordered_json;

inline constexpr char kDefaultHost[] = "http://127.0.0.1:7780";
inline constexpr char kDefaultTokenFile[] = "/var/lib/slipway/control.token";

// Where slipwayd listens and where its control token is.
struct DaemonEndpoint {
  std::string host = kDefaultHost;             // --host, SLIPWAY_HOST
  std::string token_file = kDefaultTokenFile;  // --token-file, SLIPWAY_TOKEN_FILE
};

class DaemonClient {
 public:
  // For requests that may legitimately take long: wait, stop, import...
  static constexpr int kNoTimeout = -1;
  // Anything else: a daemon that says nothing for this long is stuck.
  static constexpr int kDefaultTimeoutMs = 60'000;

  // Fails only if endpoint.host does not parse; nothing is read or sent yet.
  static Result<std::unique_ptr<DaemonClient>> Create(const DaemonEndpoint& endpoint);

  // `path` is below /api/v1 ("/containers?all=true"), with its parts
  // escaped (Escape()). A 204 or an empty body yields null.
  Result<Json> Get(const std::string& path, int timeout_ms = kDefaultTimeoutMs);
  Result<Json> Post(const std::string& path, const Json& body = nullptr, int timeout_ms = kDefaultTimeoutMs);
  Result<Json> Delete(const std::string& path, int timeout_ms = kDefaultTimeoutMs);
  // PUT with `body` as the bytes of the request (a secret's value), typed
  // application/octet-stream.
  Result<Json> PutBytes(const std::string& path, std::string body, int timeout_ms = kDefaultTimeoutMs);

  // Sends a request (body: none if null) and hands the body of a 2xx answer
  // to `receiver` as it arrives, with no read timeout; the receiver returns
  // false to stop. An error answer is returned as a Status.
  using Receiver = std::function<bool(std::string_view data)>;
  Status Stream(const std::string& method, const std::string& path, const Json& body,
                const Receiver& receiver);

  // From another thread: the request in progress, and every later one on
  // this client, fail at once.
  void Abort() { http_.Abort(); }
  // A client of the same daemon with the same token, whose Abort() is its own.
  std::unique_ptr<DaemonClient> Clone() const;

  const DaemonEndpoint& endpoint() const { return endpoint_; }
  const std::string& url() const { return url_; }  // "http://127.0.0.1:7780"

 private:
  DaemonClient(const DaemonEndpoint& endpoint, HttpEndpoint http);
  Result<Json> Call(const std::string& method, const std::string& path, const Json& body, int timeout_ms);
  Status Send(const std::string& method, const std::string& path, const Json& body, int timeout_ms,
              const Receiver& receiver);
  // `body` as it is, with `content_type` (no Content-Type if empty).
  Status SendBytes(const std::string& method, const std::string& path, std::string body,
                   const std::string& content_type, int timeout_ms, const Receiver& receiver);
  Result<Json> Answer(const std::string& method, const std::string& path, const std::string& answer);
  Result<std::string> Token();
  Status Unreachable() const;

  DaemonEndpoint endpoint_;
  HttpEndpoint http_endpoint_;
  std::string url_;
  HttpClient http_;
  std::optional<std::string> token_;  // read once, on the first request
};

// The API's error object, {"code": "not_found", "message": "..."}, as a
// Status with the daemon's message; `http_status` decides when the code is
// missing or unknown (0: none).
Status StatusFromApiError(const Json& error, int http_status = 0);

// Fields of the daemon's answers, read without throwing: a missing field,
// or one of another type, yields the default (null for Field()).
const Json& Field(const Json& object, const char* key);
std::string StringField(const Json& object, const char* key, const std::string& fallback = "");
int64_t IntField(const Json& object, const char* key, int64_t fallback = 0);
bool BoolField(const Json& object, const char* key);
// The strings of an array field; anything else is skipped.
std::vector<std::string> StringsField(const Json& object, const char* key);

// Percent-encodes a path segment or query value (a container name, an image
// reference): "localhost:5000/app:1" -> "localhost%3A5000%2Fapp%3A1".
inline std::string Escape(std::string_view text) {
  return PercentEncode(text);
}

}  // namespace slipway::cli
