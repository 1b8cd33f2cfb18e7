#!/bin/sh
# bench/qat: the pipeline's costs on CPU — a QAT training step over a plain one
# (target <= 1.5x), a search candidate's model building with and without a deep
# copy (vgg11_bn), and a short training run beside one busy loop per core with
# and without the pipeline's threading defaults. Usage: sh bench/qat/run.sh
# (from anywhere; `make bench` runs it). Needs /usr/bin/python3 with torch and
# torchvision. Results: docs/BENCHMARKS.md.
set -e
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-/usr/bin/python3}"
[ -f lib/libpicpq.so ] || make DEPS=0 all >/dev/null
export PICPQ_LIBRARY="$(pwd)/lib/libpicpq.so"
echo "== bench/qat ($(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$PYTHON" bench/qat/qat_step.py
"$PYTHON" bench/qat/candidate_copy.py
"$PYTHON" bench/qat/busy.py
