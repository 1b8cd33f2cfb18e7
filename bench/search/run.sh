#!/bin/sh
# Search overhead: libpicpq ask + tell vs the reference's numpy EA loop.
# Builds the C driver against lib/ (run `make` first; `make bench` does).
set -e
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-/usr/bin/python3}"
mkdir -p build/bench
${CC:-cc} -std=c99 -O2 -Iinclude -o build/bench/search bench/search/bench_search.c \
  -Llib -lpicpq -lm -Wl,-rpath,"$(pwd)/lib"
echo "== bench/search ($(date -u '+%Y-%m-%d %H:%M UTC'))"
build/bench/search
"$PYTHON" bench/search/reference_ea.py
