#!/bin/bash
# ctxsw.sh N ROUNDS FS... - what one create and one unlink cost the
# daemon: context switches, CPU and wall time per file.
#
# FS is "floor" (bench/minfs), "floor-flush" (minfs -o flush: answers
# FLUSH, the round trip a filesystem that commits at close cannot skip),
# "floor-sync" (minfs -o syncdir: each FLUSH and UNLINK also appends a
# record to a file in the store's directory and fdatasyncs it, as dynfs
# does with fsync=always) or a dynfs binary (mounted with
# -o fsync=off plus $CTXSW_OPTS, a table with a sort key, files in one
# partition, as bench/run sets it up).  For each round, each FS in turn
# (interleaved: they share the machine's load) is mounted fresh and
# bench/fsops creates N files and then unlinks them.  Around each phase
# the daemon's threads' voluntary + nonvoluntary context switches
# (/proc/PID/task/*/status) and CPU time (/proc/PID/task/*/schedstat)
# are read.  Prints one line per round, FS and phase, then the medians.
#
#   BUILD=$PWD/build bench/ctxsw.sh 3000 5 floor build/dynfs /tmp/old/dynfs
#
# Needs bench/'s programs built (make -C bench BUILD=$PWD/build) and
# /dev/fuse; not part of make bench.
set -u
[ $# -ge 3 ] || { echo "usage: ctxsw.sh N ROUNDS FS..." >&2; exit 2; }
n=$1 rounds=$2
shift 2
BUILD=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
W=$(mktemp -d /tmp/dynfs-ctxsw.XXXXXX)
pid=
trap '[ -n "$pid" ] && { fusermount3 -u "$W/mnt" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$W"' EXIT

# switches and CPU ns of process $pid, all threads
counters() {
	local sw=0 ns=0 f v
	for f in /proc/"$pid"/task/*; do
		v=$(awk '/^(non)?voluntary_ctxt_switches/ {s += $2} END {print s}' "$f/status" 2>/dev/null)
		sw=$((sw + ${v:-0}))
		v=$(awk '{print $1}' "$f/schedstat" 2>/dev/null)
		ns=$((ns + ${v:-0}))
	done
	echo "$sw $ns"
}

mount_one() { # FS: mounts at $W/mnt, sets pid and dir
	rm -rf "$W/mnt" "$W/store"
	mkdir -p "$W/mnt" "$W/store"
	if [ "$1" = floor ]; then
		"$BUILD/bench/minfs" "$W/mnt" -f 2>>"$W/log" &
	elif [ "$1" = floor-flush ]; then
		"$BUILD/bench/minfs" "$W/mnt" -f -o flush 2>>"$W/log" &
	elif [ "$1" = floor-sync ]; then
		"$BUILD/bench/minfs" "$W/mnt" -f -o syncdir="$W/store" 2>>"$W/log" &
	else
		# shellcheck disable=SC2086 # CTXSW_OPTS is a list of words
		"$1" "$W/store" "$W/mnt" -f -o fsync=off ${CTXSW_OPTS:-} 2>>"$W/log" &
	fi
	pid=$!
	for _ in $(seq 200); do mountpoint -q "$W/mnt" && break; sleep 0.05; done
	mountpoint -q "$W/mnt" || { echo "ctxsw.sh: mounting $1 failed" >&2; cat "$W/log" >&2; exit 1; }
	dir=$W/mnt
	if [ "${1#floor}" = "$1" ]; then
		mkdir "$W/mnt/bench" &&
			echo '{"partition_key":{"name":"p","type":"S"},"sort_key":{"name":"k","type":"S"},"indexes":[]}' \
				>"$W/mnt/bench/_schema.json" && mkdir "$W/mnt/bench/p1" || exit 1
		dir=$W/mnt/bench/p1
	fi
}

phase() { # FS-LABEL OP: one fsops run, one line
	local a b t0 t1
	read -r -a a < <(counters)
	t0=$(date +%s%N)
	"$BUILD/bench/fsops" "$2" "$dir" "$n" 200 >/dev/null || exit 1
	t1=$(date +%s%N)
	read -r -a b < <(counters)
	awk -v l="$1" -v op="$2" -v n="$n" -v sw=$((b[0] - a[0])) -v cpu=$((b[1] - a[1])) \
		-v w=$((t1 - t0)) 'BEGIN { printf "%s %s switches %.2f cpu_us %.1f wall_us %.1f\n",
			l, op, sw / n, cpu / n / 1000, w / n / 1000 }'
}

for r in $(seq "$rounds"); do
	for fs in "$@"; do
		label=$fs
		[ "${fs#floor}" = "$fs" ] && label=$(basename "$(dirname "$fs")")/$(basename "$fs")
		mount_one "$fs"
		phase "$label" create
		phase "$label" unlink
		fusermount3 -u "$W/mnt"
		wait "$pid" 2>/dev/null
		pid=
	done
done | tee "$W/all"
echo "--- medians of $rounds rounds, $n files, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$W/all" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    f = line.split()
    k = (f[0], f[1])
    if k not in d:
        order.append(k)
    d[k].append({f[i]: float(f[i + 1]) for i in range(2, len(f), 2)})
for k in order:
    m = {x: statistics.median(r[x] for r in d[k]) for x in ("switches", "cpu_us", "wall_us")}
    print(f"{k[0]:28} {k[1]:7} switches {m['switches']:6.2f}  cpu {m['cpu_us']:7.1f} us  wall {m['wall_us']:7.1f} us")
PY
