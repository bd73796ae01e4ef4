# t_memory.sh - the daemon's memory under `ls -l` of a big partition
# (issue 11 item 7), measured by bench/bench_memory.sh (the same run as
# `make bench`'s memory rows), whose result line is checked here:
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
# to: the bench writes 2 to /proc/sys/vm/drop_caches (a global, harmless
# drop of clean dentries and inodes, as bench/run does).  Without root
# this test is skipped, saying so.  MEM_N sets N.  Under AddressSanitizer
# (CI's sanitizer run) the byte figures mean nothing - freed memory sits
# in ASan's quarantine and every allocation has redzones - so only the
# node counts are checked there, and the test says so.  The bench mounts
# a local store of its own (under this test's temp dir).

export LC_ALL=C

N=${MEM_N:-200000}
MEM_PER_ENTRY=400 # bytes of RSS per entry held by the kernel (was ~430)

need_local "bench/bench_memory.sh measures a local store's mount"
if [ "$(id -u)" != 0 ] || [ ! -w /proc/sys/vm/drop_caches ]; then
	echo "SKIP: t_memory.sh needs root to drop the kernel's caches (/proc/sys/vm/drop_caches)"
	done_test
fi

asan=false
if ldd "$DYNFS" 2>/dev/null | grep -q libasan; then
	asan=true
fi

section "bench/bench_memory.sh: $N items in one partition; RSS before, while listed, after the kernel forgets"
BENCH_STORE_DIR=$T "$E2E_HERE/../../bench/bench_memory.sh" "$DYNFS" "$N" >"$T/bench.out" 2>&1 ||
	fail "bench_memory.sh failed: $(tail -5 "$T/bench.out")"
cat "$T/bench.out"
read -r tag r0 r1 r2 per n0 n1 n2 cnt < <(grep '^result ' "$T/bench.out")
[ "${tag:-}" = result ] && [ -n "${cnt:-}" ] || { fail "no result line: $(cat "$T/bench.out")"; done_test; }
expect_eq "ls -l lists every item" "$cnt" "$N"
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
done_test
