// base/thread_annotations.h — clang's thread-safety annotations (as LevelDB's
// port/thread_annotations.h and Abseil's have them). They state which mutex guards which state and
// which functions need it held; `scripts/check_thread_safety.sh` (run by .ci/run) builds the rooms
// that share state between threads with clang's -Wthread-safety -Werror, so a violation fails CI.
// With other compilers they expand to nothing.
#pragma once

#if defined(__clang__)
#define IR_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define IR_THREAD_ANNOTATION(x)
#endif

// A type that is a lock ("mutex").
#define IR_CAPABILITY(x) IR_THREAD_ANNOTATION(capability(x))
// An RAII type that holds a lock for its lifetime.
#define IR_SCOPED_CAPABILITY IR_THREAD_ANNOTATION(scoped_lockable)
// Data members: read and written only with `x` held.
#define IR_GUARDED_BY(x) IR_THREAD_ANNOTATION(guarded_by(x))
// Pointer members: the pointee is read and written only with `x` held.
#define IR_PT_GUARDED_BY(x) IR_THREAD_ANNOTATION(pt_guarded_by(x))
// Functions: the caller holds the lock(s) / must not hold them.
#define IR_REQUIRES(...) IR_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define IR_EXCLUDES(...) IR_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// Functions that take / give up / try to take a lock.
#define IR_ACQUIRE(...) IR_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define IR_RELEASE(...) IR_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define IR_TRY_ACQUIRE(...) IR_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// The lock is held here (checked at run time by the function, assumed by the analysis).
#define IR_ASSERT_CAPABILITY(x) IR_THREAD_ANNOTATION(assert_capability(x))
// Returns a reference to the lock `x`.
#define IR_RETURN_CAPABILITY(x) IR_THREAD_ANNOTATION(lock_returned(x))
// Opts a function out of the analysis: say why at each use.
#define IR_NO_THREAD_SAFETY_ANALYSIS IR_THREAD_ANNOTATION(no_thread_safety_analysis)
