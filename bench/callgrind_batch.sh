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
DYNFS=$(realpath "$1")
DUMP=$(realpath "$2")
OUT=$(realpath -m "${3:-/dev/null}")
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_init dynfs-cgb
T=$BASE
[ $# -ge 3 ] || OUT=$T/cg.out
python3 -c 'import json; print(json.dumps(json.load(open("schemas/hedy.json"))["users"]))' \
	>"$T/users.schema.json"
"$DYNFS" import "$T/store" /dev/null --format jsonl --table users \
	--schema "$T/users.schema.json" --quiet
bench_callgrind "$OUT" "$T/mnt" "$T/log" "$DYNFS" "$T/store" "$T/mnt" -f
cat "$DUMP" >"$T/mnt/users/_batch"
n=$(jq .items "$T/mnt/users/_stats.json")
bench_unmount "$T/mnt"
echo "items $n Ir $(cg_total "$OUT")"
