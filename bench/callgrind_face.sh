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
. "$(dirname "$0")/lib.sh"
bench_init dynfs-cg
T=$BASE

# The data set, once, with the first binary.
mkdir -p "$T/store"
bench_mount "$T/mnt" "$T/log" "$1" "$T/store" "$T/mnt" -f
mkdir "$T/mnt/users"
printf '%s\n' '{"partition_key":{"name":"id","type":"S"}}' >"$T/mnt/users/_schema.json"
for i in $(seq 1000); do
	printf '{"id": "u%04d", "n": %d, "name": "user %d", "tags": ["a", "b"], "score": %d.5}\n' \
		"$i" "$i" "$i" $((i * 7 % 101))
done >"$T/mnt/users/_batch"
bench_unmount "$T/mnt"
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

# run DYNFS NAME [workload]: IR := total Ir of one mount under callgrind
# (not in a subshell: the exit trap must know the mount).
run() {
	rm -rf "$T/store"
	cp -a "$T/store.orig" "$T/store"
	bench_callgrind "$T/cg.$2" "$T/mnt" "$T/log" "$1" "$T/store" "$T/mnt" -f -s
	[ $# -ge 3 ] && "$3"
	bench_unmount "$T/mnt"
	[ -z "${CG_KEEP:-}" ] || cp "$T/cg.$2" "$CG_KEEP/cg.$IDX.$2"
	IR=$(cg_total "$T/cg.$2")
}

IDX=0
for d in "$@"; do
	IDX=$((IDX + 1))
	run "$d" idle
	idle=$IR
	run "$d" reads reads
	r=$IR
	run "$d" writes writes
	echo "$d idle=$idle reads=$((r - idle)) writes=$((IR - idle))"
done
