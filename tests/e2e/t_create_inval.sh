# t_create_inval.sh - a created item's commits through its creating
# handle skip the data invalidation through the invalidation thread when
# the item served no READ (inval.c, "A created item's first commits"),
# and keep it once it did (counted from the notifications, with strace);
# a private mmap of the item (the one way an item's pages get into the
# kernel's cache) sees the next commit.
# Also: a created item's size is right at once, 100 times, beside an
# `ls -l` loop.

mount_fresh
mkdir "$MNT/cinv" || fail "mkdir cinv"
echo '{"partition_key": {"name": "id", "type": "S"}, "indexes": []}' >"$MNT/cinv/_schema.json" ||
	fail "schema"

out=$(python3 - "$MNT/cinv" <<'PY'
import mmap, os, sys
d = sys.argv[1]
p = os.path.join(d, "m1.json")
v1 = b'{"id": "m1", "n": 111111}'
v2 = b'{"id": "m1", "n": 222222}'
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, v1)
os.fsync(fd)  # commit 1: created, never read: no data invalidation
m = mmap.mmap(fd, len(v1), access=mmap.ACCESS_COPY)  # MAP_PRIVATE: pages
print("mapped", m[:len(v1)] == v1)
os.pwrite(fd, v2, 0)
os.fsync(fd)  # commit 2: the item served a READ (the page fault): invalidated
print("after commit", bytes(m[:len(v2)]).decode())
m.close()
os.close(fd)
PY
)
echo "$out"
expect_eq "mmap of a created item" "$(echo "$out" | head -1)" "mapped True"
expect_eq "its pages after the next commit" "$(echo "$out" | tail -1)" \
	'after commit {"id": "m1", "n": 222222}'

# Which items' commits queue a data invalidation (the notifications the
# daemon writes to /dev/fuse, seen with strace: FUSE_NOTIFY_INVAL_INODE
# with offset 0; attribute-only ones have offset -1).  a2 is created and
# written through its creating handle, never read: none.  b2 is created,
# committed (fsync), read through that handle (a READ: it may have pages
# now), written and committed again: one.
notify_trace_start
if [ "$traced" = yes ]; then
	inos=$(python3 - "$MNT/cinv" <<'PY'
import os, sys
d = sys.argv[1]
a, b = os.path.join(d, "a2.json"), os.path.join(d, "b2.json")
fd = os.open(a, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b'{"id": "a2", "n": 1}')
os.close(fd)
fd = os.open(b, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b'{"id": "b2", "n": 1}')
os.fsync(fd)
os.pread(fd, 100, 0)
os.pwrite(fd, b'{"id": "b2", "n": 2}', 0)
os.close(fd)
print(os.stat(a).st_ino, os.stat(b).st_ino)
PY
)
	notify_trace_stop
	got=$(notify_count data $inos)
	echo "data invalidations of a2, b2: $got"
	expect_eq "data invalidations: created a2, read and rewritten b2" "$got" "0 1"
fi

lsloop() { while :; do ls -l "$MNT/cinv" >/dev/null 2>&1; done; }
lsloop &
lp=$!
stale=0
for i in $(seq 100); do
	printf '{"id": "c%d", "n": %d}' "$i" "$i" >"$MNT/cinv/c$i.json"
	s=$(stat -c %s "$MNT/cinv/c$i.json")
	r=$(wc -c <"$MNT/cinv/c$i.json")
	[ "$s" = "$r" ] || { stale=$((stale + 1)); echo "c$i: stat $s, read $r"; }
done
kill "$lp"
wait "$lp" 2>/dev/null
expect_eq "created items with a stale size" "$stale" 0
done_test
