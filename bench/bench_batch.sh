#!/bin/bash
# bench_batch.sh - the bulk import path, `cat dump.jsonl > /db/users/_batch`,
# against what parsing and copying the same bytes cost.
#
# usage: bench/bench_batch.sh [DYNFS] [N]
#   DYNFS  the dynfs binary (default: build/dynfs)
#   N      users to import (default 100000)
# environment: BENCH_REPS (default 3; the best of them is reported),
#   BENCH_STORE_DIR (where stores go; default a temp dir under /tmp).
#
# The dump is N users as scripts/gen-demo makes them (about 270 bytes
# each, sets, maps, binary, 13-digit numbers), the table has the demo's
# schema (username; email-index; epoch-created-index).  Timed, each on a
# fresh store and mount:
#   import            cat dump > _batch, default options (fsync=always)
#   import-nosync     the same with -o fsync=off
#   import-dd         dd bs=1M (fewer, larger writes; up to max_write)
#   import-1by1       one line per write(): xargs-like worst case, shown
#                     for 10% of N and scaled, since it is slow
# and as the yardsticks:
#   jq                jq -c . dump > /dev/null   (a JSON parse limit)
#   cat               cat dump > /dev/shm/x      (copying the bytes)
# Ratios are import time over each yardstick.  Wall clock, best of REPS.
# Also printed: one fdatasync after a 128 KiB append on the store's disk
# (median of 50), and what one per write() adds up to for the dump.
# BENCH_BATCH_DUMP=FILE keeps a copy of the generated dump (for
# bench/callgrind_batch.sh).
# BENCH_BATCH_QUICK=1 times only `import` and `jq` (what `make bench`'s
# goals table needs); the last line, "result import S jq S", is for it.
set -eu
cd "$(dirname "$0")/.."
DYNFS=$(realpath "${1:-build/dynfs}")
N=${2:-100000}
REPS=${BENCH_REPS:-3}
. bench/lib.sh
bench_init bench-batch
bench_at_exit 'rm -rf /dev/shm/bench-batch.$$'
MNT=$BASE/mnt

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "generating $N users..."
python3 - "$N" "$BASE" <<'EOF'
import importlib.machinery, importlib.util, json, random, sys
loader = importlib.machinery.SourceFileLoader("gendemo", "scripts/gen-demo")
spec = importlib.util.spec_from_loader("gendemo", loader)
m = importlib.util.module_from_spec(spec)
loader.exec_module(m)
n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(m.SEED)
users = m.users(rng, n)
with open(out + "/users.jsonl", "w") as f:
    for u in users[:n]:
        f.write(json.dumps(u, ensure_ascii=False, separators=(",", ":")) + "\n")
with open("schemas/hedy.json") as f:
    schema = json.load(f)["users"]  # Hedy's users table: keys and indexes
with open(out + "/users.schema.json", "w") as f:
    json.dump(schema, f)
EOF
DUMP=$BASE/users.jsonl
[ -z "${BENCH_BATCH_DUMP:-}" ] || cp "$DUMP" "$BENCH_BATCH_DUMP"
LINES=$(wc -l <"$DUMP")
BYTES=$(wc -c <"$DUMP")
echo "dump: $LINES lines, $BYTES bytes"

# A fresh store holding the empty table (made by `dynfs import`, which
# takes a schema with indexes), mounted with the given options.
mount_new() {
	rm -rf "$BASE/store" "$MNT"
	"$DYNFS" import "$BASE/store" /dev/null --format jsonl --table users \
		--schema "$BASE/users.schema.json" --quiet
	bench_mount "$MNT" "$BASE/dynfs.log" "$DYNFS" "$BASE/store" "$MNT" -f "$@"
}

unmount() { bench_unmount "$MNT"; }

