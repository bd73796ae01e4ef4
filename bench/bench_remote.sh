#!/bin/bash
# bench/bench_remote.sh ABS_BUILD_DIR - a remote mount's cost over loopback
# (issue 14), run by bench/run; rows go to the goals table (goals.sh).
#
# 1. Latency per operation: `dynfs serve --fsync off` on 127.0.0.1, a
#    `dynfs http://` mount of it, and bench/fsops (one process, no
#    fork/exec per file) doing N stats, N reads (open+read+close: what
#    `cat` does) and N writes (create+write+close of a new item, a PUT)
#    on fresh names (never looked up before, so each goes to the
#    service), against bench/remote_floor: the same HTTP call (GetItem
#    with ConsistentRead, PutItem of the same item) made by a minimal
#    libcurl client over one keep-alive connection.  Goal: <= 1.25x.
#    The requests the mount made per operation (DYNFS_REMOTE_DEBUG's
#    attempt lines) are printed beside.  So is the FUSE floor of the
#    same file operations: bench/minfs (-o timeout=0,flush: every name
#    looked up, FLUSH answered, as dynfs must), its figure beside; a
#    second row per operation compares the mount with the HTTP call plus
#    that FUSE floor, what is left of the mount's own cost.  A write of a
#    new name is two calls whatever the client (the kernel looks the name
#    up before it creates it: a GetItem that finds nothing, then the
#    PutItem), so a third write row compares it with remote_floor create,
#    those two calls made back to back: the mount's own overhead, apart
#    from the second call the file semantics need.
# 2. Requests per `ls -l` of a 10,000-item partition (a table with a sort
#    key, items of about 300 bytes): the mount's calls during the ls
#    against the number of Query pages the service gives (boto3's
#    paginator).  Goal: equal.  Twice: on a cold mount (the table's
#    DescribeTable and the partition directory's lookup, a Query of one
#    item, come first) and at once again (the directory still looked up:
#    the listing alone).
#
# Environment: REMOTE_BENCH_N [1000] operations per kind, REMOTE_BENCH_REPS
# [3] (the median is kept), REMOTE_LS_N [10000] items in the partition,
# REMOTE_BENCH=0 skips it all.
set -u
BUILD=${1:?usage: bench/bench_remote.sh ABS_BUILD_DIR}
N=${REMOTE_BENCH_N:-1000}
REPS=${REMOTE_BENCH_REPS:-3}
LS_N=${REMOTE_LS_N:-10000}
[ "${REMOTE_BENCH:-1}" = 0 ] && exit 0
export LC_ALL=C
GOALS_FILE=${GOALS_FILE:-$BUILD/bench/goals.tsv}
# shellcheck source=bench/goals.sh
. "$(dirname "$0")/goals.sh"
for p in "$BUILD/dynfs" "$BUILD/bench/fsops" "$BUILD/bench/remote_floor" "$BUILD/bench/minfs"; do
	[ -x "$p" ] || { echo "bench_remote: $p is missing; run make bench" >&2; exit 1; }
done
python3 -c 'import boto3' 2>/dev/null || { echo "bench_remote: no boto3; skipped"; exit 0; }

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init dynfs-rbench
W=$BASE
MNT=$W/mnt
FL=$W/minfs
SPID=
bench_at_exit '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null'
export AWS_ACCESS_KEY_ID=dynfs AWS_SECRET_ACCESS_KEY=dynfs AWS_DEFAULT_REGION=us-east-1 \
	AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$W/none AWS_SHARED_CREDENTIALS_FILE=$W/none
unset AWS_PROFILE AWS_SESSION_TOKEN

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EP=http://127.0.0.1:$PORT
"$BUILD/dynfs" serve "$W/store" --listen "127.0.0.1:$PORT" --fsync off 2>"$W/serve.log" &
SPID=$!
for _ in $(seq 200); do curl -s -o /dev/null "$EP/" && break; sleep 0.05; done

