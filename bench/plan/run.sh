#!/bin/sh
# bench/plan: microseconds per global pruning plan (ResNet-56, VGG-16,
# MobileNetV2) in libpicpq, next to the reference's greedy rule in plain
# Python/numpy (bench_plan.py), which also checks that both give the same
# faithful plans. Usage: sh bench/plan/run.sh (from anywhere; run `make` first,
# `make bench` does). Needs /usr/bin/python3 with numpy.
set -e
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-/usr/bin/python3}"
[ -f lib/libpicpq.so ] || make DEPS=0 all >/dev/null
mkdir -p build/bench
${CC:-cc} -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -Iinclude -Itests \
  -o build/bench/plan bench/plan/bench_plan.c -Llib -lpicpq -lm -Wl,-rpath,"$(pwd)/lib"
echo "== bench/plan ($(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg))"
build/bench/plan
"$PYTHON" bench/plan/bench_plan.py build/bench/plan
