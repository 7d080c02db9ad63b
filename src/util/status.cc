#include "kafka_backup/status.h"

namespace kafka_backup {

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kNotFound:
      return "not found";
    case Code::kAlreadyExists:
      return "already exists";
    case Code::kConflict:
      return "conflict";
    case Code::kCorruption:
      return "corruption";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kAuth:
      return "authentication failed";
    case Code::kIoError:
      return "I/O error";
    case Code::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

}  // namespace kafka_backup
