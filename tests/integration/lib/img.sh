# Shared by tests/integration/img_*.sh (sourced).  Sets IMG (cellvm-img),
# WRITER (the img_writer helper), a scratch directory $tmp removed at exit,
# and small helpers.  qemu-img and qemu-io are the reference.
set -u
BUILD=${BUILD:-build}
IMG=$BUILD/bin/cellvm-img
WRITER=$BUILD/test-bin/img_writer

# On tmpfs when there is one: the tests flush often, and what they check
# (process crashes, metadata) does not need a disk.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	tmp=$(mktemp -d -p /dev/shm) || exit 1
else
	tmp=$(mktemp -d) || exit 1
fi
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -x "$IMG" ] || fail "$IMG missing: build first"
for t in qemu-img qemu-io; do
	command -v $t >/dev/null || fail "$t missing (tools/deps.sh installs qemu-utils)"
done

# run WHAT CMD...: CMD must exit 0; its output goes to $tmp/out and $tmp/err.
run() {
	what=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 0 ] || {
		cat "$tmp/out" "$tmp/err" >&2
		fail "$what: '$*' exited $rc"
	}
}

# expect_rc WANT WHAT CMD...: CMD must exit WANT.
expect_rc() {
	want=$1 what=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq "$want" ] || {
		cat "$tmp/out" "$tmp/err" >&2
		fail "$what: '$*' exited $rc, expected $want"
	}
}

# jfield FILE KEY: the value of the first "KEY": VALUE line of a JSON file
# as qemu-img and cellvm-img print it (one field a line), quotes kept.
jfield() {
	sed -n "s/^ *\"$2\": \\(.*\\)\$/\\1/p" "$1" | sed 's/,$//' | head -n 1
}

# qio IMAGE CMD...: qemu-io commands on a qcow2 image.
qio() {
	f=$1
	shift
	for c in "$@"; do set -- "$@" -c "$c"; shift; done
	qemu-io -f qcow2 "$@" "$f" >"$tmp/qio.out" 2>&1 || {
		cat "$tmp/qio.out" >&2
		fail "qemu-io on $f failed"
	}
}

# same_as_qemu WHAT IMAGE: cellvm-img convert -O raw gives the bytes
# qemu-img convert -O raw gives.
same_as_qemu() {
	rm -f "$tmp/ours.raw" "$tmp/qemus.raw"
	run "$1: cellvm-img convert" "$IMG" convert -O raw "$2" "$tmp/ours.raw"
	run "$1: qemu-img convert" qemu-img convert -O raw "$2" "$tmp/qemus.raw"
	cmp "$tmp/ours.raw" "$tmp/qemus.raw" >/dev/null ||
		fail "$1: cellvm-img convert -O raw differs from qemu-img's ($(cmp "$tmp/ours.raw" "$tmp/qemus.raw" 2>&1))"
}
