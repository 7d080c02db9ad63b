// Status and Result<T>: how every library function reports failure.
//
// A Status is OK or carries a Code (what kind of failure, decided where it
// arises) and a message that names the object, what was expected and what to
// do next. Result<T> holds either a T or a non-OK Status. Both are
// [[nodiscard]]: a dropped error is a compile-time warning (an error with
// -Werror).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace kafka_backup {

class [[nodiscard]] Status {
 public:
  // The kinds of failure. The CLI maps each to a documented exit code
  // (docs/exit-codes.md); keep the two in step.
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad input: config, flags, names
    kNotFound,         // a backup, object, topic that does not exist
    kAlreadyExists,    // a backup id already committed
    kConflict,         // target state forbids the operation (topic has data)
    kCorruption,       // stored bytes fail a check
    kUnavailable,      // transient: broker or storage unreachable; retryable
    kAuth,             // authentication or authorization refused
    kIoError,          // local I/O failed (disk full, permission)
    kInternal,         // a bug or an unexpected library state
  };

  Status() = default;

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Auth(std::string msg) { return {Code::kAuth, std::move(msg)}; }
  static Status IoError(std::string msg) { return {Code::kIoError, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corruption: segment data/x/0/...: block 3 checksum mismatch"
  std::string ToString() const;
  static const char* CodeName(Code code);

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(const std::string& context) const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : value_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(value_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(value_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(value_);
  }
  T& value() & { return std::get<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace kafka_backup

// Early-return helpers, the only macros in the code base.
#define KB_RETURN_IF_ERROR(expr)                \
  do {                                          \
    ::kafka_backup::Status kb_status_ = (expr); \
    if (!kb_status_.ok()) return kb_status_;    \
  } while (0)

#define KB_CONCAT_INNER(a, b) a##b
#define KB_CONCAT(a, b) KB_CONCAT_INNER(a, b)
#define KB_ASSIGN_OR_RETURN(lhs, expr) KB_ASSIGN_OR_RETURN_IMPL(KB_CONCAT(kb_result_, __LINE__), lhs, expr)
// lhs may be a declaration ("auto x"), so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define KB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
