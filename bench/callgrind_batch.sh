#!/bin/bash
# callgrind_batch.sh DYNFS DUMP [OUT] - instructions the dynfs daemon
# executes, mount to unmount, for `cat DUMP > users/_batch` into the
# empty Hedy users table (3 indexes) with default options, under
# valgrind's callgrind (deterministic, unlike time on a shared machine).
# DUMP is what bench_batch.sh generates (BENCH_BATCH_DUMP=FILE keeps a
# copy), or its first lines (head -n 20000).  Prints "items N Ir" (all threads: the
# import, the snapshots it triggers, the one at unmount); OUT (optional)
# keeps the callgrind file for callgrind_annotate.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DYNFS DUMP [OUT]" >&2; exit 2; }
cd "$(dirname "$0")/.."
DYNFS=$(realpath "$1")
DUMP=$(realpath "$2")
T=$(mktemp -d /tmp/dynfs-cgb.XXXXXX)
OUT=${3:-$T/cg.out}
PID=
cleanup() {
	mountpoint -q "$T/mnt" 2>/dev/null && fusermount3 -u "$T/mnt" 2>/dev/null || true
	[ -n "$PID" ] && wait "$PID" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/mnt"
python3 -c 'import json; print(json.dumps(json.load(open("schemas/hedy.json"))["users"]))' \
	>"$T/users.schema.json"
"$DYNFS" import "$T/store" /dev/null --format jsonl --table users \
	--schema "$T/users.schema.json" --quiet
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$DYNFS" "$T/store" "$T/mnt" -f \
	2>>"$T/log" &
PID=$!
for _ in $(seq 1200); do
	mountpoint -q "$T/mnt" && break
	kill -0 "$PID" 2>/dev/null || { cat "$T/log" >&2; exit 1; }
	sleep 0.1
done
cat "$DUMP" >"$T/mnt/users/_batch"
n=$(jq .items "$T/mnt/users/_stats.json")
fusermount3 -u "$T/mnt"
wait "$PID" || true
PID=
echo "items $n Ir $(sed -n 's/^summary: *//p' "$OUT")"
