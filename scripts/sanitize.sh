#!/usr/bin/env bash
# Sanitizer builds of the tests, one command each:
#   scripts/sanitize.sh address   AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan/)
#                                 of the tests of base, tokenizer, ranking, comm, trajlog, cluster
#                                 (IRANKER_SANITIZE_TORCH=1: also model, actor, learner, trainer),
#                                 then their unit-labelled tests, and the gradient all-reduce
#                                 test under mpirun -np 2 and 3
#   scripts/sanitize.sh thread    ThreadSanitizer build (build-tsan/) of the concurrent parts'
#                                 tests: queues and atomic files (base), ZeroMQ streams, weight
#                                 broadcast and wire (comm), the HDF5 writer thread (trajlog)
#   scripts/sanitize.sh all       both
# Extra arguments go to the GoogleTest executables (e.g. --gtest_filter='BoundedQueue.*'). Any sanitizer report fails the run (halt_on_error).
# Installs dependencies like scripts/test.sh; the first build of each takes a while on 2 cores.
# libtorch, OpenMPI and OpenBLAS are not instrumented: leaks inside them are not reported
# (detect_leaks=0 for the torch tests), and TSan runs only tests that do not enter libtorch's
# OpenMP thread pool, whose uninstrumented synchronisation TSan cannot see.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-address}
shift || true
bash "$root/scripts/setup.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
jobs=${IRANKER_BUILD_JOBS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}

configure() {  # build_dir sanitizers
  if [[ ! -f $1/build.ninja ]]; then
    cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRANKER_SANITIZE="$2" \
      -DIRANKER_NCCL=OFF > /dev/null
  fi
}

run_address() {
  local build=$root/build-asan
  configure "$build" address,undefined
  # The parsers, wire, streams, log and roles by default; IRANKER_SANITIZE_TORCH=1 adds the
  # libtorch-heavy tests (model, actor, learner, trainer: an hour more of building on 2 cores).
  local targets=(base_test tokenizer_test ranking_test trajectory_test comm_test trajlog_test cluster_test)
  [[ ${IRANKER_SANITIZE_TORCH:-0} == 1 ]] && targets+=(model_test actor_test learner_test trainer_test)
  cmake --build "$build" -j "$jobs" --target "${targets[@]}" collective_allreduce_test
  echo "== AddressSanitizer + UBSan: ${targets[*]}"
  local failed=()
  for t in "${targets[@]}"; do
    echo "-- $t"
    (cd "$build/tests" && \
      ASAN_OPTIONS=halt_on_error=1:detect_leaks=0:allocator_may_return_null=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      IRANKER_SOURCE_DIR="$root" "./$t" --gtest_brief=1 "$@") || failed+=("$t")
  done
  # The gradient all-reduce runs under mpirun (2 and 3 ranks), as in CTest.
  for np in 2 3; do
    echo "-- collective_allreduce_test, mpirun -np $np"
    (cd "$build/tests" && \
      ASAN_OPTIONS=halt_on_error=1:detect_leaks=0:allocator_may_return_null=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      mpirun -np $np -x ASAN_OPTIONS -x UBSAN_OPTIONS ./collective_allreduce_test --gtest_brief=1 "$@") \
      || failed+=("collective_allreduce_test-np$np")
  done
  ((${#failed[@]} == 0)) || { echo "sanitize: failed: ${failed[*]}" >&2; return 1; }
  echo "sanitize: address,undefined: every test passed without a report"
}

run_thread() {
  local build=$root/build-tsan
  configure "$build" thread
  cmake --build "$build" -j "$jobs" --target base_test comm_test trajlog_test
  echo "== ThreadSanitizer: queues, atomic files, streams, weight broadcast, trajectory writer"
  local failed=()
  for t in base_test comm_test trajlog_test; do
    echo "-- $t"
    (cd "$build/tests" && \
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/scripts/tsan.supp" \
      "./$t" --gtest_brief=1 "$@") || failed+=("$t")
  done
  ((${#failed[@]} == 0)) || { echo "sanitize: failed: ${failed[*]}" >&2; return 1; }
  echo "sanitize: thread: every test passed without a report"
}

case $mode in
  address) run_address "$@" ;;
  thread) run_thread "$@" ;;
  all) run_address "$@"; run_thread "$@" ;;
  *) echo "usage: scripts/sanitize.sh address|thread|all [ctest arguments]" >&2; exit 2 ;;
esac
