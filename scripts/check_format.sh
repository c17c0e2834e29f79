#!/usr/bin/env bash
# Checks that every C++ source of the tree is formatted by the committed .clang-format (Google
# style, 100 columns): `clang-format --dry-run -Werror`, listing the files that differ. Fix them
# with `scripts/check_format.sh --fix`. Run by .ci/run and by CTest (lint.format).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! command -v clang-format >/dev/null 2>&1; then
  echo "check_format: clang-format is not installed (scripts/setup.sh installs it)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files -co --exclude-standard '*.cc' '*.h' 2>/dev/null || find . -name '*.cc' -o -name '*.h' | grep -v -e '^./build' -e '^./third_party')
if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${files[@]}"
  echo "check_format: formatted ${#files[@]} files"
  exit 0
fi
if ! out=$(clang-format --dry-run -Werror "${files[@]}" 2>&1); then
  mapfile -t bad < <(grep -oE '^[^:]+:[0-9]+:[0-9]+: error' <<<"$out" | cut -d: -f1 | sort -u)
  echo "check_format: ${#bad[@]} of ${#files[@]} files are not clang-formatted (fix: scripts/check_format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  head -20 <<<"$out" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
