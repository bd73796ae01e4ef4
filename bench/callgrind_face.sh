#!/bin/bash
# callgrind_face.sh DYNFS... - instructions the dynfs daemon executes for a
# fixed workload, under valgrind's callgrind (deterministic, unlike time on
# a shared machine).  Used to check that the backend face (backend/) costs
# nothing measurable: run it on a build before and after a change.
#
# Data: one table `users` (pk id S) of 1,000 items, written through a plain
# mount.  For each DYNFS given, single-threaded (-s) mounts of a copy of
# that store under callgrind: one mounted and unmounted idle, one per
# workload, each on a fresh mount:
#   reads:  cat users/*.json (1,000 items), a _query? (filter, as=count),
#           ls -l users
#   writes: 100 item files written, 50 of them renamed, a _batch of 1,000
#           updates, a /_tx of two operations
# A workload's cost is its run's total minus the idle run's.  Prints
# "DYNFS idle=N reads=N writes=N" (instructions, Ir).  With CG_KEEP=DIR
# the callgrind files are kept there (cg.<arg#>.<run>) for
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

reads() {
	cat "$T/mnt/users/"*.json >/dev/null
	cat "$T/mnt/users/_query?filter=n>500&as=count" >/dev/null
	ls -l "$T/mnt/users" >/dev/null
}

writes() {
	local i
	for i in $(seq 100); do
		printf '{"n": %d, "name": "changed %d"}\n' "$i" "$i" >"$T/mnt/users/w$i.json"
	done
	for i in $(seq 50); do
		mv "$T/mnt/users/w$i.json" "$T/mnt/users/m$i.json"
	done
	for i in $(seq 1001 2000); do
		printf '{"update": {"id": "u%04d"}, "set": {"seen": %d}}\n' $((i - 1000)) "$i"
	done >"$T/mnt/users/_batch"
	printf '%s\n' '{"ops": [{"delete": {"id": "u0001"}, "table": "users"},' \
		'{"put": {"id": "tx1", "n": 1}, "table": "users", "if": "attribute_not_exists(id)"}]}' \
		>"$T/mnt/_tx"
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
	r=$(run "$d" reads reads)
	w=$(run "$d" writes writes)
	echo "$d idle=$idle reads=$((r - idle)) writes=$((w - idle))"
done
