#!/bin/bash
# bench/lib.sh - what the benchmark scripts share (sourced by bash scripts
# running with `set -eu`): one work directory removed at exit, and the
# filesystems they mount in the foreground-in-background style (`-f ... &`)
# unmounted at exit -- lazily if something still holds them -- with their
# processes waited for, so that no run leaves a mount or a daemon behind.
#
#   bench_init NAME        BASE := a new directory NAME.XXXXXX under
#                          ${BENCH_STORE_DIR:-/tmp}; sets the EXIT trap
#   bench_mount MNT LOG CMD [ARG...]
#                          mkdir -p MNT, run CMD ARG... in the background
#                          (stderr appended to LOG; CMD must stay in the
#                          foreground: pass -f to dynfs and minfs), wait
#                          up to BENCH_MOUNT_WAIT seconds (default 10) for
#                          MNT to be a mount point, else print LOG's end
#                          and exit 1.  BENCH_PID := its pid
#   bench_unmount MNT      unmount MNT and wait for its process
#   bench_callgrind OUT MNT LOG CMD [ARG...]
#                          bench_mount of CMD under valgrind's callgrind,
#                          its counts to the file OUT (the mount may take
#                          up to 5 minutes to appear under valgrind)
#   cg_total OUT           the instructions (Ir) callgrind file OUT counts
#   bench_at_exit CMD      one more command (eval'd) for the EXIT trap, run
#                          before the mounts are taken down
#   bench_reap PID         wait for PID to end (5 s), then kill -9 it

BENCH_MOUNTS=()
declare -A BENCH_MOUNT_PID=()
BENCH_AT_EXIT=()
BASE=

bench_reap() {
	local p=$1
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

bench_cleanup() {
	local c m
	for c in "${BENCH_AT_EXIT[@]}"; do eval "$c" || true; done
	for m in "${BENCH_MOUNTS[@]}"; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
		fi
		if [ -n "${BENCH_MOUNT_PID[$m]:-}" ]; then
			# still starting (under valgrind that takes seconds): ask
			# it to end (FUSE daemons unmount on SIGTERM)
			kill -TERM "${BENCH_MOUNT_PID[$m]}" 2>/dev/null || true
			bench_reap "${BENCH_MOUNT_PID[$m]}"
		fi
		# mounted after all, by a daemon that is gone now
		if mountpoint -q "$m" 2>/dev/null || ! stat "$m" >/dev/null 2>&1; then
			fusermount3 -uz "$m" 2>/dev/null || true
		fi
	done
	[ -n "$BASE" ] && rm -rf "$BASE"
	return 0
}

bench_init() {
	BASE=$(mktemp -d "${BENCH_STORE_DIR:-/tmp}/$1.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_at_exit() { BENCH_AT_EXIT+=("$1"); }

bench_mount() {
	local mnt=$1 log=$2
	shift 2
	mkdir -p "$mnt"
	"$@" 2>>"$log" &
	BENCH_PID=$!
	[ -n "${BENCH_MOUNT_PID[$mnt]+set}" ] || BENCH_MOUNTS+=("$mnt")
	BENCH_MOUNT_PID[$mnt]=$BENCH_PID
	for _ in $(seq $((${BENCH_MOUNT_WAIT:-10} * 20))); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$BENCH_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "$(basename "$0"): mounting $mnt failed: $(tail -3 "$log")" >&2
	exit 1
}

bench_unmount() {
	local mnt=$1
	fusermount3 -u "$mnt"
	if [ -n "${BENCH_MOUNT_PID[$mnt]:-}" ]; then
		wait "${BENCH_MOUNT_PID[$mnt]}" 2>/dev/null || true
		BENCH_MOUNT_PID[$mnt]=
	fi
}

bench_callgrind() {
	local out=$1
	shift
	BENCH_MOUNT_WAIT=300 bench_mount "$1" "$2" \
		valgrind --tool=callgrind --callgrind-out-file="$out" "${@:3}"
}

cg_total() { sed -n 's/^summary: *//p' "$1"; }
