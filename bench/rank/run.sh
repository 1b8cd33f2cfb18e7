#!/bin/sh
# bench/rank: libpicpq's streaming rank versus torch.linalg.matrix_rank
# (batched, same thread count) and numpy.linalg.matrix_rank, side by side.
# Usage: sh bench/rank/run.sh [--quick] [--verify]
#   --quick   fewer maps, one repetition (a smoke run)
#   --verify  also check on ~100,000 maps that the certificate never changes
#             a rank compared with sgesdd (bench/rank/verify_exact.py)
# Needs lib/libpicpq.a (make) and /usr/bin/python3 with numpy and torch.
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -f "$ROOT/lib/libpicpq.a" ] || make -C "$ROOT" DEPS=0 all >/dev/null
LIBS="$(pkg-config --libs lapacke openblas) -lm -pthread"
$CC -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -D_POSIX_C_SOURCE=200809L \
  -I"$ROOT/include" -I"$ROOT/src" "$ROOT/bench/rank/bench_rank.c" "$ROOT/lib/libpicpq.a" \
  $LIBS -o "$OUT/bench_rank"
echo "== bench/rank ($(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg))"
QUICK=
VERIFY=
for a in "$@"; do
  case "$a" in --quick) QUICK=--quick ;; --verify) VERIFY=1 ;; esac
done
"$PYTHON" "$ROOT/bench/rank/bench_rank.py" "$OUT/bench_rank" $QUICK
if [ -n "$VERIFY" ]; then
  $CC -shared -fPIC -O2 -I"$ROOT/include" -I"$ROOT/src" "$ROOT/bench/rank/probe.c" \
    -Wl,--whole-archive "$ROOT/lib/libpicpq.a" -Wl,--no-whole-archive $LIBS -o "$OUT/probe.so"
  "$PYTHON" "$ROOT/bench/rank/verify_exact.py" "$OUT/probe.so"
fi
