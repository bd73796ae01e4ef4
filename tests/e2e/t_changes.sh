# t_changes.sh - the change feed and TTL (SPEC §11, docs/changes.md).
#
#  - `tail -f`, `cat` and a `while read` loop follow users/_changes and
#    /_changes while every write path changes items: item files (create,
#    update, rm), rename, _batch, /_tx, TTL; lines in commit order with
#    both images, "tx" shared by a transaction's lines, "by": "ttl";
#  - the root feed carries "table"; both readers see the same lines;
#  - a reader reading back to back while changes keep coming gets every
#    line, the last one soon after the last write;
#  - poll() wakes on a change; O_NONBLOCK reads say EAGAIN; Ctrl-C
#    (SIGINT) ends a blocked reader;
#  - a reader that falls behind the ring gets the fell_behind line and
#    resumes with since=; a since= no longer retained is an error;
#  - since= replays, also across a remount; TTL deletes while mounted,
#    under write load, and at mount for items that expired meanwhile;
#  - _changes on -o ro.
need_local "the change feed (a service has none; _changes is ENOTSUP remotely, checked in t_remote.sh)"

export LC_ALL=C

# wait_for WHAT FILE PATTERN [COUNT]: until FILE has COUNT lines matching.
wait_for() {
	local n=${4:-1}
	for _ in $(seq 150); do
		[ "$(grep -c -- "$3" "$2" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.1
	done
	fail "$1: no line matching $3 in $2 after 15s: $(tail -3 "$2" 2>/dev/null)"
	return 1
}

# synced FILE: put users/sync.json until the reader writing FILE shows it
# (a reader starts at the end: this proves it is open and following).
SYNC=0
synced() {
	for _ in $(seq 100); do
		SYNC=$((SYNC + 1))
		echo "{\"n\": $SYNC}" >"$MNT/users/sync.json"
		for _ in $(seq 15); do
			grep -q "\"n\":$SYNC[,}]" "$1" 2>/dev/null && return 0
			sleep 0.1
		done
	done
	fail "reader of $1 never caught up"
}

# view FILE: from the line after the last sync, one summary line per change.
view() {
	awk '/"id":"sync"/ { buf = ""; next } { buf = buf $0 "\n" } END { printf "%s", buf }' "$1" |
		jq -c '[.op, (.table // "-"), (.keys.id // .keys.p), .old.v, .new.v, (.tx != null), (.by // "-")]'
}

mount_fresh
U=$MNT/users
mkdir "$U" "$MNT/quiz"
echo '{"partition_key": {"name": "id", "type": "S"}, "ttl_attribute": "exp"}' >"$U/_schema.json" ||
	fail "users schema"
echo '{"partition_key": {"name": "p", "type": "S"}, "sort_key": {"name": "s", "type": "S"}}' \
	>"$MNT/quiz/_schema.json" || fail "quiz schema"
expect_eq "ttl_attribute shown" "$(jq -r .ttl_attribute "$U/_schema.json")" "exp"

section "tail -f, cat and while read follow every write path"
tail -f "$U/_changes" >"$T/tail" 2>"$T/tail.err" &
TAIL=$!
cat "$MNT/_changes" >"$T/root" &
ROOT=$!
(while IFS= read -r line; do printf '%s\n' "$line"; done <"$U/_changes") >"$T/loop" &
LOOP=$!
synced "$T/tail"
synced "$T/root"
synced "$T/loop"
echo "{\"n\": 0}" >"$U/sync.json" # the same last sync line for all three

touch "$U/a.json"                                   # create (key only)
echo '{"v": 1}' >"$U/a.json"                        # update
echo '{"v": 2}' >"$U/a.json"                        # update
mv "$U/a.json" "$U/b.json"                          # rename: one transaction
printf '{"id": "c", "v": 3}\n{"delete": {"id": "b"}}\n' >"$U/_batch"
printf '%s' '{"ops": [{"put": {"id": "d", "v": 4}, "table": "users"},
  {"put": {"p": "x", "s": "1", "v": 5}, "table": "quiz"}]}' >"$MNT/_tx"
rm "$U/c.json"
echo '{"id": "e", "v": 6, "exp": 1}' >"$U/_batch"      # expired at once: TTL
echo '{"id": "f", "v": 7, "exp": "never"}' >"$U/_batch" # not a number: stays
echo '{"id": "z", "v": 9}' >"$U/_batch"                 # the last one

