// Status and Result<T>: how errors cross module borders in Slipway.
//
// Exceptions never leave a module. A function that can fail returns a Status
// (or a Result<T> carrying either a value or a Status). Messages name the
// failed call and the object it acted on, e.g. "mount /proc: Permission denied".
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace slipway {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong; retrying will not help
  kNotFound,            // a named object does not exist
  kAlreadyExists,       // a name or id is taken
  kFailedPrecondition,  // the system is not in a state that allows this
  kResourceExhausted,   // a quota or limit was hit
  kDeadlineExceeded,    // a timeout passed
  kUnavailable,         // a peer could not be reached; retrying may help
  kPermissionDenied,    // the caller may not do this
  kUnauthenticated,     // the caller did not say who it is
  kInternal,            // a system call or library failed
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // "<what>: <strerror(err)>", code derived from errno (ENOENT -> kNotFound, ...).
  static Status FromErrno(int err, const std::string& what);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: bad quota" style, for logs and CLI output.
  std::string ToString() const;

  // Prepends context: Status(kNotFound, "x").Wrap("pull foo") -> "pull foo: x".
  Status Wrap(const std::string& context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) {
  return Status(Code::kNotFound, std::move(m));
}
inline Status AlreadyExists(std::string m) {
  return Status(Code::kAlreadyExists, std::move(m));
}
inline Status FailedPrecondition(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status Internal(std::string m) {
  return Status(Code::kInternal, std::move(m));
}
inline Status ErrnoStatus(const std::string& what) {
  return Status::FromErrno(errno, what);
}

// Either a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {}

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace slipway

// Returns early from the enclosing function if `expr` yields a non-ok Status.
#define SLIPWAY_RETURN_IF_ERROR(expr) \
  do {                                \
    ::slipway::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)

#define SLIPWAY_CONCAT_INNER(a, b) a##b
#define SLIPWAY_CONCAT(a, b) SLIPWAY_CONCAT_INNER(a, b)

// SLIPWAY_ASSIGN_OR_RETURN(auto x, MakeX()); returns the Status on failure.
#define SLIPWAY_ASSIGN_OR_RETURN(lhs, expr) \
  SLIPWAY_ASSIGN_OR_RETURN_IMPL(SLIPWAY_CONCAT(_res_, __LINE__), lhs, expr)
#define SLIPWAY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