# tables: t_<rep>_stat/read/write (id S) and parts (p S, n N), filled with boto3
python3 - "$EP" "$N" "$REPS" "$LS_N" >"$W/setup.log" 2>&1 <<'PY' || { echo "bench_remote: setup failed: $(tail -3 "$W/setup.log")"; exit 1; }
import sys, boto3
ep, n, reps, ls_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
db = boto3.resource("dynamodb", endpoint_url=ep, region_name="us-east-1")
def table(name, sk=None):
    attrs = [{"AttributeName": "id" if not sk else "p", "AttributeType": "S"}]
    keys = [{"AttributeName": attrs[0]["AttributeName"], "KeyType": "HASH"}]
    if sk:
        attrs.append({"AttributeName": sk, "AttributeType": "N"})
        keys.append({"AttributeName": sk, "KeyType": "RANGE"})
    t = db.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attrs,
                        BillingMode="PAY_PER_REQUEST")
    t.wait_until_exists()
    return t
pad = "x" * 60
for r in range(reps):
    for kind in ("stat", "read", "write"):
        t = table("t%d%s" % (r, kind))
        if kind != "write":
            with t.batch_writer() as b:
                for i in range(n):
                    b.put_item(Item={"id": "k%07d" % i, "n": i, "data": pad})
t = table("parts", sk="n")
with t.batch_writer() as b:
    for i in range(ls_n):
        b.put_item(Item={"p": "p", "n": i, "data": "y" * 250})
PY

DYNFS_REMOTE_DEBUG=1 bench_mount "$MNT" "$W/mount.log" "$BUILD/dynfs" "$EP" "$MNT" -f
bench_mount "$FL" "$W/minfs.log" "$BUILD/bench/minfs" "$FL" -f -o timeout=0 -o flush
"$BUILD/bench/fsops" create "$FL" "$N" 100 >/dev/null || { echo "bench_remote: minfs create failed"; exit 1; }

# calls OP: the mount's calls of OP so far (first attempts only)
calls() { grep -c "^remote: $1 attempt 1:" "$W/mount.log"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

echo "remote mount over loopback (dynfs serve --fsync off), $N operations per run, median of $REPS:"
printf '%-8s %12s %12s %8s %12s %10s %s\n' op "mount µs/op" "HTTP µs/op" ratio "FUSE µs/op" "ratio(+FUSE)" "requests/op"
for kind in stat read write; do
	: >"$W/d" && : >"$W/f" && : >"$W/m" && : >"$W/f2"
	g0=$(calls GetItem) p0=$(calls PutItem)
	for r in $(seq 0 $((REPS - 1))); do
		case $kind in
		write) op=create floor=put ;;
		*) op=$kind floor=get ;;
		esac
		"$BUILD/bench/fsops" "$op" "$MNT/t$r$kind" "$N" 100 | awk '{ print $4 }' >>"$W/d" ||
			{ echo "bench_remote: fsops $op failed"; exit 1; }
		"$BUILD/bench/remote_floor" "$EP" "t$r$kind" "$floor" "$N" 100 | awk '{ print $4 }' >>"$W/f" ||
			{ echo "bench_remote: remote_floor failed"; exit 1; }
		[ "$kind" = write ] && { "$BUILD/bench/remote_floor" "$EP" "t$r$kind" create "$N" 100 |
			awk '{ print $4 }' >>"$W/f2" || { echo "bench_remote: remote_floor create failed"; exit 1; }; }
		[ "$kind" = write ] && { "$BUILD/bench/fsops" unlink "$FL" "$N" >/dev/null ||
			{ echo "bench_remote: minfs unlink failed"; exit 1; }; }
		"$BUILD/bench/fsops" "$op" "$FL" "$N" 100 | awk '{ print $4 }' >>"$W/m" ||
			{ echo "bench_remote: fsops $op on minfs failed"; exit 1; }
	done
	g1=$(calls GetItem) p1=$(calls PutItem)
	req=$(awk -v g=$((g1 - g0)) -v p=$((p1 - p0)) -v n=$((N * REPS)) \
		'BEGIN { printf "%.2f (%s)", (g + p) / n, (p ? sprintf("%.2f Get + %.2f Put", g / n, p / n) : "GetItem") }')
	d=$(median <"$W/d") f=$(median <"$W/f") m=$(median <"$W/m")
	fm=$(awk -v f="$f" -v m="$m" 'BEGIN { printf "%.3f", f + m }')
	printf '%-8s %12s %12s %8s %12s %10s   %s\n' "$kind" "$d" "$f" \
		"$(awk -v d="$d" -v f="$f" 'BEGIN { printf "%.2fx", d / f }')" "$m" \
		"$(awk -v d="$d" -v f="$fm" 'BEGIN { printf "%.2fx", d / f }')" "$req"
	case $kind in
	stat) w="stat of an item" ;;
	read) w="cat of an item (open+read+close)" ;;
	write) w="write of a new item (create+write+close)" ;;
	esac
	goal_row "remote: $w, loopback (floor: the HTTP call alone)" "µs/op" "$d" "$f" - "<=1.25x"
	goal_row "remote: $w, loopback (floor: the HTTP call + the same FUSE requests on minfs)" \
		"µs/op" "$d" "$fm" - "<=1.25x"
	if [ "$kind" = write ]; then
		f2=$(median <"$W/f2")
		printf '%-8s %12s %12s %8s %12s %10s   %s\n' "write" "$d" "$f2" \
			"$(awk -v d="$d" -v f="$f2" 'BEGIN { printf "%.2fx", d / f }')" - - \
			"against GetItem (the new name's lookup) + PutItem back to back"
		goal_row "remote: $w, loopback (floor: the two calls a new name needs, GetItem + PutItem)" \
			"µs/op" "$d" "$f2" - "<=1.25x"
	fi
