#!/bin/bash
# bench_readers.sh - concurrent readers (issue 12): do two readers on two
# cores get more done than one, and does a writer on one table stall the
# readers of another?
#
# usage: bench/bench_readers.sh BUILD_DIR [N]
#   BUILD_DIR  absolute build dir: dynfs and bench/{readers,minfs,fsops}
#   N          items in the table read (default 2000)
# environment: BENCH_READERS_SECS (seconds per measurement, default 3),
#   BENCH_STORE_DIR (where the store goes; default a temp dir under /tmp),
#   GOALS_FILE (set: rows are added to the goals table, bench/goals.sh).
#
# One dynfs mount, default options, with tables `ta1` and `tb1` (pk p, sk k);
# ta1/p1 holds N items of ~100 bytes.  Measured, each for SECS seconds
# (bench/readers: open, read to EOF, close, round and round):
#   cat     1 reader, then 2 at once, of ta1/p1/k*.json; the same on the
#           floor (bench/minfs), which shows what the machine allows
#   query   1 reader, then 2, of ta1/p1/_query?ge=K&limit=10&as=jsonl (200 keys)
#   writer  1 cat reader of ta1/p1 alone, then while a writer loops
#           open(O_TRUNC)+write+close over 1000 items of tb1/p1 (the
#           default fsync=always: every close waits for the disk)
# Printed: ops/s for each, the 2-reader/1-reader throughput ratios, how
# many of the machine's cores were busy during the 1- and 2-reader runs
# (/proc/stat: a reader, the filesystem's thread and the kernel's FUSE
# work share them, so one reader already keeps more than one core busy), and
# the reader's median, 99th percentile and longest read with and without
# the writer.
set -eu
BUILD=${1:?usage: bench_readers.sh BUILD_DIR [N]}
N=${2:-2000}
SECS=${BENCH_READERS_SECS:-3}
B=$BUILD/bench
. "$(dirname "$0")/lib.sh"
bench_init bench-readers
M=$BASE/mnt F=$BASE/floor

mkdir -p "$BASE/store"
bench_mount "$M" "$BASE/dynfs.log" "$BUILD/dynfs" "$BASE/store" "$M" -f
bench_mount "$F" "$BASE/minfs.log" "$B/minfs" "$F" -f
for t in ta1 tb1; do
	mkdir "$M/$t"
	echo '{"partition_key":{"name":"p","type":"S"},"sort_key":{"name":"k","type":"S"},"indexes":[]}' \
		>"$M/$t/_schema.json"
	mkdir "$M/$t/p1"
done
"$B/fsops" create "$M/ta1/p1" "$N" >/dev/null
"$B/fsops" create "$F" "$N" >/dev/null
awk -v n="$N" -v d="$M/ta1/p1" 'BEGIN { for (i = 0; i < n; i++) printf "%s/k%07d.json\n", d, i }' \
	>"$BASE/cat.list"
awk -v n="$N" -v d="$F" 'BEGIN { for (i = 0; i < n; i++) printf "%s/k%07d.json\n", d, i }' \
	>"$BASE/floor.list"
awk -v n="$N" -v d="$M/ta1/p1" 'BEGIN { for (i = 0; i < 200; i++)
	printf "%s/_query?ge=k%07d&limit=10&as=jsonl\n", d, int(i * n / 200) }' >"$BASE/query.list"

# cpu_ticks: the machine's busy and total ticks so far (/proc/stat)
cpu_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat
}

# cores_busy BEFORE AFTER: how many of the machine's cores were busy
# between two cpu_ticks (whatever ran: the readers, the filesystem's
# threads, the kernel's side of FUSE, and anything else on the machine)
cores_busy() {
	echo "$1 $2" | awk -v n="$(nproc)" '{ t = $4 - $2; printf "%.2f\n", (t > 0 ? n * ($3 - $1) / t : 0) }'
}

# run1 LIST: one reader; prints its result line, the cores busy in $BASE/c1
run1() {
	local a
	a=$(cpu_ticks)
	"$B/readers" read "$SECS" "$1"
	cores_busy "$a" "$(cpu_ticks)" >"$BASE/c1"
}

# run2 LIST: two readers at once; prints the sum of their ops/s, the
# cores busy in $BASE/c2
run2() {
	local a p
	a=$(cpu_ticks)
	"$B/readers" read "$SECS" "$1" >"$BASE/r1" &
	p=$!
	"$B/readers" read "$SECS" "$1" >"$BASE/r2"
	wait "$p"
	cores_busy "$a" "$(cpu_ticks)" >"$BASE/c2"
	cat "$BASE/r1" "$BASE/r2" | awk '{ s += $4 } END { printf "%.1f\n", s }'
}

# warm the kernel's entries and dynfs's nodes: every phase reads warm
run1 "$BASE/cat.list" >/dev/null
run1 "$BASE/floor.list" >/dev/null
run1 "$BASE/query.list" >/dev/null

declare -A one two c1 c2
for w in cat floor query; do
	one[$w]=$(run1 "$BASE/$w.list" | awk '{ print $4 }')
	c1[$w]=$(cat "$BASE/c1")
	two[$w]=$(run2 "$BASE/$w.list")
	c2[$w]=$(cat "$BASE/c2")
done
alone=$(run1 "$BASE/cat.list")
"$B/readers" write "$((SECS + 1))" "$M/tb1/p1" >"$BASE/w" &
wp=$!
sleep 0.5
with=$("$B/readers" read "$SECS" "$BASE/cat.list")
wait "$wp"
wline=$(cat "$BASE/w")

scale() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f\n", b / a; else print "-" }'; }
printf '%-34s %12s %12s %8s %8s %8s\n' workload "1 reader/s" "2 readers/s" "2 vs 1" \
	"cores 1" "cores 2"
for w in cat query floor; do
	printf '%-34s %12s %12s %7sx %8s %8s\n' "$w (N=$N)" "${one[$w]}" "${two[$w]}" \
		"$(scale "${one[$w]}" "${two[$w]}")" "${c1[$w]}" "${c2[$w]}"
done
set -- $alone
printf 'cat of ta1/p1 alone:          %s reads/s, p50 %s µs, p99 %s µs, max %s µs\n' "$4" "$5" "$6" "$7"
a50=$5 a99=$6 amax=$7
set -- $with
printf 'cat of ta1/p1, writer on tb1: %s reads/s, p50 %s µs, p99 %s µs, max %s µs\n' "$4" "$5" "$6" "$7"
w50=$5 w99=$6 wmax=$7
set -- $wline
printf 'the writer on tb1/p1:         %s writes/s, p50 %s µs, p99 %s µs, max %s µs\n' "$4" "$5" "$6" "$7"

if [ -n "${GOALS_FILE:-}" ]; then
	# shellcheck source=bench/goals.sh
	. "$(dirname "$0")/goals.sh"
	# the floor column: the same scaling on bench/minfs
	fl=$(scale "${one[floor]}" "${two[floor]}")
	goal_row "cat, 2 readers vs 1 (throughput, N=$N)" x "$(scale "${one[cat]}" "${two[cat]}")" \
		"$fl" - ">=1.6"
	goal_row "_query?, 2 readers vs 1 (throughput)" x "$(scale "${one[query]}" "${two[query]}")" \
		"$fl" - ">=1.6"
	# the floor column: the same reader without the writer
	goal_row "cat p99 of table ta1, writer on tb1 (floor: no writer)" µs "$w99" "$a99" - "<=2x"
	goal_row "cat longest read of ta1, writer on tb1 (floor: no writer)" µs "$wmax" "$amax" - -
fi
