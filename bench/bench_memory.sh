#!/bin/bash
# bench_memory.sh - the daemon's memory around `ls -l` of a big partition
# (issue 11 item 7).
#
# usage: bench/bench_memory.sh [DYNFS] [N]
#   DYNFS  the dynfs binary (default: build/dynfs)
#   N      items in the partition (default 200000)
# environment: BENCH_STORE_DIR (where the store goes; default /tmp).
#
# Imports N small items into one partition, mounts, drops the kernel's
# dentry/inode caches (needs root: `echo 2 > /proc/sys/vm/drop_caches`),
# and reads the daemon's VmRSS before `ls -l`, right after it (the kernel
# holds every entry, so dynfs holds a node each), and after the kernel
# dropped its caches again (its FORGETs free the nodes).  The last line,
# "result RSS0 RSS1 RSS2 BYTES_PER_ENTRY NODES0 NODES1 NODES2 LISTED"
# (kB, kB, kB, bytes; the node counts of _stats.json at the same three
# moments; the items `ls -l` listed), is for bench/run's goals table and
# tests/e2e/t_memory.sh, which checks it.
set -eu
cd "$(dirname "$0")/.."
DYNFS=$(realpath "${1:-build/dynfs}")
N=${2:-200000}
. bench/lib.sh
bench_init bench-memory
MNT=$BASE/mnt

if [ ! -w /proc/sys/vm/drop_caches ]; then
	echo "bench_memory.sh: needs root (drops the kernel's caches); skipped" >&2
	exit 0
fi
python3 - "$N" >"$BASE/items.jsonl" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print('{"p": "p1", "k": "k%07d", "n": %d}' % (i, i))
PY
printf '{"partition_key": {"name": "p", "type": "S"}, "sort_key": {"name": "k", "type": "S"}}\n' \
	>"$BASE/schema.json"
"$DYNFS" import "$BASE/store" "$BASE/items.jsonl" --format jsonl --table bench \
	--schema "$BASE/schema.json" --quiet
bench_mount "$MNT" "$BASE/log" "$DYNFS" "$BASE/store" "$MNT" -f
PID=$BENCH_PID

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }
nodes() { jq .nodes "$MNT/bench/_stats.json"; }
settle() { # until the FORGETs have been taken
	local a b
	a=$(nodes)
	for _ in $(seq 50); do
		sleep 0.2
		b=$(nodes)
		[ "$a" = "$b" ] && break
		a=$b
	done
}
echo 2 >/proc/sys/vm/drop_caches
settle
n0=$(nodes)
r0=$(rss)
t0=$(date +%s%N)
ls -l "$MNT/bench/p1" >"$BASE/ls.out"
t1=$(date +%s%N)
r1=$(rss)
n1=$(nodes)
listed=$(grep -c '\.json$' "$BASE/ls.out" || true)
echo 2 >/proc/sys/vm/drop_caches
settle
r2=$(rss)
n2=$(nodes)
per=$(((r1 - r0) * 1024 / N))
echo "ls -l of $N items: $(((t1 - t0) / 1000000)) ms; dynfs RSS $r0 kB before, $r1 kB" \
	"with the entries cached ($n1 nodes, $per B/entry), $r2 kB after the kernel" \
	"forgot them ($n2 nodes): $(awk -v a="$r2" -v b="$r0" 'BEGIN { printf "%.2f", a / b }')x"
echo "result $r0 $r1 $r2 $per $n0 $n1 $n2 $listed"
