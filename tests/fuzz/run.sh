#!/bin/sh
# Fuzz picpq_search_load with libFuzzer (built by `make fuzz`).
# FUZZ_RUNS (default 1200000) executions, at most FUZZ_TIME seconds (default 600).
# New inputs go to build/fuzz/corpus; the committed seeds stay untouched.
set -e
cd "$(dirname "$0")/../.."
mkdir -p build/fuzz/corpus build/fuzz/artifacts
exec build/fuzz/search_load -runs="${FUZZ_RUNS:-1200000}" -max_total_time="${FUZZ_TIME:-600}" \
  -max_len=4096 -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ \
  build/fuzz/corpus tests/fuzz/corpus_search
