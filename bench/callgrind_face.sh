#!/bin/bash
# callgrind_face.sh DYNFS... - instructions the dynfs daemon executes for a
# fixed workload, under valgrind's callgrind (deterministic, unlike time on
# a shared machine).  Used to check that the backend face (backend/) costs
# nothing measurable: run it on a build before and after a change.
#
# Data: one table `users` (pk id S) of 1,000 items, written through a plain
# mount.  For each DYNFS given, two single-threaded (-s) mounts under
# callgrind: one mounted and unmounted idle, one that runs the workload
#   cat users/*.json (1,000 items), a _query? (filter, as=count), ls -l users
# on a fresh mount; the workload's cost is the difference of the totals.
# Prints "DYNFS idle=N total=N workload=N" (instructions, Ir).  With
# CG_KEEP=DIR the callgrind files are kept there (cg.<arg#>.idle/work) for
# callgrind_annotate.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DYNFS..." >&2; exit 2; }
T=$(mktemp -d /tmp/dynfs-cg.XXXXXX)
PID=
cleanup() {
	mountpoint -q "$T/mnt" 2>/dev/null && fusermount3 -u "$T/mnt" 2>/dev/null || true
	[ -n "$PID" ] && wait "$PID" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/mnt"

# mount_wait: wait for $T/mnt to be mounted by $PID.
mount_wait() {
	for _ in $(seq 1200); do
		mountpoint -q "$T/mnt" && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "mount failed" >&2
	exit 1
}

unmount_wait() {
	fusermount3 -u "$T/mnt"
	wait "$PID" || true
	PID=
}

# The data set, once, with the first binary.
mkdir -p "$T/store"
"$1" "$T/store" "$T/mnt" -f 2>>"$T/log" &
PID=$!
mount_wait
mkdir "$T/mnt/users"
printf '%s\n' '{"partition_key":{"name":"id","type":"S"}}' >"$T/mnt/users/_schema.json"
for i in $(seq 1000); do
	printf '{"id": "u%04d", "n": %d, "name": "user %d", "tags": ["a", "b"], "score": %d.5}\n' \
		"$i" "$i" "$i" $((i * 7 % 101))
done >"$T/mnt/users/_batch"
unmount_wait
cp -a "$T/store" "$T/store.orig"

workload() {
	cat "$T/mnt/users/"*.json >/dev/null
	cat "$T/mnt/users/_query?filter=n>500&as=count" >/dev/null
	ls -l "$T/mnt/users" >/dev/null
}

# run DYNFS NAME [workload]: total Ir of one mount under callgrind.
run() {
	rm -rf "$T/store"
	cp -a "$T/store.orig" "$T/store"
	valgrind --tool=callgrind --callgrind-out-file="$T/cg.$2" "$1" "$T/store" "$T/mnt" -f -s \
		2>>"$T/log" &
	PID=$!
	mount_wait
	[ $# -ge 3 ] && "$3"
	unmount_wait
	[ -z "${CG_KEEP:-}" ] || cp "$T/cg.$2" "$CG_KEEP/cg.$IDX.$2"
	sed -n 's/^summary: *//p' "$T/cg.$2"
}

IDX=0
for d in "$@"; do
	IDX=$((IDX + 1))
	idle=$(run "$d" idle)
	total=$(run "$d" work workload)
	echo "$d idle=$idle total=$total workload=$((total - idle))"
done