expected='["put","-","a",null,null,false,"-"]
["put","-","a",null,1,false,"-"]
["put","-","a",1,2,false,"-"]
RENAME
["put","-","c",null,3,false,"-"]
["delete","-","b",2,null,false,"-"]
["put","-","d",null,4,true,"-"]
["delete","-","c",3,null,false,"-"]
["put","-","e",null,6,false,"-"]
["delete","-","e",6,null,false,"ttl"]
["put","-","f",null,7,false,"-"]
["put","-","z",null,9,false,"-"]'
wait_for "tail -f" "$T/tail" '"id":"z"'
wait_for "cat" "$T/root" '"id":"z"'
wait_for "while read" "$T/loop" '"id":"z"'
# The TTL delete of e may come before or after f and z are put (the
# sweeper runs on its own clock): wait for it in every reader, then take
# it out and check it separately.
wait_for "tail -f" "$T/tail" '"by":"ttl"'
wait_for "cat" "$T/root" '"by":"ttl"'
wait_for "while read" "$T/loop" '"by":"ttl"'
got=$(view "$T/tail")
ttl_line=$(echo "$got" | grep '"ttl"')
expect_eq "ttl delete line" "$ttl_line" '["delete","-","e",6,null,false,"ttl"]'
rename=$(echo "$got" | grep -n '"b"' | head -2)
got=$(echo "$got" | grep -v '"ttl"' |
	awk '/"put","-","b",/ || (/"delete","-","a",/) { if (!r++) print "RENAME"; next } { print }')
expect_eq "users/_changes via tail -f" "$got" "$(echo "$expected" | grep -v '"ttl"')"
# rename: a delete of a and a put of b, in one transaction
rn=$(view "$T/tail" | grep -E '"(delete","-","a"|put","-","b")')
expect_eq "rename lines" "$(echo "$rn" | sort)" \
	"$(printf '%s\n' '["delete","-","a",2,null,true,"-"]' '["put","-","b",null,2,true,"-"]' | sort)"
expect_eq "while read sees what tail -f sees" "$(view "$T/loop")" "$(view "$T/tail")"
# both images are whole items, keys included
line=$(grep '"new":{"id":"a","v":2}' "$T/tail")
expect_eq "update images" "$(echo "$line" | jq -c '[.keys, .old, .new]')" \
	'[{"id":"a"},{"id":"a","v":1},{"id":"a","v":2}]'
# the root feed: the same changes with "table", the quiz put between
rootv=$(view "$T/root")
expect_eq "root: quiz line" "$(echo "$rootv" | grep quiz)" '["put","quiz","x",null,5,true,"-"]'
expect_eq "root: users lines" "$(echo "$rootv" | grep -v quiz | sed 's/"users"/"-"/')" \
	"$(view "$T/tail")"
# seq strictly increasing; the two lines of the /_tx share one tx id
expect_eq "seq increasing" "$(jq -s '[.[].seq] | . == (sort | unique)' "$T/root")" "true"
expect_eq "one tx id for the /_tx" \
	"$(grep -E '"(id":"d"|p":"x")' "$T/root" | jq -s '[.[].tx] | unique | length')" "1"
expect_eq "f (a string expiry) stays" "$(jq -c . "$U/f.json")" '{"id":"f","exp":"never","v":7}'
[ -e "$U/e.json" ] && fail "e.json expired but is still there"
grep -q . "$T/tail.err" && fail "tail -f said: $(cat "$T/tail.err")"
kill "$TAIL" "$ROOT" "$LOOP" 2>/dev/null
wait "$TAIL" "$ROOT" "$LOOP" 2>/dev/null

