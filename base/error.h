// base/error.h — the two tiers of failure used across iranker.
//
// 1. Failures caused by the world (a bad file or config, a peer gone, a time-out) are thrown as
//    iranker::Error, which carries a code and a message that already names the file, line, key,
//    peer or rank involved. Each room catches them at its edge; the `iranker` command prints the
//    message and exits non-zero.
// 2. Programmer errors (broken invariants) use IR_CHECK*, which print
//    `host:rank file:line: check failed: expr (lhs vs rhs)` to stderr and abort.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace iranker {

enum class ErrorCode {
  kInvalidArgument,    // bad config value, bad command-line value, malformed input record
  kNotFound,           // a file, key or tensor that should exist does not
  kDataLoss,           // truncated or corrupted file or message
  kDeadlineExceeded,   // a peer did not answer in time
  kUnavailable,        // a peer or resource is gone
  kResourceExhausted,  // disk full, queue over its bound, message over its size limit
  kFailedPrecondition,
  kInternal,
};

const char* ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Streams all arguments into one message: Fail(ErrorCode::kNotFound, "no file ", path).
template <class... Args>
[[noreturn]] void Fail(ErrorCode code, const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(code, os.str());
}

// The identity printed by checks and log lines: "host:rank" (rank from MPI/Slurm environment
// variables when present, else "-"). SetProcessLabel overrides the rank part, e.g. "actor3".
std::string ProcessIdentity();
void SetProcessLabel(const std::string& label);

namespace internal {
[[noreturn]] void CheckFailed(const char* file, int line, const std::string& what);

template <class A, class B>
std::string CheckOpMessage(const char* expr, const A& a, const B& b) {
  std::ostringstream os;
  os << expr << " (" << a << " vs " << b << ")";
  return os.str();
}
}  // namespace internal
}  // namespace iranker

#define IR_CHECK(cond)                                                        \
  do {                                                                        \
    if (!(cond)) ::iranker::internal::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

#define IR_CHECK_OP(a, b, op)                                                    \
  do {                                                                           \
    const auto& ir_a_ = (a);                                                     \
    const auto& ir_b_ = (b);                                                     \
    if (!(ir_a_ op ir_b_))                                                       \
      ::iranker::internal::CheckFailed(                                          \
          __FILE__, __LINE__,                                                    \
          ::iranker::internal::CheckOpMessage(#a " " #op " " #b, ir_a_, ir_b_)); \
  } while (0)

#define IR_CHECK_EQ(a, b) IR_CHECK_OP(a, b, ==)
#define IR_CHECK_NE(a, b) IR_CHECK_OP(a, b, !=)
#define IR_CHECK_LT(a, b) IR_CHECK_OP(a, b, <)
#define IR_CHECK_LE(a, b) IR_CHECK_OP(a, b, <=)
#define IR_CHECK_GT(a, b) IR_CHECK_OP(a, b, >)
#define IR_CHECK_GE(a, b) IR_CHECK_OP(a, b, >=)
