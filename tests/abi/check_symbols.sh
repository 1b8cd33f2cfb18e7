#!/bin/sh
# The shared library must export exactly the picpq_* names of the version
# script: nothing more (a leaked helper) and nothing less (a listed symbol
# that was never built).
set -eu
so=$1
map=$2
exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sed 's/@.*//' | grep -v '^PICPQ_' | sort)
listed=$(sed -n 's/^[[:space:]]*\(picpq_[a-z0-9_]*\);.*/\1/p' "$map" | sort)
if [ "$exported" != "$listed" ]; then
    echo "check_symbols: exports of $so differ from $map" >&2
    printf '%s\n' "$exported" > "${TMPDIR:-/tmp}/picpq_exported.$$"
    printf '%s\n' "$listed" | diff "${TMPDIR:-/tmp}/picpq_exported.$$" - >&2 || true
    rm -f "${TMPDIR:-/tmp}/picpq_exported.$$"
    exit 1
fi
bad=$(printf '%s\n' "$exported" | grep -v '^picpq_' || true)
[ -z "$bad" ] || { echo "check_symbols: non-picpq exports: $bad" >&2; exit 1; }
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case "$soname" in
libpicpq.so.[0-9]*) ;;
*) echo "check_symbols: bad soname '$soname'" >&2; exit 1 ;;
esac
echo "check_symbols: $(printf '%s\n' "$exported" | wc -l) symbols, soname $soname: ok"
