# lib.sh - helpers for end-to-end tests on real dynfs mounts.
#
# Each test file (tests/e2e/t_*.sh) is run by tests/e2e/run in its own
# bash with this file sourced.  It calls `mount_fresh` (a new store and a
# new mount point under a temp dir), drives the mount with real programs,
# and uses the check helpers below.  The EXIT trap always unmounts and
# removes the temp dir, whether the test passed, failed or timed out.

set -u
: "${DYNFS:?DYNFS must point at the dynfs binary}"

T=$(mktemp -d /tmp/dynfs-e2e.XXXXXX)
STORE=$T/store
MNT=$T/mnt
DYNFS_PID=
FAILS=0

cleanup() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || true
	fi
	if [ -n "$DYNFS_PID" ] && kill -0 "$DYNFS_PID" 2>/dev/null; then
		# give a clean unmount time to finish its snapshot
		for _ in $(seq 50); do kill -0 "$DYNFS_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$DYNFS_PID" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT

# mount_fresh [dynfs options...]: mount $STORE at $MNT in the background.
mount_fresh() {
	mkdir -p "$STORE" "$MNT"
	mount_store "$@"
}

# mount_store [options...]: (re)mount the existing $STORE at $MNT.
mount_store() {
	"$DYNFS" "$STORE" "$MNT" -f "$@" 2>>"$T/dynfs.log" &
	DYNFS_PID=$!
	for _ in $(seq 100); do
		mountpoint -q "$MNT" && return 0
		kill -0 "$DYNFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "mount failed; log:" >&2
	cat "$T/dynfs.log" >&2
	exit 1
}

# unmount: clean unmount, wait for the daemon to exit.
unmount() {
	fusermount3 -u "$MNT"
	for _ in $(seq 100); do kill -0 "$DYNFS_PID" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$DYNFS_PID" 2>/dev/null; then
		fail "dynfs did not exit after unmount"
	fi
	wait "$DYNFS_PID" 2>/dev/null || true
	DYNFS_PID=
}

fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
	if [ "$2" != "$3" ]; then
		fail "$1: got [$2], expected [$3]"
	fi
}

# expect_ok WHAT CMD...: the command must succeed.
expect_ok() {
	local what=$1
	shift
	if ! "$@" >"$T/out" 2>"$T/err"; then
		fail "$what: '$*' failed: $(cat "$T/err")"
	fi
}

# expect_errno WHAT ERRNO-TEXT CMD...: the command must fail and print the
# given strerror text (e.g. "Invalid argument").
expect_fail() {
	local what=$1 msg=$2
	shift 2
	if "$@" >"$T/out" 2>"$T/err"; then
		fail "$what: '$*' succeeded, expected failure ($msg)"
	elif ! grep -q "$msg" "$T/err"; then
		fail "$what: '$*' failed without '$msg': $(cat "$T/err")"
	fi
}

# run WHAT CMD...: the command must succeed (output in $T/out, $T/err).
run() {
	local what=$1
	shift
	"$@" >"$T/out" 2>"$T/err" || fail "$what: '$*' failed ($?): $(cat "$T/err")"
}

# refuse WHAT PATTERN CMD...: the command must fail and say PATTERN (grep -E).
refuse() {
	local what=$1 pattern=$2
	shift 2
	if "$@" >"$T/out" 2>"$T/err"; then
		fail "$what: '$*' succeeded"
	elif ! grep -Eq -- "$pattern" "$T/err"; then
		fail "$what: message lacks /$pattern/: $(cat "$T/err")"
	fi
}

done_test() {
	if [ "$FAILS" -ne 0 ]; then
		exit 1
	fi
	exit 0
}
