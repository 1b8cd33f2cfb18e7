#!/bin/sh
# ONNX Runtime (CPU) for the ONNX tests: npm's onnxruntime-node (which ships
# libonnxruntime.so) installed into build/ort, without its install scripts.
# Where npm or the registry cannot be had, the tests that need it say so and
# skip. Idempotent.
set -eu
cd "$(dirname "$0")/.."
[ -d build/ort/node_modules/onnxruntime-node ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get install -y -qq nodejs npm >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
    else
        echo "install-ort: npm not found; the ONNX Runtime tests will be skipped" >&2
        exit 0
    fi
fi
mkdir -p build/ort
if npm install --ignore-scripts --no-audit --no-fund --prefix build/ort onnxruntime-node \
    >build/ort/install.log 2>&1; then
    echo "install-ort: onnxruntime-node in build/ort"
else
    echo "install-ort: npm install failed (build/ort/install.log); the ONNX Runtime tests" \
        "will be skipped" >&2
fi
