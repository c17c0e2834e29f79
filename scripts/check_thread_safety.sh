#!/usr/bin/env bash
# The thread-safety build: every room whose threads share state (base, tokenizer, trajectory,
# comm, collective, trajlog, cluster) compiled with clang's -Wthread-safety as errors, so a read
# or write of an IR_GUARDED_BY member without its Mutex, or a call that needs a lock without it,
# fails (base/thread_annotations.h, base/mutex.h). The other rooms (model, actor, learner,
# trainer, bench, cli) must hold no locks of their own: shared state lives in the analysed rooms
# (checked here too). Builds into build-tsa/ (IRANKER_TSA_BUILD_DIR) with Ninja and ccache; run by
# .ci/run. Extra arguments go to CMake at configure time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IRANKER_TSA_BUILD_DIR:-$root/build-tsa}
analysed=(base tokenizer trajectory comm collective trajlog cluster)
command -v clang++ >/dev/null || { echo "check_thread_safety: clang++ not found (scripts/setup.sh installs clang)" >&2; exit 1; }

# Locks outside the analysed rooms would escape the analysis.
cd "$root"
unanalysed=()
for d in */CMakeLists.txt; do
  room=${d%/CMakeLists.txt}
  [[ " ${analysed[*]} tests " == *" $room "* ]] && continue
  while IFS= read -r hit; do unanalysed+=("$hit"); done < <(
    grep -nE 'std::(mutex|recursive_mutex|shared_mutex|condition_variable)|\bMutex\b|IR_GUARDED_BY' \
      "$room"/*.cc "$room"/*.h 2>/dev/null || true)
done
if ((${#unanalysed[@]})); then
  echo "check_thread_safety: locks outside the analysed rooms (${analysed[*]}); move the shared" \
       "state into one of them:" >&2
  printf '  %s\n' "${unanalysed[@]}" >&2
  exit 1
fi

if [[ ! -f "$build/build.ninja" || $# -gt 0 ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DIRANKER_THREAD_SAFETY=ON -DIRANKER_BUILD_TESTS=OFF "$@" >/dev/null
fi
jobs=${IRANKER_BUILD_JOBS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}
cmake --build "$build" -j "$jobs" --target "${analysed[@]/#/iranker_}"
echo "check_thread_safety: ${analysed[*]}: no thread-safety violation (clang -Wthread-safety)"
