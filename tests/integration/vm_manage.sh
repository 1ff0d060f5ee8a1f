#!/bin/sh
# cellvm create/list/info/set/delete in a scratch root: the default
# hardware, changes shown by info, qemu-img agreeing on the created images,
# a hand-broken config.pvs refused with its line and field and the
# directory left as it was, the seed's limits at the bound and one past it,
# a held lock making set and delete refuse, delete removing the directory.
set -u
BUILD=${BUILD:-build}
CELLVM=$BUILD/bin/cellvm
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
ROOT=$T/root

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -x "$CELLVM" ] || fail "$CELLVM missing: build first"
command -v qemu-img >/dev/null || fail "qemu-img missing (tools/deps.sh installs qemu-utils)"

# expect RC WHAT ARGS...: cellvm ARGS --root ROOT exits RC; output in
# $T/out and $T/err.
expect() {
	want=$1 what=$2
	shift 2
	"$CELLVM" "$@" --root "$ROOT" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	[ "$rc" -eq "$want" ] || {
		cat "$T/out" "$T/err" >&2
		fail "$what: 'cellvm $*' exited $rc, expected $want"
	}
}
# has FILE PATTERN WHAT: FILE has a line matching the extended regex.
has() {
	grep -Eq -- "$2" "$1" || { cat "$1" >&2; fail "$3: no line matches '$2'"; }
}
# refused RC PATTERN ARGS...: exit RC with the error on stderr.
refused() {
	want=$1 pat=$2
	shift 2
	expect "$want" "refused" "$@"
	has "$T/err" "$pat" "cellvm $*"
	echo "ok: $(head -n 1 "$T/err")"
}
uuid_of() {
	"$CELLVM" info "$1" --json --root "$ROOT" | sed -n 's/^{"uuid": "\([^"]*\)".*/\1/p'
}

# --- help and usage ---------------------------------------------------------
for c in create list info set delete; do
	"$CELLVM" $c --help >"$T/out" 2>&1 || fail "cellvm $c --help exited $?"
	has "$T/out" "^usage: cellvm $c" "$c --help"
	has "$T/out" "^  cellvm $c" "$c --help examples"
done
refused 2 "usage: cellvm create" create
refused 2 "usage: cellvm info" info --bogus x
refused 2 "name 'a/b'" create a/b

# --- create, list, info -------------------------------------------------------
expect 0 "create" create web1
has "$T/out" "^Created VM 'web1' \([0-9a-f-]{36}\) in $ROOT/" "create"
U=$(uuid_of web1)
D=$ROOT/$U
[ -f "$D/config.pvs" ] && [ -f "$D/harddisk.hdd" ] || fail "create: $D lacks config.pvs or harddisk.hdd"
refused 1 "a VM named 'web1' exists" create web1

expect 0 "list" list
grep -q web1 "$T/out" && fail "list without --all shows the stopped web1"
expect 0 "list --all" list --all
has "$T/out" "^$U +web1 +stopped +2 +2G$" "list --all"
expect 0 "list --all --json" list --all --json
has "$T/out" "\"uuid\": \"$U\", \"name\": \"web1\", \"state\": \"stopped\", \"cpus\": 2, \"memory\": 2147483648" "list --json"

expect 0 "info" info web1
has "$T/out" "^State: +stopped" "info"
has "$T/out" "^  hdd0 +virtio-scsi +image harddisk.hdd +size 64G" "info: default disk"
has "$T/out" "^  cdrom0 +virtio-scsi +image \(empty\)" "info: linux CD-ROM on virtio-scsi"
has "$T/out" "^  net0 +virtio +bridge br0 +mac 52(:[0-9a-f]{2}){5}" "info: bridged adapter"
has "$T/out" "^  video +memory 32M" "info: video"
expect 0 "info by UUID" info "$U" --json
has "$T/out" "\"name\": \"web1\"" "info --json by UUID"

expect 0 "create debian" create deb --distribution debian --disk-size 100M
expect 0 "info debian" info deb
has "$T/out" "^  cdrom0 +ide \(not available yet\)" "info: debian CD-ROM on IDE"

