#!/bin/sh
# Install into a scratch prefix, then build and run a program with nothing but
# `pkg-config --cflags --libs picpq`, as a user of the installed library would.
set -eu
make=${MAKE:-make}
prefix=$(pwd)/build/install-test
rm -rf "$prefix"
$make --no-print-directory DEPS=0 install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cat > build/install-test/use.c <<'C'
#include <picpq.h>
#include <stdio.h>
int main(void) { printf("installed libpicpq %s\n", picpq_version_string()); return 0; }
C
# shellcheck disable=SC2046
${CC:-cc} build/install-test/use.c -o build/install-test/use $(pkg-config --cflags --libs picpq)
LD_LIBRARY_PATH="$prefix/lib" build/install-test/use
$make --no-print-directory DEPS=0 uninstall PREFIX="$prefix" >/dev/null
left=$(find "$prefix" -type f ! -path '*/use*' | wc -l)
[ "$left" = 0 ] || { echo "install_test: uninstall left $left files" >&2; exit 1; }
