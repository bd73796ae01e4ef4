#!/bin/bash
# syncwhy.sh N ROUNDS [DYNFS] - what the journal's fdatasync writes to
# the disk in a create loop and in an unlink loop (fsync=always).
#
# For each round a fresh dynfs (default $BUILD/dynfs, mounted with
# -o fsync=always, a table with a sort key, as bench/ctxsw.sh sets it
# up) creates N files with bench/fsops, then unlinks them, while an
# ftrace instance records ext4_sync_file_enter/exit and the block
# requests each sync issues.  Prints per round and phase, for the
# journal's syncs: how many wrote the journal's inode block (a WSM
# request between the sync's enter and exit: on an ext4 without a
# journal, fdatasync writes the inode whenever the record's write moved
# the file's mtime), and the median µs of syncs with and without that
# write.  bench/README.md, "Why a create's sync cost more than an
# unlink's".
#
#   BUILD=$PWD/build bench/syncwhy.sh 500 3
#
# Needs root (tracefs at /sys/kernel/tracing), /dev/fuse and bench/'s
# programs built; not part of make bench.
set -u
[ $# -ge 2 ] || { echo "usage: syncwhy.sh N ROUNDS [DYNFS]" >&2; exit 2; }
n=$1 rounds=$2
BUILD=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
bin=${3:-$BUILD/dynfs}
TR=/sys/kernel/tracing
[ -w "$TR/instances" ] || { echo "syncwhy.sh: needs a writable $TR/instances" >&2; exit 1; }
W=$(mktemp -d /tmp/dynfs-syncwhy.XXXXXX)
I=$TR/instances/$(basename "$W")
pid=
cleanup() {
	[ -n "$pid" ] && { fusermount3 -u "$W/mnt" 2>/dev/null; wait "$pid" 2>/dev/null; }
	[ -d "$I" ] && { echo 0 >"$I/tracing_on"; echo 0 >"$I/events/enable"; rmdir "$I"; }
	rm -rf "$W"
}
trap cleanup EXIT
mkdir "$I" || exit 1
echo 8192 >"$I/buffer_size_kb"
for e in ext4/ext4_sync_file_enter ext4/ext4_sync_file_exit block/block_rq_issue; do
	echo 1 >"$I/events/$e/enable" || exit 1
done

traced() { # PHASE OUT: one fsops run under the trace
	echo >"$I/trace"
	echo 1 >"$I/tracing_on"
	"$BUILD/bench/fsops" "$1" "$W/mnt/bench/p1" "$n" 200 >/dev/null || exit 1
	echo 0 >"$I/tracing_on"
	cat "$I/trace" >"$2"
}

for r in $(seq "$rounds"); do
	rm -rf "${W:?}/mnt" "${W:?}/store"
	mkdir -p "$W/mnt" "$W/store"
	"$bin" "$W/store" "$W/mnt" -f -o fsync=always >>"$W/log" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 200); do mountpoint -q "$W/mnt" && break; sleep 0.05; done
	mountpoint -q "$W/mnt" || { echo "syncwhy.sh: mounting failed" >&2; cat "$W/log" >&2; exit 1; }
	mkdir "$W/mnt/bench" &&
		echo '{"partition_key":{"name":"p","type":"S"},"sort_key":{"name":"k","type":"S"},"indexes":[]}' \
			>"$W/mnt/bench/_schema.json" && mkdir "$W/mnt/bench/p1" || exit 1
	ino=$(stat -c %i "$W/store/journal")
	traced create "$W/create.$r"
	traced unlink "$W/unlink.$r"
	fusermount3 -u "$W/mnt"
	wait "$pid" 2>/dev/null
	pid=
	for ph in create unlink; do
		python3 - "$W/$ph.$r" "$ino" "$r" "$ph" <<'PY'
import re, sys
rx = re.compile(r'^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (\w+): (.*)$')
fn, ino, rnd, ph = sys.argv[1:]
cur, syncs, first, last = {}, [], None, None
for line in open(fn):
    m = rx.match(line)
    if not m:
        continue
    tid, ts, ev, rest = int(m.group(2)), float(m.group(3)) * 1e6, m.group(4), m.group(5).split()
    if ev == 'ext4_sync_file_enter' and rest[3] == ino:
        cur[tid] = [ts, 0]
    elif ev == 'ext4_sync_file_exit' and tid in cur:
        t0, wsm = cur.pop(tid)
        syncs.append((ts - t0, wsm))
        first = first if first is not None else t0
        last = ts
    elif ev == 'block_rq_issue' and tid in cur and rest[1] == 'WSM':
        cur[tid][1] += 1
def med(x):
    x = sorted(x)
    return '%.0f' % x[len(x) // 2] if x else '-'
w = [d for d, k in syncs if k]
o = [d for d, k in syncs if not k]
span = (last - first) / 1000 if syncs and last > first else float('nan')
print('round %s %-6s syncs %4d  inode written %4d (%2.0f%%, %.2f per ms)  median us: all %s, with inode %s, without %s'
      % (rnd, ph, len(syncs), len(w), 100.0 * len(w) / max(len(syncs), 1), len(w) / span,
         med([d for d, _ in syncs]), med(w), med(o)))
PY
	done
done
echo "--- load $(cut -d' ' -f1-3 /proc/loadavg)"