# --- set: more RAM and a disk -------------------------------------------------
expect 0 "set" set web1 --memsize 4G --device-add hdd --size 1G
has "$T/out" "added hdd1: virtio-scsi, image harddisk1.hdd, size 1G" "set"
expect 0 "info after set" info web1
has "$T/out" "^Memory: +4G" "info after set: memory"
has "$T/out" "^  hdd1 +virtio-scsi +image harddisk1.hdd +size 1G" "info after set: hdd1"

# qemu-img agrees on the images cellvm made: qcow2, the sizes, expanding, clean.
for f in harddisk.hdd:68719476736 harddisk1.hdd:1073741824; do
	img=$D/${f%%:*}
	qemu-img info --output=json "$img" >"$T/qi" 2>&1 || fail "qemu-img info $img: $(cat "$T/qi")"
	has "$T/qi" '"format": "qcow2"' "qemu-img info $img"
	has "$T/qi" "\"virtual-size\": ${f#*:}," "qemu-img info $img"
	actual=$(sed -n 's/^ *"actual-size": \([0-9]*\).*/\1/p' "$T/qi")
	[ "$actual" -lt 10485760 ] || fail "$img is not expanding: $actual bytes on disk"
	qemu-img check "$img" >"$T/qc" 2>&1 || fail "qemu-img check $img: $(cat "$T/qc")"
done

