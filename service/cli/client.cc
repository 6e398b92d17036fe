#include "service/cli/client.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "engine/base/fd.h"

namespace slipway::cli {

namespace {

constexpr int kDefaultPort = 7780;
constexpr int kConnectTimeoutMs = 2000;
// An error answer is a small JSON object; more than this is not one.
constexpr size_t kMaxErrorBody = 64 * 1024;

Code CodeFromApi(const std::string& code, int http_status) {
  if (code == "invalid_argument") return Code::kInvalidArgument;
  if (code == "unauthenticated") return Code::kUnauthenticated;
  if (code == "not_found") return Code::kNotFound;
  if (code == "already_exists") return Code::kAlreadyExists;
  if (code == "failed_precondition") return Code::kFailedPrecondition;
  if (code == "resource_exhausted") return Code::kResourceExhausted;
  if (code == "unavailable") return Code::kUnavailable;
  if (code == "internal") return Code::kInternal;
  if (http_status == 404) return Code::kNotFound;  // e.g. a route this daemon does not have
  if (http_status >= 500) return Code::kInternal;
  return Code::kInvalidArgument;  // method_not_allowed, payload_too_large, ...: the request was wrong
}

// The API's {"error": {"code", "message"}}, or whatever else came with an
// error status (a proxy's page, a truncated answer).
Status ErrorFromAnswer(int http_status, const std::string& body) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (Status st = StatusFromApiError(Field(j, "error"), http_status); !st.ok()) return st;
  std::string text = body.substr(0, 200);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::string message = "slipwayd answered HTTP " + std::to_string(http_status);
  if (!text.empty()) message += ": " + text;
  return Status(CodeFromApi("", http_status), message);
}

Result<std::string> ReadTokenFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus(path);
  std::string token(4096, '\0');
  size_t size = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), token.data() + size, token.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(path);
    if (n == 0 || (size += static_cast<size_t>(n)) == token.size()) break;
  }
  token.resize(size);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) return InvalidArgument(path + ": the file is empty");
  return token;
}

}  // namespace

Status StatusFromApiError(const Json& error, int http_status) {
  std::string message = StringField(error, "message");
  if (message.empty()) return Status::Ok();
  return Status(CodeFromApi(StringField(error, "code"), http_status), message);
}

