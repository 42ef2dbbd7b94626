// Errors as values: Status (success or an Error) and Result<T> (a T or an Error).
//
// One error type across the code base. An Error carries a coarse code that callers branch on
// and a message for people. Functions that can fail return Status or Result<T>, both
// [[nodiscard]]; no exceptions cross module boundaries on the request path.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace freshet {

enum class ErrorCode : int {
  kOk = 0,
  kInvalidArgument,   // the caller passed something malformed or out of bounds
  kNotFound,          // a named thing does not exist
  kAlreadyExists,     // a named thing exists already
  kOutOfRange,        // an offset or position outside what is stored (e.g. below trim horizon)
  kCorruption,        // stored bytes failed a check (magic, CRC, bounds)
  kIoError,           // the operating system reported an error
  kNoSpace,           // ENOSPC / EDQUOT
  kFailed,            // a component stopped accepting work after an unrecoverable error
  kClosed,            // the component was closed
  kUnavailable,       // temporarily unable; retry may succeed
  kLimitExceeded,     // a quota or limit would be exceeded (AWS LimitExceededException)
  kResourceInUse,     // the resource is in a state that does not allow this (ResourceInUse)
  kExpired,           // a token or iterator is too old (ExpiredIteratorException)
  kThrottled,         // a rate limit was hit (ProvisionedThroughputExceededException)
};

const char* error_code_name(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  ErrorCode code_;
  std::string message_;
};

// Builds an Error from errno-style codes: ENOSPC and EDQUOT map to kNoSpace, others kIoError.
Error errno_error(int err, const std::string& what);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  static Status ok_status() { return Status(); }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  ErrorCode code() const { return ok_ ? ErrorCode::kOk : error_.code(); }
  std::string to_string() const { return ok_ ? "OK" : error_.to_string(); }

 private:
  Error error_{ErrorCode::kOk, {}};
  bool ok_ = true;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}    // NOLINT: implicit by design
  Result(Status status) : v_(status.error()) {}    // NOLINT: only from a failed Status

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  ErrorCode code() const { return ok() ? ErrorCode::kOk : error().code(); }
  Status status() const { return ok() ? Status() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace freshet

// Propagates a failed Status or Result from the current function.
#define FRESHET_RETURN_IF_ERROR(expr)             \
  do {                                            \
    auto&& freshet_status_ = (expr);              \
    if (!freshet_status_.ok()) {                  \
      return freshet_status_.error();             \
    }                                             \
  } while (0)

#define FRESHET_CONCAT_INNER(a, b) a##b
#define FRESHET_CONCAT(a, b) FRESHET_CONCAT_INNER(a, b)
// Declares `lhs` from a Result's value, or returns its error.
#define FRESHET_ASSIGN_OR_RETURN(lhs, expr)                         \
  auto FRESHET_CONCAT(freshet_result_, __LINE__) = (expr);          \
  if (!FRESHET_CONCAT(freshet_result_, __LINE__).ok()) {            \
    return FRESHET_CONCAT(freshet_result_, __LINE__).error();       \
  }                                                                 \
  lhs = std::move(FRESHET_CONCAT(freshet_result_, __LINE__)).value()
