#!/bin/bash
# bench_changes.sh - what the change feed and TTL cost (docs/changes.md).
#
# usage: bench/bench_changes.sh [DYNFS] [N]
#   DYNFS  the dynfs binary (default: build/dynfs)
#   N      writes per run (default 20000)
# environment: BENCH_REPS (default 3; the best of them is reported),
#   BENCH_STORE_DIR (where stores go; default a temp dir under /tmp).
#
# Timed, each on a fresh store and mount (-o fsync=off, so that the CPU
# cost shows rather than the disk's):
#   writes-Rreaders  N puts through _batch (one db_apply each) with R =
#                    0, 1, 4 `cat _changes` readers following the table
#                    (goal: 4 readers cost at most 10%)
#   ttl-sweep        N items that expired already; time from setting the
#                    table's ttl_attribute until the sweeper deleted them
#                    all, per item
# Wall clock, best of REPS.
set -eu
cd "$(dirname "$0")/.."
DYNFS=$(realpath "${1:-build/dynfs}")
N=${2:-20000}
REPS=${BENCH_REPS:-3}
. bench/lib.sh
bench_init bench-changes
# fresh() runs inside $(...) (writes, sweep): its mount is a daemon (no -f,
# which would hold the substitution's pipe open) taken down here
bench_at_exit 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done'
bench_at_exit 'mountpoint -q "$MNT" && fusermount3 -u "$MNT"; sleep 0.5'
MNT=$BASE/mnt
PIDS=()

now() { date +%s.%N; }
fresh() {
	mountpoint -q "$MNT" && { fusermount3 -u "$MNT"; sleep 0.5; }
	rm -rf "$BASE/store" "$MNT"
	mkdir -p "$BASE/store" "$MNT"
	"$DYNFS" "$BASE/store" "$MNT" -o fsync=off
	mkdir "$MNT/users"
	echo '{"partition_key": {"name": "username", "type": "S"}}' >"$MNT/users/_schema.json"
}

for i in $(seq "$N"); do
	echo "{\"username\": \"u$i\", \"email\": \"u$i@example.org\", \"level\": $((i % 20)), \"exp\": 1}"
done >"$BASE/dump.jsonl"

# writes READERS: seconds for N puts with READERS readers attached.
writes() {
	local r=$1 t0 t1 i
	fresh
	PIDS=()
	for i in $(seq "$r"); do
		cat "$MNT/users/_changes" >"$BASE/reader$i" &
		PIDS+=($!)
	done
	# readers start at the end: make sure they are following
	for i in $(seq "$r"); do
		while ! grep -q warmup "$BASE/reader$i" 2>/dev/null; do
			echo '{"username": "warmup"}' >"$MNT/users/_batch"
			sleep 0.1
		done
	done
	t0=$(now)
	cat "$BASE/dump.jsonl" >"$MNT/users/_batch"
	t1=$(now)
	for i in $(seq "$r"); do # every reader must get every line
		while [ "$(grep -c '"u[0-9]' "$BASE/reader$i")" -lt "$N" ]; do sleep 0.1; done
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null || true
	PIDS=()
	echo "$t1 - $t0" | bc
}

sweep() {
	local t0 t1
	fresh
	cat "$BASE/dump.jsonl" >"$MNT/users/_batch"
	t0=$(now)
	echo '{"partition_key": {"name": "username", "type": "S"}, "ttl_attribute": "exp"}' \
		>"$MNT/users/_schema.json"
	while [ "$(jq .items "$MNT/users/_stats.json")" != 0 ]; do sleep 0.05; done
	t1=$(now)
	echo "$t1 - $t0" | bc
}

best() { sort -g | head -1; }

declare -A T
for r in 0 1 4; do
	T[$r]=$(for _ in $(seq "$REPS"); do writes "$r"; done | best)
done
S=$(for _ in $(seq "$REPS"); do sweep; done | best)

echo "bench_changes: N=$N, best of $REPS, $(nproc) CPUs, -o fsync=off"
for r in 0 1 4; do
	printf '  writes, %d readers   %8.3f s  %8.0f puts/s  %+6.1f%%\n' "$r" "${T[$r]}" \
		"$(echo "$N / ${T[$r]}" | bc -l)" "$(echo "(${T[$r]} / ${T[0]} - 1) * 100" | bc -l)"
done
printf '  ttl sweep           %8.3f s  %8.1f µs per expired item\n' "$S" \
	"$(echo "$S * 1000000 / $N" | bc -l)"
