#!/bin/sh
# make install into a DESTDIR: the files are where docs/vm-management.md
# says, systemd-analyze accepts the unit, the installed cellvm finds
# cellvm-core and the device programs under libexec/cellvm, and a program
# built with pkg-config's flags for cellvm-client links against the
# installed library and runs.
set -u
BUILD=${BUILD:-build}
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/dest
P=/usr/local

make -s install BUILD="$BUILD" DESTDIR="$D" PREFIX=$P >"$T/make.out" 2>&1 ||
    { cat "$T/make.out"; fail "make install failed"; }
for f in bin/cellvm bin/cellvm-img libexec/cellvm/cellvm-core libexec/cellvm/cellvm-dev-uart \
    libexec/cellvm/cellvm-dev-disk libexec/cellvm/cellvm-dev-net libexec/cellvm/cellvm-devrun \
    lib/libcellvm-client.so.0 lib/libcellvm-client.so include/cellvm.h \
    lib/pkgconfig/cellvm-client.pc lib/systemd/system/cellvm@.service; do
    [ -e "$D$P/$f" ] || fail "make install did not install $P/$f"
done
[ ! -e "$D$P/bin/cellvm-core" ] || fail "cellvm-core is in bin (it belongs in libexec/cellvm)"
grep -q "^ExecStart=$P/bin/cellvm start --foreground %i" "$D$P/lib/systemd/system/cellvm@.service" ||
    fail "cellvm@.service does not run $P/bin/cellvm start --foreground"

# systemd's own check of the unit (an instance of the template, installed
# where its ExecStart points): directives, and that the programs exist.
make -s install BUILD="$BUILD" PREFIX="$T/prefix" >"$T/make2.out" 2>&1 ||
    { cat "$T/make2.out"; fail "make install PREFIX=$T/prefix failed"; }
u=$T/prefix/lib/systemd/system
cp "$u/cellvm@.service" "$u/cellvm@web1.service"
# (It exits 0 on unknown keys and bad values, so any output is a failure.)
systemd-analyze verify "$u/cellvm@web1.service" >"$T/verify.out" 2>&1 && [ ! -s "$T/verify.out" ] ||
    { cat "$T/verify.out"; fail "systemd-analyze verify finds fault with cellvm@.service"; }

env -u CELLVM_BIN_DIR "$D$P/bin/cellvm" run --help >"$T/help.out" 2>&1 || { cat "$T/help.out"; fail "installed cellvm run --help failed"; }
grep -q "^Internal programs (cellvm-core, cellvm-dev-\*) from: $D$P/libexec/cellvm\$" "$T/help.out" ||
    { tail -3 "$T/help.out"; fail "the installed cellvm does not look in $D$P/libexec/cellvm"; }

export PKG_CONFIG_PATH="$D$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
flags=$(pkg-config --cflags --libs cellvm-client) || fail "pkg-config cellvm-client failed"
cat >"$T/client.c" <<'C'
#include <cellvm.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	char dir[4096], err[512];
	(void)argc;
	if (cellvm_find(argv[1], "nosuchvm", dir, sizeof(dir), err, sizeof(err)) == 0)
		return 1;
	printf("%s\n", err);
	return cellvm_is_running(argv[1]) ? 1 : 0;
}
C
${CC:-gcc} -Wall -Werror -o "$T/client" "$T/client.c" $flags >"$T/cc.out" 2>&1 ||
    { cat "$T/cc.out"; fail "cannot build a client with pkg-config cellvm-client ($flags)"; }
mkdir "$T/root"
LD_LIBRARY_PATH="$D$P/lib" "$T/client" "$T/root" >"$T/client.out" 2>&1 ||
    { cat "$T/client.out"; fail "the client program failed"; }
grep -q "nosuchvm" "$T/client.out" || { cat "$T/client.out"; fail "cellvm_find's error does not name the VM"; }
echo "ok: make install layout, the systemd unit verified, libexec lookup, pkg-config cellvm-client"
