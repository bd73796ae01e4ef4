#!/bin/bash
# callgrind_remote.sh DYNFS... - instructions a remote mount (`dynfs
# http://`) executes per operation, under valgrind's callgrind
# (deterministic, unlike time on a shared machine).  Issue 14's stat and
# readdirplus costs: run it on a build before and after a change.
#
# Data: `dynfs serve --fsync off` (the first DYNFS, not under callgrind)
# on loopback with a table `items` (id S) of N items and a table `parts`
# (p S, n N) of LS_N items in one partition, written with boto3.  For
# each DYNFS given, single-threaded (-s) mounts of the endpoint under
# callgrind: one mounted and unmounted idle, one per workload:
#   stat:  bench/fsops stat of the N items (1 LOOKUP + 1 GetItem each)
#   read:  bench/fsops read of the N items (what `cat` does: LOOKUP, OPEN,
#          READs, FLUSH, RELEASE; 1 GetItem each)
#   ls:    ls -l of the partition (readdirplus from Query pages)
#   write: bench/fsops create of N new items in an empty table (what a
#          shell's `echo > new.json` does: LOOKUP, CREATE, WRITE, FLUSH,
#          RELEASE; 1 GetItem (the lookup finds nothing) + 1 PutItem each)
# A workload's cost is its run's total minus the idle run's.  Prints
# "DYNFS idle=N stat/op=N read/op=N write/op=N ls/item=N" (instructions, Ir).  With CG_KEEP=DIR
# the callgrind files are kept there (cg.<arg#>.<run>) for
# callgrind_annotate.  Environment: CG_N [200], CG_LS_N [2000].
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DYNFS..." >&2; exit 2; }
N=${CG_N:-200}
LS_N=${CG_LS_N:-2000}
FSOPS=${FSOPS:-$(dirname "$(readlink -f "$1")")/bench/fsops}
[ -x "$FSOPS" ] || { echo "$0: $FSOPS is missing (make -C bench)" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
bench_init dynfs-cgr
T=$BASE
export AWS_ACCESS_KEY_ID=dynfs AWS_SECRET_ACCESS_KEY=dynfs AWS_DEFAULT_REGION=us-east-1 \
	AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$T/none AWS_SHARED_CREDENTIALS_FILE=$T/none
unset AWS_PROFILE AWS_SESSION_TOKEN

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EP=http://127.0.0.1:$PORT
"$1" serve "$T/store" --listen "127.0.0.1:$PORT" --fsync off 2>"$T/serve.log" &
SPID=$!
bench_at_exit 'kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null'
for _ in $(seq 200); do curl -s -o /dev/null "$EP/" && break; sleep 0.05; done
python3 - "$EP" "$N" "$LS_N" "$#" >"$T/setup.log" 2>&1 <<'PY' || { echo "$0: setup failed: $(tail -3 "$T/setup.log")" >&2; exit 1; }
import sys, boto3
from decimal import Decimal
ep, n, ls_n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
db = boto3.resource("dynamodb", endpoint_url=ep, region_name="us-east-1")
for r in range(1, runs + 1): # an empty table per DYNFS for its writes
    db.create_table(TableName="fresh%d" % r, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST")
t = db.create_table(TableName="items", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST")
with t.batch_writer() as b:
    for i in range(n):
        b.put_item(Item={"id": "k%07d" % i, "n": i, "data": "x" * 60})
t = db.create_table(TableName="parts",
                    KeySchema=[{"AttributeName": "p", "KeyType": "HASH"},
                               {"AttributeName": "n", "KeyType": "RANGE"}],
                    AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"},
                                          {"AttributeName": "n", "AttributeType": "N"}],
                    BillingMode="PAY_PER_REQUEST")
with t.batch_writer() as b:
    for i in range(ls_n):
        b.put_item(Item={"p": "p", "n": i, "data": "y" * 250, "tags": ["a", "b"], "f": Decimal("1.5")})
PY

w_stat() { "$FSOPS" stat "$T/mnt/items" "$N" >/dev/null; }
w_read() { "$FSOPS" read "$T/mnt/items" "$N" >/dev/null; }
w_write0() { ls "$T/mnt/fresh$IDX" >/dev/null; } # DescribeTable, an empty Scan
w_write() {
	w_write0
	"$FSOPS" create "$T/mnt/fresh$IDX" "$N" >/dev/null
}
# fresh_count: items in this DYNFS's table, as the service has them
fresh_count() {
	python3 -c 'import sys, boto3
c = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1")
print(c.scan(TableName=sys.argv[2], Select="COUNT")["Count"])' "$EP" "fresh$IDX"
}
w_ls() {
	ls "$T/mnt/parts" >/dev/null # the table's DescribeTable, outside the count
	ls -l "$T/mnt/parts/p" >"$T/ls.out"
	[ "$(grep -c '\.json$' "$T/ls.out")" = "$LS_N" ] || { echo "ls -l: wrong count" >&2; exit 1; }
}
w_ls0() { ls "$T/mnt/parts" >/dev/null; }

# run DYNFS NAME [workload]: IR := total Ir of one mount under callgrind
# (not in a subshell: the exit trap must know the mount).
run() {
	bench_callgrind "$T/cg.$2" "$T/mnt" "$T/log" "$1" "$EP" "$T/mnt" -f -s
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
	run "$d" stat w_stat
	s=$IR
	run "$d" read w_read
	rd=$IR
	run "$d" write0 w_write0
	w0=$IR
	run "$d" write w_write
	w=$IR
	[ "$(fresh_count)" = "$N" ] || { echo "$0: the writes of $d did not all reach the service" >&2; exit 1; }
	run "$d" ls0 w_ls0
	l0=$IR
	run "$d" ls w_ls
	l=$IR
	echo "$d idle=$idle stat/op=$(((s - idle) / N)) read/op=$(((rd - idle) / N)) write/op=$(((w - w0) / N)) ls/item=$(((l - l0) / LS_N))"
done
