#!/bin/sh
# guest_initrd.sh: the test guest's initramfs with more files in it, as a
# second cpio archive after the first (the kernel unpacks every archive of a
# concatenated initrd, later files over earlier ones).
#
# usage: guest_initrd.sh [--extra-only] [--script FILE] OUT [SRC:DEST]...
#   writes OUT: $BUILD/guest/initramfs.cpio (tools/mkguest/mkguest makes it),
#   then an archive holding
#     /bin/NAME         each tools/bench/guest/NAME.c (diskbench, scsi_write),
#                       static (built into $BUILD/bench/guest/NAME when
#                       missing or older than its source)
#     /cellvm-run.sh    FILE, with --script: the guest's init runs it when
#                       the command line has no (or an empty) cellvm.run=
#     DEST              each SRC (a file on this host), e.g. data:/data.bin
#   --extra-only: OUT is the second archive alone.
# $BUILD defaults to build.
set -eu
BUILD=${BUILD:-build}
die() { echo "guest_initrd: error: $*" >&2; exit 1; }

extra_only= script=
while [ $# -gt 0 ]; do
    case $1 in
    --extra-only) extra_only=1; shift ;;
    --script) [ $# -ge 2 ] || die "--script wants a file"; script=$2; shift 2 ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || die "usage: guest_initrd.sh [--extra-only] [--script FILE] OUT [SRC:DEST]..."
out=$1
shift

# Every tools/bench/guest/NAME.c, static, as /bin/NAME.
[ -f tools/bench/guest/diskbench.c ] || die "run from the repository's top (tools/bench/guest/ not found)"
progs=
for src in tools/bench/guest/*.c; do
    name=${src##*/}
    name=${name%.c}
    bin=$BUILD/bench/guest/$name
    if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
        mkdir -p "${bin%/*}"
        # A name of its own, then an atomic rename: two nested hosts
        # sharing the build folder may build it at once.
        new=$(mktemp "$bin.XXXXXX") || die "cannot make a file next to $bin"
        ${CC:-gcc} -static -O2 -Wall -Wextra -Werror -o "$new" "$src" -lpthread ||
            { rm -f "$new"; die "cannot build $bin (gcc -static: libc6-dev has libc.a)"; }
        mv "$new" "$bin"
    fi
    progs="$progs $bin"
done
base=$BUILD/guest/initramfs.cpio
[ -n "$extra_only" ] || [ -f "$base" ] || die "$base missing: run tools/mkguest/mkguest"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
st=$tmp/root
mkdir -p "$st/bin"
cp $progs "$st/bin/"
if [ -n "$script" ]; then
    cp "$script" "$st/cellvm-run.sh"
    chmod 755 "$st/cellvm-run.sh"
fi
for m in "$@"; do
    s=${m%%:*} d=${m#*:}
    case $d in /*) ;; *) die "$m: DEST must be absolute" ;; esac
    [ -f "$s" ] || die "no file $s"
    mkdir -p "$st/${d%/*}"
    cp "$s" "$st/$d"
done
# Directories first (sort), owned by root.
(cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$tmp/extra.cpio"
if [ -n "$extra_only" ]; then
    mv "$tmp/extra.cpio" "$out"
else
    cat "$base" "$tmp/extra.cpio" >"$out.new"
    mv "$out.new" "$out"
fi