# --- a hand-broken config.pvs -------------------------------------------------
cp "$D/config.pvs" "$T/good.pvs"
line=$(grep -n '<memory>4G</memory>' "$D/config.pvs" | cut -d: -f1)
[ -n "$line" ] || fail "config.pvs has no <memory>4G</memory>: $(cat "$D/config.pvs")"
sed -i 's|<memory>4G</memory>|<memory>12X</memory>|' "$D/config.pvs"
snapshot() { (cd "$D" && ls -la --time-style=+%s . && md5sum ./*) >"$1"; }
snapshot "$T/before"
refused 1 "$D/config.pvs:$line: <memory>: '12X' is not a size" info web1
refused 1 "$D/config.pvs:$line: <memory>: '12X' is not a size" info "$U"
refused 1 "$D/config.pvs:$line: <memory>: '12X' is not a size" set "$U" --cpus 3
expect 0 "list --all with a broken VM" list --all
has "$T/out" "^$U +- +broken" "list --all: broken VM"
has "$T/err" "config.pvs:$line: <memory>" "list --all: the reason"
sed -i 's|</vm>|</v|' "$D/config.pvs"
snapshot "$T/before"
refused 1 "$D/config.pvs:[0-9]+: not well-formed XML" info "$U"
snapshot "$T/after"
cmp -s "$T/before" "$T/after" || fail "the directory changed: $(diff "$T/before" "$T/after")"
cp "$T/good.pvs" "$D/config.pvs"
expect 0 "info once repaired" info web1

# --- limits through the CLI, at the bound and one past it -----------------------
expect 0 "cpus 64" create c64 --cpus 64 --disk-size 100M
refused 2 "--cpus: 65 CPUs: a VM has 1 to 64" create c65 --cpus 65
refused 2 "--cpus: 0 CPUs" create c0 --cpus 0
[ "$(ls "$ROOT" | grep -c -- -)" -eq 3 ] || fail "a refused create left a directory: $(ls "$ROOT")"
expect 0 "set cpus 64" set web1 --cpus 64
refused 2 "--cpus: 65 CPUs" set web1 --cpus 65
expect 0 "memsize 16M" set web1 --memsize 16M
refused 2 "--memsize: 16380K: a VM has 16M to 1T" set web1 --memsize 16380K
refused 2 "--memsize: 1025G: a VM has 16M to 1T" set web1 --memsize 1025G
host=$(( $(getconf _PHYS_PAGES) * $(getconf PAGESIZE) ))
if [ "$host" -lt $((1 << 40)) ]; then
	refused 2 "more than the host's RAM" set web1 --memsize 1T
else
	expect 0 "memsize 1T" set web1 --memsize 1T
fi
refused 2 "--memsize 12X: not a size" set web1 --memsize 12X
expect 0 "videosize 256M" set web1 --videosize 256M
refused 2 "--videosize: 257M: video memory is 1M to 256M" set web1 --videosize 257M
expect 0 "disk 100M" set deb --device-add hdd --size 100M
refused 2 "--size: 99M: a hard disk is 100M to 16T" set deb --device-add hdd --size 99M
expect 0 "disk 16T" set deb --device-add hdd --size 16T
refused 2 "--size: 17T: a hard disk is 100M to 16T" set deb --device-add hdd --size 17T
refused 2 "--disk-size: 99M" create small --disk-size 99M
expect 0 "info deb" info deb --json
has "$T/out" '"size": 17592186044416' "the 16T disk"

# 15 virtio-blk disks, then one more.
i=0
while [ $i -lt 15 ]; do
	expect 0 "virtio-blk disk $i" set c64 --device-add hdd --size 100M --interface virtio-blk
	i=$((i + 1))
done
refused 1 "at most 15 virtio-blk devices" set c64 --device-add hdd --size 100M --interface virtio-blk
# virtio-scsi: c64 has hdd0 and cdrom0 there; 13 more drives make 15.
i=0
while [ $i -lt 13 ]; do
	expect 0 "scsi drive $i" set c64 --device-add cdrom --interface virtio-scsi
	i=$((i + 1))
done
refused 1 "at most 15 virtio-scsi devices" set c64 --device-add cdrom --interface virtio-scsi
# IDE: deb has its CD-ROM there; 3 more make 4.
for i in 1 2 3; do
	expect 0 "ide drive $i" set deb --device-add cdrom --interface ide
done
refused 1 "at most 4 ide devices" set deb --device-add cdrom --interface ide
i=1
while [ $i -lt 15 ]; do
	expect 0 "adapter $i" set c64 --device-add net --bridge br1
	i=$((i + 1))
done
refused 1 "at most 15 network adapters" set c64 --device-add net
for i in 0 1 2 3; do
	expect 0 "serial $i" set c64 --device-add serial
done
has "$T/out" "added serial3: output serial3.txt" "the 4th serial port"
refused 1 "at most 4 serial ports" set c64 --device-add serial
refused 1 "--device-del hdd99: no such device" set c64 --device-del hdd99
expect 0 "device-del" set c64 --device-del serial1
expect 0 "info c64" info c64
grep -q '^  serial3' "$T/out" && fail "serial1 removed, yet 4 serial ports"
has "$T/out" "^  serial2 +output serial3.txt" "the ports after serial1 moved up"

# A COM1 that is a unix socket is not relayed: console says where it is.
expect 0 "create con" create con
expect 0 "COM1 as a socket" set con --device-add serial --socket com1.sock
refused 1 "COM1 of VM 'con' is the unix socket $ROOT/[0-9a-f-]*/com1.sock" console con
expect 0 "delete con" delete con

# --- the lock: a running VM's set and delete are refused ------------------------
(exec 9>>"$D/.lock"; flock -n 9 || exit 1; exec sleep 60) &
holder=$!
n=0
until "$CELLVM" list --root "$ROOT" | grep -q "web1 .*running"; do
	n=$((n + 1))
	[ $n -lt 50 ] || { kill $holder; fail "list never showed web1 running while its lock is held"; }
	sleep 0.1
done
refused 1 "VM 'web1' is running \($D/.lock is held\)" set web1 --cpus 2
refused 1 "VM 'web1' is running" delete web1
refused 1 "VM 'web1' is running" delete "$U"
[ -f "$D/config.pvs" ] || { kill $holder; fail "a refused delete removed files"; }
kill $holder
wait $holder 2>/dev/null

# --- delete ---------------------------------------------------------------------
expect 0 "delete" delete web1
has "$T/out" "^Deleted VM 'web1': removed $D" "delete"
[ ! -e "$D" ] || fail "delete left $D"
refused 1 "no VM named 'web1'" delete web1
# A broken VM goes by its UUID.
U2=$(uuid_of deb)
echo '<vm' >"$ROOT/$U2/config.pvs"
refused 1 "no VM named .deb.*broken config.pvs and go by UUID" delete deb
expect 0 "delete a broken VM by UUID" delete "$U2"
[ ! -e "$ROOT/$U2" ] || fail "delete left $ROOT/$U2"

# --- CELLVM_ROOT ----------------------------------------------------------------
CELLVM_ROOT=$T/envroot "$CELLVM" create envvm --disk-size 100M >/dev/null 2>"$T/err" ||
	fail "create with CELLVM_ROOT: $(cat "$T/err")"
ls "$T"/envroot/*/config.pvs >/dev/null 2>&1 || fail "CELLVM_ROOT was not used"
echo "vm_manage: ok"