section "a reader reading back to back while changes keep coming"
# Short answers are at most one per 2 ms per descriptor (fs/changes.c:
# a read that would get fewer lines than it asks for soon after the last
# answer waits for the feed thread's next round).  Every line still comes,
# in order, and the last one soon after the last write, though no commit
# follows it to wake anyone.
out=$(python3 - "$U" 2>"$T/b2b.err" <<'EOF'
import os, sys, threading, time
u = sys.argv[1]
N = 400
fd = os.open(u + "/_changes", os.O_RDONLY)
got, reads, done = [], [0], threading.Event()
span = [time.monotonic(), 0.0]
def follow():
    buf = b""
    while not done.is_set():
        b = os.read(fd, 131072)
        reads[0] += 1
        buf += b
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            got.append((time.monotonic(), line))
            if b'"id":"bb%d"' % N in line:
                span[1] = time.monotonic()
                done.set()
t = threading.Thread(target=follow, daemon=True)
t.start()
w = os.open(u + "/_batch", os.O_WRONLY)
t0 = time.monotonic()
for i in range(1, N + 1):
    os.write(w, b'{"id": "bb%d"}\n' % i)  # one commit each
    time.sleep(0.0005)
t1 = time.monotonic()
ok = done.wait(10)
os.close(w)
ids = [l.split(b'"id":"bb')[1].split(b'"')[0] for _, l in got if b'"id":"bb' in l]
# every answer is short (lines of 100 bytes, reads of 128 KiB): at most
# one per 2 ms of the reader's span, plus the first
ms = (span[1] - span[0]) * 1000
print("all" if ids == [b"%d" % i for i in range(1, N + 1)] else "lines %d" % len(ids),
      "late" if not ok or got[-1][0] - t1 > 2 else "soon",
      "spaced" if reads[0] <= ms / 2 + 2 else "%d reads in %.0f ms" % (reads[0], ms))
print("reads %d for %d lines in %.0f ms" % (reads[0], N, (t1 - t0) * 1000), file=sys.stderr)
EOF
)
expect_eq "every line, in order, the last one soon, answers 2 ms apart" "$out" "all soon spaced"
echo "  $(cat "$T/b2b.err")"
# A short answer held back (the read came within 2 ms of the last answer)
# is given by the feed thread's next round even when no commit follows:
# a write, a read answered at once, a write nobody waits for, a read.
out=$(python3 - "$U" 2>"$T/b2b.err" <<'EOF'
import os, sys, threading, time
u = sys.argv[1]
fd = os.open(u + "/_changes", os.O_RDONLY)
w = os.open(u + "/_batch", os.O_WRONLY)
def read_within(limit):
    out = []
    t = threading.Thread(target=lambda: out.append(os.read(fd, 131072)), daemon=True)
    t.start()
    t.join(limit)
    return out[0] if out else None
waits = []
for i in range(30):
    os.write(w, b'{"id": "a%d"}\n' % i)  # committed when write returns
    a = read_within(5)
    os.write(w, b'{"id": "b%d"}\n' % i)  # nobody waits in a read: no wake-up
    t0 = time.monotonic()
    b = read_within(5)  # soon after the last answer: may wait for a round
    waits.append(time.monotonic() - t0)
    if a is None or b is None:
        print("stuck")
        sys.stdout.flush()
        os._exit(0)
    if b'"id":"a%d"' % i not in a or b'"id":"b%d"' % i not in b:
        print("wrong", a, b)
        os._exit(0)
print("ok")
print("waited > 1 ms: %d of 30; longest %.1f ms" % (sum(x > 0.001 for x in waits), max(waits) * 1000), file=sys.stderr)
EOF
)
expect_eq "a held-back answer comes without another commit" "$out" "ok"
echo "  $(cat "$T/b2b.err")"

section "poll, O_NONBLOCK, Ctrl-C"
out=$(python3 - "$U" <<'EOF'
import os, select, subprocess, sys
u = sys.argv[1]
fd = os.open(u + "/_changes", os.O_RDONLY)
p = select.poll()
p.register(fd, select.POLLIN)
r1 = p.poll(300)
subprocess.run(["touch", u + "/polled.json"], check=True)
r2 = p.poll(10000)
line = os.read(fd, 65536).decode()
os.set_blocking(fd, False)
try:
    os.read(fd, 65536)
    r3 = "data"
except BlockingIOError:
    r3 = "EAGAIN"
print(r1 == [], r2 == [(fd, select.POLLIN)], '"id":"polled"' in line, r3)
EOF
)
expect_eq "poll and O_NONBLOCK" "$out" "True True True EAGAIN"
# A read parked in dynfs ends with EINTR when a signal comes (FUSE
# interrupt); without that the reader would sit in D state.  Only if the
# read is still parked 30 s later does a write end it (the test then fails
# with "data", and does not hang); the write waits for the reader, not for
# a fixed time, so a slow start under load cannot turn into "data".
rm -f "$T/read-done"
(for _ in $(seq 300); do [ -e "$T/read-done" ] && exit 0; sleep 0.1; done
 touch "$U/unblock.json") &
UNBLOCK=$!
out=$(python3 - "$U/_changes" "$T/read-done" <<'EOF2'
import os, signal, sys
def stop(sig, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGALRM, stop)
fd = os.open(sys.argv[1], os.O_RDONLY)
signal.alarm(1)
try:
    os.read(fd, 100)
    print("data")
except KeyboardInterrupt:
    print("interrupted")
open(sys.argv[2], "w").close()
EOF2
)
expect_eq "a signal interrupts a blocked read" "$out" "interrupted"
wait "$UNBLOCK" 2>/dev/null