done

# ls_calls: runs ls -l of the partition; sets got (entries), q (Query
# calls), a (all calls), what (calls by operation)
ls_calls() {
	local q0 a0 q1 a1
	q0=$(calls Query) a0=$(grep -c 'attempt 1:' "$W/mount.log")
	ls -l "$MNT/parts/p" >"$W/ls.out" || { echo "bench_remote: ls -l failed"; exit 1; }
	q1=$(calls Query) a1=$(grep -c 'attempt 1:' "$W/mount.log")
	what=$(grep 'attempt 1:' "$W/mount.log" | tail -n +$((a0 + 1)) |
		awk '{ n[$2]++ } END { for (o in n) printf "%s %d, ", o, n[o] }')
	got=$(grep -c '\.json$' "$W/ls.out")
	q=$((q1 - q0)) a=$((a1 - a0))
	[ "$got" = "$LS_N" ] || echo "bench_remote: ls -l listed $got entries, expected $LS_N"
}
pages=$(python3 - "$EP" <<'PY'
import sys, boto3
c = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1")
pages = 0
for _ in c.get_paginator("query").paginate(TableName="parts", ConsistentRead=True,
        KeyConditionExpression="p = :p", ExpressionAttributeValues={":p": {"S": "p"}}):
    pages += 1
print(pages)
PY
)
ls_calls
echo "ls -l of a $LS_N-item partition, cold: $got entries; $a calls to the service, of them" \
	"$q Query (${what%, }); the service's Query pages: $pages"
goal_row "remote: requests per ls -l of a $LS_N-item partition, cold (floor: Query pages)" \
	requests "$a" "$pages" - "<=1x"
ls_calls
echo "ls -l again at once (the directory looked up already): $a calls, of them $q Query" \
	"(${what%, }); the service's Query pages: $pages"
goal_row "remote: requests per ls -l of a $LS_N-item partition, directory known (floor: Query pages)" \
	requests "$a" "$pages" - "<=1x"
