#!/bin/sh
# Build bench/deliver_bench against the static libraries of a Meson build
# dir (the top-level meson.build does not know about bench/):
#
#   meson setup build && ninja -C build && bench/build.sh build
#
# Output: BUILD/bench/deliver_bench. Extra compiler flags via CFLAGS
# (default -O2 -g). Use a non-sanitized build dir: a sanitizer build's
# libraries need the same -fsanitize flags here (CFLAGS=-fsanitize=address,undefined).
set -eu
BUILD=${1:?usage: bench/build.sh BUILD_DIR}
SRC=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-gcc}
CFLAGS=${CFLAGS:--O2 -g}
for lib in store mime base; do
	test -f "$BUILD/src/$lib/libroost_$lib.a" ||
		{ echo "bench/build.sh: no $BUILD/src/$lib/libroost_$lib.a (run ninja -C $BUILD)" >&2; exit 1; }
done
mkdir -p "$BUILD/bench"
# shellcheck disable=SC2086 # CFLAGS and pkg-config output are word lists
$CC -std=c17 -D_GNU_SOURCE -Wall -Wextra $CFLAGS -I"$SRC/src" \
	-o "$BUILD/bench/deliver_bench" "$SRC/bench/deliver_bench.c" \
	"$BUILD/src/store/libroost_store.a" "$BUILD/src/mime/libroost_mime.a" \
	"$BUILD/src/base/libroost_base.a" \
	$(pkg-config --cflags --libs sqlite3 openssl) -lpthread -lm
echo "built $BUILD/bench/deliver_bench"
