#!/bin/sh
# Search scale-out by discrete-event simulation (issue 8): async vs synchronous
# generations for 8, 64 and 1024 simulated workers. Builds against lib/ (run
# `make` first; `make bench` does).
set -e
cd "$(dirname "$0")/../.."
mkdir -p build/bench
${CC:-cc} -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -Iinclude -o build/bench/search_sim \
  bench/search_sim/search_sim.c lib/libpicpq.a -lm
echo "== bench/search_sim ($(date -u '+%Y-%m-%d %H:%M UTC'))"
build/bench/search_sim
