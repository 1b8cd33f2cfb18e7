#!/bin/sh
# Quantizer benchmark: the C driver (quantizers, pack/unpack GB/s) and the
# side-by-side comparison with torch (speed and agreement), 1 thread each.
# Run from anywhere after `make`; `make bench` runs it.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/bench"
mkdir -p "$out"
${CC:-cc} -std=c99 -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -I"$root/include" \
  -o "$out/bench_quant" "$here/bench_quant.c" -L"$root/lib" -lpicpq -lm -Wl,-rpath,"$root/lib"
echo "== C driver ($(date -u +%Y-%m-%dT%H:%MZ))"
OMP_NUM_THREADS=1 "$out/bench_quant"
echo "== torch side by side"
OMP_NUM_THREADS=1 /usr/bin/python3 "$here/compare_torch.py" "$root/lib/libpicpq.so"
if [ "${QUANT_TANHF_CHECK:-0}" = 1 ]; then
  ${CC:-cc} -std=c99 -O2 -Wall -Wextra -Werror -o "$out/tanhf_check" "$here/tanhf_check.c" -lm
  echo "== exhaustive tanhf check"
  "$out/tanhf_check"
fi
