#!/bin/sh
# Build the library sources and tests/tsan_threads.c with ThreadSanitizer (gcc or clang:
# TSAN_CC) and run it; any race report or failed check exits non-zero.
# OpenBLAS is not instrumented, so its own threads are pinned to one (the library's
# threads are what this checks).
set -e
cd "$(dirname "$0")/../.."
cc=${TSAN_CC:-cc}
mkdir -p build/tsan
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
$cc -std=c99 -g -O1 -fsanitize=thread -fno-omit-frame-pointer -Iinclude -Isrc \
  -D_POSIX_C_SOURCE=200809L $(pkg-config --cflags lapacke openblas 2>/dev/null) \
  -o build/tsan/tsan_threads tests/tsan_threads.c src/*.c \
  $(pkg-config --libs lapacke openblas 2>/dev/null) -lm -pthread
OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" \
  build/tsan/tsan_threads
