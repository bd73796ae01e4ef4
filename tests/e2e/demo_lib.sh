# demo_lib.sh - shared by t_demo.sh, t_readme.sh, t_scripts.sh and t_install.sh (sourced
# after lib.sh; not a test itself): mount the demo database with
# scripts/demo, as a newcomer would, at the harness's $MNT.
#
# scripts/demo starts dynfs in the background (no -f), so the daemon is not
# our child; its pid is read from the store's lock file (docs/formats.md:
# the read-write holder writes its pid there), which lets lib.sh's
# `unmount` and EXIT cleanup wait for it like for a foreground mount.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EXTRA_MNTS=() # other mount points a test made; unmounted at exit

demo_cleanup() {
	local m
	for m in ${EXTRA_MNTS[@]+"${EXTRA_MNTS[@]}"}; do
		if mountpoint -q "$m" 2>/dev/null || ! stat "$m" >/dev/null 2>&1; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
		fi
	done
	cleanup
}
trap demo_cleanup EXIT

# demo_mount [scripts/demo options]: create the demo store at $STORE and
# mount it at $MNT; the output is in $T/demo.out.  Fails the test (and
# stops it) if that does not work.
demo_mount() {
	if ! (cd "$T" && "$REPO/scripts/demo" --store "$STORE" --mnt "$MNT" "$@") \
		>"$T/demo.out" 2>&1; then
		echo "scripts/demo failed:" >&2
		cat "$T/demo.out" >&2
		exit 1
	fi
	mountpoint -q "$MNT" || { echo "scripts/demo did not mount $MNT" >&2; exit 1; }
	DYNFS_PID=$(cat "$STORE/lock")
}

# unmount_at MNT STORE: unmount a mount made in the background and wait
# until its dynfs has closed the store (the lock is free).  Waiting for the
# pid would be slower: the daemon is re-parented to init, and an exited
# process stays visible to kill -0 until init reaps it.
unmount_at() {
	fusermount3 -u "$1" || fail "fusermount3 -u $1 failed"
	flock -w 10 "$2/lock" true || fail "the dynfs of $2 did not exit after unmounting $1"
}

# demo_unmount: unmount_at $MNT $STORE.
demo_unmount() {
	unmount_at "$MNT" "$STORE"
	DYNFS_PID=
}

# section TITLE: a test section's heading, with the time it started.
section() { echo "--- $* (at ${SECONDS}s)"; }

# The demo tests' run and refuse replace lib.sh's: a script's output and
# its messages both go to $T/out, and refuse checks the exit status too.
# refuse WHAT STATUS PATTERN CMD...: CMD must exit with STATUS and print PATTERN.
refuse() {
	local what=$1 status=$2 pattern=$3 rc=0
	shift 3
	"$@" >"$T/out" 2>&1 || rc=$?
	if [ "$rc" != "$status" ]; then
		fail "$what: exit $rc, expected $status: $(head -c 600 "$T/out")"
	elif ! grep -Eq -- "$pattern" "$T/out"; then
		fail "$what: output lacks /$pattern/: $(head -c 600 "$T/out")"
	fi
}
# run WHAT CMD...: CMD must succeed; its output is in $T/out.
run() {
	local what=$1
	shift
	"$@" >"$T/out" 2>&1 || fail "$what: '$*' failed: $(head -c 600 "$T/out")"
}
