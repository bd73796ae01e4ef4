# t_memory.sh - the daemon's memory under `ls -l` of a big partition
# (issue 11 item 7).
#
#  - while the kernel holds the entries of `ls -l` of N items (default
#    200,000), the daemon keeps at most MEM_PER_ENTRY bytes per entry
#    (one node: borrowed table name, key bytes inside the node);
#  - the kernel's FORGETs free every node of the listing (the node count
#    in _stats.json comes back down);
#  - after the kernel drops its caches, the daemon's RSS is at most 1.5x
#    what it was before the listing (freed nodes go back to the system).
#
# The kernel forgets the entries only under memory pressure or when told
# to: this test writes 2 to /proc/sys/vm/drop_caches (a global, harmless
# drop of clean dentries and inodes, as bench/run does).  Without root it
# is skipped, saying so.  MEM_N sets N.  Under AddressSanitizer (CI's
# sanitizer run) the byte figures mean nothing - freed memory sits in
# ASan's quarantine and every allocation has redzones - so only the node
# counts are checked there, and the test says so.

export LC_ALL=C
section() { echo "--- $*"; }

N=${MEM_N:-200000}
MEM_PER_ENTRY=400 # bytes of RSS per entry held by the kernel (was ~430)

if [ "$(id -u)" != 0 ] || [ ! -w /proc/sys/vm/drop_caches ]; then
	echo "SKIP: t_memory.sh needs root to drop the kernel's caches (/proc/sys/vm/drop_caches)"
	done_test
fi

asan=false
if ldd "$DYNFS" 2>/dev/null | grep -q libasan; then
	asan=true
fi

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$DYNFS_PID/status"; }
nodes() { jq .nodes "$MNT/bench/_stats.json"; }
# settle: wait until the node count stops falling (FORGETs are async).
settle() {
	local a b
	a=$(nodes)
	for _ in $(seq 50); do
		sleep 0.2
		b=$(nodes)
		[ "$a" = "$b" ] && break
		a=$b
	done
}

section "$N items in one partition"
python3 - "$N" >"$T/items.jsonl" <<'EOF'
import sys
for i in range(int(sys.argv[1])):
    print('{"p": "p1", "k": "k%07d", "n": %d}' % (i, i))
EOF
printf '{"partition_key": {"name": "p", "type": "S"}, "sort_key": {"name": "k", "type": "S"}}\n' \
	>"$T/schema.json"
mkdir -p "$STORE"
"$DYNFS" import "$STORE" "$T/items.jsonl" --format jsonl --table bench --schema "$T/schema.json" \
	--quiet >"$T/out" 2>&1 || fail "import: $(cat "$T/out")"
mount_fresh

section "RSS before, while listed, after the kernel forgets"
echo 2 >/proc/sys/vm/drop_caches
settle
n0=$(nodes)
r0=$(rss_kb)
cnt=$(ls -l "$MNT/bench/p1" | grep -c '\.json$')
expect_eq "ls -l lists every item" "$cnt" "$N"
n1=$(nodes)
r1=$(rss_kb)
echo 2 >/proc/sys/vm/drop_caches
settle
n2=$(nodes)
r2=$(rss_kb)
per=$(((r1 - r0) * 1024 / N))
echo "nodes $n0 -> $n1 -> $n2; RSS $r0 kB before, $r1 kB listed ($per B/entry), $r2 kB after"
[ "$n1" -ge "$N" ] || fail "ls -l made $n1 nodes for $N entries (readdirplus counts a lookup each)"
[ "$n2" -le $((n0 + 16)) ] || fail "$((n2 - n0)) nodes left after the kernel forgot the listing"
if $asan; then
	echo "AddressSanitizer build: RSS bounds not checked (quarantine and redzones)"
else
	[ "$per" -le "$MEM_PER_ENTRY" ] ||
		fail "the daemon keeps $per bytes per entry the kernel holds (at most $MEM_PER_ENTRY)"
	[ $((r2 * 2)) -le $((r0 * 3)) ] ||
		fail "RSS after the kernel forgot the listing: $r2 kB, more than 1.5x the $r0 kB before"
fi

unmount
done_test