# import NAME CMD [dynfs options]: time CMD (which reads $DUMP and writes
# $MNT/users/_batch) on a fresh mount; check the count; keep the best.
declare -A BEST
import() {
	local name=$1 cmd=$2 t0 t n
	shift 2
	mount_new "$@"
	t0=$(now)
	eval "$cmd"
	t=$(elapsed "$t0")
	n=$(ls -U "$MNT/users" | grep -v '^_' | grep -c '\.json$' || true)
	unmount
	BEST[$name]=$(min "${BEST[$name]:-}" "$t")
	printf '  %-14s %8.3fs  (%s items)\n' "$name" "$t" "$n"
}

SLICE=$((LINES / 10))
head -n "$SLICE" "$DUMP" >"$BASE/slice.jsonl"
for rep in $(seq "$REPS"); do
	echo "repetition $rep"
	import import 'cat "$DUMP" >"$MNT/users/_batch"'
	if [ "${BENCH_BATCH_QUICK:-0}" != 1 ]; then
		import import-nosync 'cat "$DUMP" >"$MNT/users/_batch"' -o fsync=off
		import import-dd 'dd if="$DUMP" of="$MNT/users/_batch" bs=1M status=none'
		import import-1by1 'while IFS= read -r l; do printf "%s\\n" "$l"; done <"$BASE/slice.jsonl" >"$MNT/users/_batch"'
	fi
	t0=$(now)
	jq -c . "$DUMP" >/dev/null
	BEST[jq]=$(min "${BEST[jq]:-}" "$(elapsed "$t0")")
	t0=$(now)
	cat "$DUMP" >/dev/shm/bench-batch.$$
	BEST[cat]=$(min "${BEST[cat]:-}" "$(elapsed "$t0")")
	rm -f /dev/shm/bench-batch.$$
done

# What one journal sync costs on the store's disk: fdatasync after a
# 128 KiB append (cat's write size), median of 50, in the store's dir.
FDS=$(python3 - "$BASE" <<'EOF'
import os, statistics, sys, time
path = os.path.join(sys.argv[1], "fdatasync.probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
buf, ts = b"x" * 131072, []
for _ in range(50):
    os.write(fd, buf)
    t = time.perf_counter()
    os.fdatasync(fd)
    ts.append(time.perf_counter() - t)
os.close(fd)
os.unlink(path)
print("%.3f" % (statistics.median(ts) * 1e3))
EOF
)
WRITES=$(( (BYTES + 131071) / 131072 ))

echo
echo "fdatasync after a 128 KiB append on the store's disk: $FDS ms (median of 50);"
echo "  $WRITES writes of 128 KiB (cat) -> at most $WRITES syncs, $(awk -v n="$WRITES" -v f="$FDS" 'BEGIN { printf "%.2f", n * f / 1e3 }') s of the import"
echo "best of $REPS, $LINES users ($BYTES bytes):"
printf '  %-14s %8s %10s %8s %8s\n' what seconds "MB/s" "/jq" "/cat"
if [ "${BENCH_BATCH_QUICK:-0}" = 1 ]; then
	echo "result import ${BEST[import]} jq ${BEST[jq]} cat ${BEST[cat]}"
	exit 0
fi
for k in import import-nosync import-dd jq cat; do
	printf '  %-14s %8.3f %10.1f %8s %8s\n' "$k" "${BEST[$k]}" \
		"$(awk -v b="$BYTES" -v t="${BEST[$k]}" 'BEGIN { printf "%.1f", b / t / 1e6 }')" \
		"$(ratio "${BEST[$k]}" "${BEST[jq]}")" "$(ratio "${BEST[$k]}" "${BEST[cat]}")"
done
scaled=$(awk -v t="${BEST[import-1by1]}" 'BEGIN { printf "%.3f", t * 10 }')
printf '  %-14s %8.3f %10s %8s %8s   (one write per line; measured on %d lines, x10)\n' \
	import-1by1 "$scaled" "-" "$(ratio "$scaled" "${BEST[jq]}")" "$(ratio "$scaled" "${BEST[cat]}")" "$SLICE"
