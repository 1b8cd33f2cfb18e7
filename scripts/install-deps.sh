#!/bin/sh
# Install the Debian packages libpicpq needs. Idempotent: nothing happens when
# everything is present, and `apt-get update` runs at most once.
#
#   scripts/install-deps.sh [GROUP...]     default groups: core python torch mpi ort
#
#   core    build and C tests: compiler, OpenBLAS, LAPACKE, Check, pkg-config,
#           abigail-tools (make abi-check), valgrind (make check-valgrind)
#   python  ctypes binding tests and `make check-pip`: python3, pytest, numpy, venv, pip
#   torch   benchmarks and the PyTorch examples: torch, torchvision, tqdm,
#           matplotlib, the Fashion-MNIST data set, onnx and OpenCV (ONNX export tests)
#   fuzz    libFuzzer harnesses (make fuzz, make fuzz-smoke): clang and its fuzzer runtime
#   lint    make lint and make format: clang-format, flake8
#   mpi     scale-out examples: Open MPI and mpi4py
#   docs    the HTML manual from the header: doxygen
#   arm     make runtime-m4 (Cortex-M4 build of the runtime): gcc-arm-none-eabi, newlib
#   ort     ONNX Runtime from npm (onnxruntime-node) in build/ort: scripts/install-ort.sh
#
# DEPS=0 in the environment skips everything (make DEPS=0 check).
set -eu

[ "${DEPS:-1}" = 0 ] && exit 0

pkgs_for() {
    case "$1" in
    core) echo "gcc g++ make libc6-dev libopenblas-dev liblapacke-dev check pkg-config abigail-tools valgrind" ;;
    python) echo "python3 python3-pytest python3-numpy python3-venv python3-pip python3-setuptools python3-wheel" ;;
    torch) echo "python3-torch python3-torchvision python3-tqdm python3-matplotlib dataset-fashion-mnist python3-onnx python3-opencv" ;;
    fuzz) echo "clang libclang-rt-14-dev" ;;
    lint) echo "clang-format python3-flake8" ;;
    mpi) echo "openmpi-bin libopenmpi-dev python3-mpi4py" ;;
    docs) echo "doxygen" ;;
    arm) echo "gcc-arm-none-eabi libnewlib-arm-none-eabi" ;;
    *) echo "install-deps: unknown group '$1' (core python torch fuzz lint mpi docs ort)" >&2; exit 2 ;;
    esac
}

[ $# -gt 0 ] || set -- core python torch mpi ort
# ort is npm's ONNX Runtime, not a Debian package: scripts/install-ort.sh
apt_groups=""
for g in "$@"; do
    if [ "$g" = ort ]; then sh "$(dirname "$0")/install-ort.sh"; else apt_groups="$apt_groups $g"; fi
done
# shellcheck disable=SC2086
set -- $apt_groups
[ $# -gt 0 ] || exit 0
wanted=""
for g in "$@"; do wanted="$wanted $(pkgs_for "$g")"; done

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for p in $wanted; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $p"
    done
else
    missing="$wanted"
fi
[ -n "$missing" ] || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: this is not a Debian/Ubuntu system. Install by hand the equivalents of:" >&2
    echo "  $missing" >&2
    echo "then run make with DEPS=0." >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "run as root:  apt-get update && apt-get install -y$missing" >&2
    echo "then run make with DEPS=0." >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Try with the package lists as they are; on failure (unknown package, stale
# lists) update them once and try again.
# shellcheck disable=SC2086
if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "install-deps: done"
