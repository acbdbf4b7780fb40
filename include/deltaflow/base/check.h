// Invariant checks.
//
// `DELTAFLOW_CHECK` guards invariants whose violation means a bug inside deltaflow; it is
// always on and aborts with the failing condition, the source location and a message.
// `DELTAFLOW_DCHECK` is the same check for hot paths, compiled only into debug builds and
// builds configured with DELTAFLOW_ENABLE_DCHECK (the test and sanitizer builds). User errors are never reported through these macros: a public call that can
// fail on user input returns `absl::Status` instead.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace deltaflow::base {

/// Prints a failed invariant and aborts. Never returns.
[[noreturn]] inline void CheckFailed(const char* condition, const char* file, int line,
                                     const char* message) {
  std::fprintf(stderr, "deltaflow: invariant violated at %s:%d: %s (%s)\n", file, line, message,
               condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace deltaflow::base

#define DELTAFLOW_CHECK(condition, message)                                         \
  do {                                                                              \
    if (__builtin_expect(!(condition), 0)) {                                        \
      ::deltaflow::base::CheckFailed(#condition, __FILE__, __LINE__, (message));    \
    }                                                                               \
  } while (false)

#if defined(NDEBUG) && !defined(DELTAFLOW_ENABLE_DCHECK)
#define DELTAFLOW_DCHECK(condition, message) \
  do {                                       \
    if (false && (condition)) {              \
    }                                        \
  } while (false)
#else
#define DELTAFLOW_DCHECK(condition, message) DELTAFLOW_CHECK(condition, message)
#endif