const Json& Field(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string StringField(const Json& object, const char* key, const std::string& fallback) {
  const Json& v = Field(object, key);
  return v.is_string() ? v.get<std::string>() : fallback;
}

int64_t IntField(const Json& object, const char* key, int64_t fallback) {
  const Json& v = Field(object, key);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

bool BoolField(const Json& object, const char* key) {
  const Json& v = Field(object, key);
  return v.is_boolean() && v.get<bool>();
}

std::vector<std::string> StringsField(const Json& object, const char* key) {
  std::vector<std::string> out;
  const Json& v = Field(object, key);
  if (!v.is_array()) return out;
  for (const Json& item : v) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::unique_ptr<DaemonClient>> DaemonClient::Create(const DaemonEndpoint& endpoint) {
  SLIPWAY_ASSIGN_OR_RETURN(HttpEndpoint http, ParseHttpUrl(endpoint.host, kDefaultPort));
  return std::unique_ptr<DaemonClient>(new DaemonClient(endpoint, std::move(http)));
}

DaemonClient::DaemonClient(const DaemonEndpoint& endpoint, HttpEndpoint http)
    : endpoint_(endpoint),
      http_endpoint_(http),
      url_("http://" + (http.host.find(':') != std::string::npos ? "[" + http.host + "]" : http.host) + ":" +
           std::to_string(http.port)),
      http_(std::move(http), kConnectTimeoutMs) {}

std::unique_ptr<DaemonClient> DaemonClient::Clone() const {
  std::unique_ptr<DaemonClient> copy(new DaemonClient(endpoint_, http_endpoint_));
  copy->token_ = token_;
  return copy;
}

Status DaemonClient::Unreachable() const {
  return Status(Code::kUnavailable,
                "cannot reach slipwayd at " + url_ + ": is it running? (start it with: slipwayd)");
}

// Read lazily: `slipway --help` and flag errors need no token. If it cannot
// be read, whether the daemon is up decides which problem to report first.
Result<std::string> DaemonClient::Token() {
  if (token_) return *token_;
  auto token = ReadTokenFile(endpoint_.token_file);
  if (!token.ok()) {
    HttpRequest probe{"GET", "/healthz", {}, "", kConnectTimeoutMs};
    auto status = http_.Send(probe, [](int, std::string_view) { return true; });
    if (!status.ok() && status.status().code() == Code::kUnavailable) return Unreachable();
    return Status(Code::kPermissionDenied, "cannot read the control token " + token.status().message() +
                                               " (run as root, or set SLIPWAY_TOKEN_FILE)");
  }
  token_ = *token;
  return *token_;
}

Status DaemonClient::Send(const std::string& method, const std::string& path, const Json& body,
                          int timeout_ms, const Receiver& receiver) {
  if (body.is_null()) return SendBytes(method, path, "", "", timeout_ms, receiver);
  std::string text;
  try {
    text = body.dump();
  } catch (const Json::exception&) {  // only ill-formed UTF-8 makes dump() throw
    return InvalidArgument("an argument is not valid UTF-8, which JSON cannot carry");
  }
  return SendBytes(method, path, std::move(text), "application/json", timeout_ms, receiver);
}

Status DaemonClient::SendBytes(const std::string& method, const std::string& path, std::string body,
                               const std::string& content_type, int timeout_ms, const Receiver& receiver) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string token, Token());
  HttpRequest request{method, "/api/v1" + path, {{"Authorization", "Bearer " + token}}, "", timeout_ms};
  if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
  request.body = std::move(body);
  std::string error_body;
  auto status = http_.Send(request, [&](int http_status, std::string_view data) {
    if (http_status < 300) return receiver(data);
    error_body.append(data);
    return error_body.size() <= kMaxErrorBody;
  });
  if (!status.ok()) {
    if (status.status().code() == Code::kUnavailable) return Unreachable();
    if (status.status().code() == Code::kDeadlineExceeded) return status.status();  // Abort()
    return Status(Code::kUnavailable,
                  "lost the connection to slipwayd at " + url_ + ": " + status.status().message());
  }
  if (*status >= 300) {
    Status error = ErrorFromAnswer(*status, error_body);
    if (error.code() != Code::kUnauthenticated) return error;
    return Status(Code::kUnauthenticated, "slipwayd at " + url_ + " refused the control token in " +
                                              endpoint_.token_file + ": " + error.message());
  }
  return Status::Ok();
}

Result<Json> DaemonClient::Call(const std::string& method, const std::string& path, const Json& body,
                                int timeout_ms) {
  std::string answer;
  SLIPWAY_RETURN_IF_ERROR(Send(method, path, body, timeout_ms, [&](std::string_view data) {
    answer.append(data);
    return true;
  }));
  return Answer(method, path, answer);
}

Result<Json> DaemonClient::PutBytes(const std::string& path, std::string body, int timeout_ms) {
  std::string answer;
  SLIPWAY_RETURN_IF_ERROR(SendBytes("PUT", path, std::move(body), "application/octet-stream", timeout_ms,
                                    [&](std::string_view data) {
                                      answer.append(data);
                                      return true;
                                    }));
  return Answer("PUT", path, answer);
}

Result<Json> DaemonClient::Answer(const std::string& method, const std::string& path,
                                  const std::string& answer) {
  if (answer.empty()) return Json();
  Json j = Json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Internal("slipwayd sent malformed JSON for " + method + " " + path);
  return j;
}

Result<Json> DaemonClient::Get(const std::string& path, int timeout_ms) {
  return Call("GET", path, nullptr, timeout_ms);
}

Result<Json> DaemonClient::Post(const std::string& path, const Json& body, int timeout_ms) {
  return Call("POST", path, body, timeout_ms);
}

Result<Json> DaemonClient::Delete(const std::string& path, int timeout_ms) {
  return Call("DELETE", path, nullptr, timeout_ms);
}

Status DaemonClient::Stream(const std::string& method, const std::string& path, const Json& body,
                            const Receiver& receiver) {
  return Send(method, path, body, kNoTimeout, receiver);
}

}  // namespace slipway::cli
