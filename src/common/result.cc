#include "freshet/common/result.h"

#include <cerrno>
#include <cstring>

namespace freshet {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "OK";
    case ErrorCode::kInvalidArgument: return "InvalidArgument";
    case ErrorCode::kNotFound: return "NotFound";
    case ErrorCode::kAlreadyExists: return "AlreadyExists";
    case ErrorCode::kOutOfRange: return "OutOfRange";
    case ErrorCode::kCorruption: return "Corruption";
    case ErrorCode::kIoError: return "IoError";
    case ErrorCode::kNoSpace: return "NoSpace";
    case ErrorCode::kFailed: return "Failed";
    case ErrorCode::kClosed: return "Closed";
    case ErrorCode::kUnavailable: return "Unavailable";
    case ErrorCode::kLimitExceeded: return "LimitExceeded";
    case ErrorCode::kResourceInUse: return "ResourceInUse";
    case ErrorCode::kExpired: return "Expired";
    case ErrorCode::kThrottled: return "Throttled";
  }
  return "Unknown";
}

std::string Error::to_string() const {
  return std::string(error_code_name(code_)) + ": " + message_;
}

Error errno_error(int err, const std::string& what) {
  ErrorCode code = (err == ENOSPC || err == EDQUOT) ? ErrorCode::kNoSpace : ErrorCode::kIoError;
  return Error(code, what + ": " + std::strerror(err));
}

}  // namespace freshet