section "since= replays what is retained"
first=$(grep '"id":"c"' "$T/root" | head -1 | jq .seq)
got=$(timeout 5 head -3 "$U/_changes?since=$first" | jq -c '[.op, .keys.id]')
expect_eq "since=" "$got" '["put","c"]
["delete","b"]
["put","d"]'
expect_eq "since=0: the oldest retained" \
	"$(timeout 5 head -1 "$MNT/_changes?since=0" | jq -c '[.seq, .table, .op]')" '[1,"users","put"]'
expect_fail "since=-1" "Invalid argument" cat "$U/_changes?since=-1"
expect_fail "unknown parameter" "Invalid argument" cat "$U/_changes?from=3"
expect_fail "writing _changes" "Permission denied" sh -c "echo x > '$U/_changes'"

section "the sweeper under write load"
now=$(date +%s)
for i in $(seq 1 200); do
	echo "{\"id\": \"s$i\", \"exp\": $((now - 10))}"
	echo "{\"id\": \"k$i\", \"exp\": $((now + 3600))}"
done >"$U/_batch"
( for i in $(seq 1 300); do echo "{\"id\": \"w$i\", \"v\": $i}"; done >"$U/_batch" ) &
W=$!
for _ in $(seq 100); do
	left=$(ls "$U" | grep -c '^s[0-9]*\.json$')
	[ "$left" = 0 ] && break
	sleep 0.1
done
wait "$W"
expect_eq "expired items swept under load" "$(ls "$U" | grep -c '^s[0-9]*\.json$')" "0"
expect_eq "unexpired items stay" "$(ls "$U" | grep -c '^k[0-9]*\.json$')" "200"
expect_eq "writes went through" "$(ls "$U" | grep -c '^w[0-9]*\.json$')" "300"

section "since= across a remount; expiry while unmounted"
last=$(timeout 2 cat "$MNT/_changes?since=$first" | jq -s 'map(.seq) | max')
echo "{\"id\": \"soon\", \"exp\": $(($(date +%s) + 2))}" >"$U/_batch" # seq last+1
unmount
sleep 3 # "soon" expires while nothing is mounted
mount_store
[ -e "$U/soon.json" ] && fail "soon.json expired while unmounted but is there at mount"
expect_eq "ttl_attribute kept" "$(jq -r .ttl_attribute "$U/_schema.json")" "exp"
got=$(timeout 3 head -1 "$U/_changes?since=$((last + 2))" | jq -c '[.op, .keys.id, .by]')
expect_eq "since= after a remount: the expiry at mount" "$got" '["delete","soon","ttl"]'
expect_fail "since= from before the remount" "Numerical result out of range" \
	cat "$U/_changes?since=$last"
grep -q "no longer retained" "$MNT/_errors" || fail "/_errors does not say why: $(tail -2 "$MNT/_errors")"
expect_fail "since= never assigned" "Numerical result out of range" \
	cat "$U/_changes?since=$((last + 1000))"

section "a reader that falls behind"
unmount
DYNFS_CHANGES_RING=64 mount_store
exec 3<"$U/_changes"
for i in $(seq 1 100); do echo "{\"id\": \"r$i\"}"; done >"$U/_batch"
behind=$(timeout 5 head -1 <&3)
exec 3<&-
expect_eq "fell_behind line" "$(echo "$behind" | jq -c 'keys')" '["fell_behind","lost","since"]'
lost=$(echo "$behind" | jq .lost)
since=$(echo "$behind" | jq .since)
expect_eq "64 retained" "$((since - lost))" "36"
got=$(timeout 5 head -64 "$U/_changes?since=$since" | jq -r .keys.id | tr '\n' ' ')
expect_eq "resume from since" "$got" "$(seq 37 100 | sed 's/^/r/' | tr '\n' ' ')"
expect_fail "lost changes" "Numerical result out of range" cat "$U/_changes?since=$lost"

section "dynfs import between mounts is not silently skipped"
nx=$(($(timeout 2 cat "$U/_changes?since=$since" | jq -s 'map(.seq) | max') + 1))
unmount
echo '{"id": "imported"}' >"$T/imp.jsonl"
expect_ok "import" "$DYNFS" import "$STORE" "$T/imp.jsonl" --format jsonl --table users --quiet
mount_store
expect_eq "imported" "$(jq -c . "$U/imported.json")" '{"id":"imported"}'
expect_fail "since= from before an import" "Numerical result out of range" \
	cat "$U/_changes?since=$nx"

section "-o ro serves _changes"
unmount
mount_store -o ro
got=$(timeout 2 cat "$U/_changes"; echo "rc=$?")
expect_eq "ro: nothing changes, the read waits" "$got" "rc=124"
unmount

done_test
