#!/bin/sh
# Build and run one libFuzzer harness: sh tests/fuzz/run.sh [NAME [SECONDS]]
#   NAME     tests/fuzz/fuzz_NAME.c (default search_load, what `make fuzz` runs)
#   SECONDS  time limit (default FUZZ_TIME, else 600)
# At most FUZZ_RUNS executions (default 1200000). The harness is built here with clang
# (FUZZ_CC) from the library sources under ASan/UBSan, so that a new harness needs no
# Makefile rule; it is rebuilt when a source is newer. Seeds: tests/fuzz/corpus_NAME
# (corpus_search for search_load), read only; new inputs go to build/fuzz/corpus_NAME,
# crashes to build/fuzz/artifacts/.
set -e
cd "$(dirname "$0")/../.."
name=${1:-search_load}
secs=${2:-${FUZZ_TIME:-600}}
src=tests/fuzz/fuzz_$name.c
[ -f "$src" ] || { echo "run.sh: no harness $src" >&2; exit 2; }
seeds=tests/fuzz/corpus_$name
[ "$name" = search_load ] && seeds=tests/fuzz/corpus_search
bin=build/fuzz/$name
cc=${FUZZ_CC:-clang}
mkdir -p build/fuzz/corpus_$name build/fuzz/artifacts
if [ ! -x "$bin" ] || [ -n "$(find src include tests/fuzz -newer "$bin" \( -name '*.c' -o -name '*.h' \) | head -n 1)" ]; then
  # shellcheck disable=SC2046 # pkg-config prints several words on purpose
  $cc -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer -Iinclude -Isrc -Itests/fuzz -D_POSIX_C_SOURCE=200809L \
    $(pkg-config --cflags lapacke openblas 2>/dev/null) -o "$bin" "$src" src/*.c \
    $(pkg-config --libs lapacke openblas 2>/dev/null) -lm -pthread
fi
set -- build/fuzz/corpus_$name
[ -d "$seeds" ] && set -- "$@" "$seeds"
exec "$bin" -runs="${FUZZ_RUNS:-1200000}" -max_total_time="$secs" -max_len="${FUZZ_MAX_LEN:-4096}" \
  -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ "$@"
