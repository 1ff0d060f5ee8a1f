#!/bin/sh
# Installs the Debian packages that the build, tests, fuzzers and benchmarks
# need.  Idempotent: prints nothing and does nothing when all are present.
set -e
pkgs="gcc make pkg-config libc6-dev libevent-dev libprotobuf-c-dev protobuf-c-compiler
      libseccomp-dev uuid-dev libcmocka-dev clang libclang-rt-14-dev socat
      acpica-tools zlib1g-dev libzstd-dev libxml2-dev qemu-utils e2fsprogs genisoimage
      iproute2 util-linux systemd"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
