# t_crash.sh - SPEC §7 after a crash: a writer commits items with
# fsync=always while dynfs is killed with SIGKILL at random moments, 20
# times (some of them with a SIGUSR1 snapshot in progress); after every
# remount each item whose write and close returned 0 is there with its
# content, and the store passes the integrity check.  Then damaged files:
# a torn journal tail is discarded with a warning; a corrupt or truncated
# snapshot, a corrupt record in the middle of the journal, or a newer
# format version make the mount refuse with a clear message, and the
# files are byte-identical afterwards.
need_local "crash recovery of the local journal"

export LC_ALL=C
ROUNDS=${CRASH_ROUNDS:-20}
J=$STORE/journal
S=$STORE/snapshot.json

die() { fail "$*"; done_test; }

# crash: kill -9 the daemon and clear away its dead mount.
crash() {
	kill -9 "$DYNFS_PID" 2>/dev/null
	wait "$DYNFS_PID" 2>/dev/null
	fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
	DYNFS_PID=
}

# writer ROUND: write items until the mount goes away; log each write whose
# cp (open, write, close) succeeded to $T/acked as "table/name value".
writer() {
	local r=$1 i=0 f=$T/w$1.json
	while :; do
		i=$((i + 1))
		printf '{"round": %d, "i": %d, "pad": "%s"}\n' "$r" "$i" "$PAD" >"$f"
		if cp "$f" "$MNT/crash/r$r-$i.json" 2>/dev/null; then
			echo "r$r-$i $r $i" >>"$T/acked"
		else
			return 0
		fi
	done
}

# check_acked: every acknowledged item is present with its content (one
# jq per few thousand files, output in the order of $T/acked).
check_acked() {
	awk '{ print $1 ".json" }' "$T/acked" >"$T/names"
	awk '{ print "[" $2 "," $3 "]" }' "$T/acked" >"$T/want"
	(cd "$MNT/crash" && xargs -r -d '\n' -a "$T/names" jq -c '[.round, .i]') \
		>"$T/got" 2>"$T/got.err"
	cmp -s "$T/got" "$T/want" ||
		fail "acknowledged items lost or wrong:
$(diff "$T/got" "$T/want" | head -5)
$(head -3 "$T/got.err")"
}

integrity() {
	"$DYNFS" export "$STORE" --check >"$T/check.out" 2>&1 ||
		fail "integrity check failed: $(cat "$T/check.out")"
}

PAD=$(printf '%0100d' 0)

section "preload a big table so snapshots take a while"
mkdir -p "$STORE"
seq 60000 | awk '{printf "{\"id\":\"big%06d\",\"n\":%d,\"text\":\"the quick brown fox jumps over the lazy dog %d\"}\n", $1, $1, $1}' >"$T/big.jsonl"
printf '{"partition_key":{"name":"id","type":"S"}}\n' >"$T/id.schema.json"
"$DYNFS" import "$STORE" "$T/big.jsonl" --format jsonl --table big --schema "$T/id.schema.json" \
	--quiet || die "preloading failed"
mount_fresh -o fsync=always
mkdir "$MNT/crash" || die "mkdir crash"
unmount
: >"$T/acked"
midsnap=0

for round in $(seq "$ROUNDS"); do
	section "round $round: kill -9 during writes$([ $((round % 2)) -eq 0 ] && echo ' and a snapshot')"
	mount_store -o fsync=always
	writer "$round" &
	wpid=$!
	sleep "0.$((RANDOM % 4 + 1))"
	if [ $((round % 2)) -eq 0 ]; then
		kill -USR1 "$DYNFS_PID"
		# a snapshot of the preloaded table takes about 0.1 s
		sleep "0.$(printf '%03d' $((RANDOM % 120)))"
	fi
	crash
	[ -e "$STORE/snapshot.json.tmp" ] && midsnap=$((midsnap + 1))
	wait "$wpid"
	mount_store -o fsync=always
	check_acked
	unmount
	integrity
done
n=$(wc -l <"$T/acked")
echo "acknowledged writes over $ROUNDS crashes: $n ($midsnap kills during a snapshot write)"
[ "$n" -gt "$ROUNDS" ] || fail "the writer hardly wrote anything ($n items)"

section "_batch lines journaled as written replay to the same items"
# bare items are journaled as the line's own text (docs/formats.md):
# spacing, attribute order, number spellings and escapes as written
mount_store -o fsync=always
printf '%s\r\n' '  {"n": 1.50, "id": "b1", "s": "caf\u00e9 \"q\" \\", "l": [ 1 , {"z": -0, "y": {"$SS": ["b", "a"]}}] }' \
	'{"id":"b2","big":12345678901234567890123456789012345678,"e":1E+2,"m":{"$M":{"$N":"1"}}}' >"$T/odd.jsonl"
printf '%s\n' '{"put": {"z": 3, "id": "b3"}}' >>"$T/odd.jsonl"
cat "$T/odd.jsonl" >"$MNT/crash/_batch" || fail "the _batch write failed"
for k in b1 b2 b3; do cat "$MNT/crash/$k.json" >"$T/$k.before" || fail "no item $k"; done
crash
mount_store -o fsync=always
for k in b1 b2 b3; do
	cmp -s "$MNT/crash/$k.json" "$T/$k.before" ||
		fail "item $k after the crash: $(cat "$MNT/crash/$k.json" 2>&1) (was $(cat "$T/$k.before"))"
done
grep -q '"n": 1.50, "id": "b1"' "$J" || fail "the journal does not hold b1's line as written"
unmount
integrity

# --- damaged files -----------------------------------------------------

# refused WHAT PATTERN: mounting must fail with a message matching PATTERN
# and leave snapshot.json and the journal byte for byte as they were.
refused() {
	local what=$1 pattern=$2 pid i
	cp "$S" "$T/s.copy"
	cp "$J" "$T/j.copy"
	"$DYNFS" "$STORE" "$MNT" -f 2>"$T/refused.log" &
	pid=$!
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if mountpoint -q "$MNT"; then
		fail "$what: the store was mounted"
		fusermount3 -u "$MNT"
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" && fail "$what: dynfs exited with status 0"
	grep -Eq -- "$pattern" "$T/refused.log" ||
		fail "$what: message lacks /$pattern/: $(cat "$T/refused.log")"
	cmp -s "$S" "$T/s.copy" || fail "$what: snapshot.json was changed"
	cmp -s "$J" "$T/j.copy" || fail "$what: the journal was changed"
	echo "$what: $(head -3 "$T/refused.log")"
}

# flip FILE OFFSET: change one byte (xor 0x01).
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# a store whose journal holds three records after the snapshot
mkstore_with_journal() {
	mount_store -o fsync=always
	for i in 1 2 3; do
		printf '{"i": %d}\n' $i >"$T/x.json"
		cp "$T/x.json" "$MNT/crash/j$i.json" || fail "write j$i"
	done
	crash
}

section "a torn last journal record is discarded with a warning"
mkstore_with_journal
full=$(journal_end "$J")
truncate -s $((full - 3)) "$J"
: >"$T/dynfs.log"
mount_store
grep -q "torn" "$T/dynfs.log" || fail "no warning about the torn record: $(cat "$T/dynfs.log")"
[ -e "$MNT/crash/j3.json" ] && fail "the torn record's item exists"
expect_eq "j2 before the torn record" "$(jq -c .i <"$MNT/crash/j2.json" 2>&1)" 2
unmount
integrity

section "a record cut short inside the room is a torn tail"
torn_files() { find "$STORE" -name 'journal.torn-*' | wc -l; }
ntorn=$(torn_files)
mkstore_with_journal
end=$(journal_end "$J")
size=$(stat -c %s "$J")
dd if=/dev/zero of="$J" bs=1 seek=$((end - 3)) count=3 conv=notrunc status=none
expect_eq "the size stays" "$(stat -c %s "$J")" "$size"
: >"$T/dynfs.log"
mount_store
grep -q "torn" "$T/dynfs.log" || fail "no warning about the torn record: $(cat "$T/dynfs.log")"
expect_eq "its bytes set aside" "$(torn_files)" $((ntorn + 1))
[ -e "$MNT/crash/j3.json" ] && fail "the torn record's item exists"
expect_eq "j2 before the torn record" "$(jq -c .i <"$MNT/crash/j2.json" 2>&1)" 2
unmount
integrity

section "zeroes written ahead: a killed store's journal ends in room, not a torn tail"
mkstore_with_journal
[ "$(stat -c %s "$J")" -gt "$(journal_end "$J")" ] ||
	fail "no zeroes written ahead of the journal's records (fsync=always)"
: >"$T/dynfs.log"
mount_store
grep -q "torn\|damaged" "$T/dynfs.log" && fail "room taken for a torn tail: $(cat "$T/dynfs.log")"
expect_eq "nothing set aside" "$(torn_files)" $((ntorn + 1))
expect_eq "j3, the last record before the room" "$(jq -c .i <"$MNT/crash/j3.json" 2>&1)" 3
unmount
integrity

section "a corrupt record in the middle of the journal: refused"
mkstore_with_journal
flip "$J" 60 # inside the payload of the first record
refused "mid-journal corruption" "journal .*offset 32.*refusing"
refused "mid-journal corruption (again, nothing repaired)" "refusing"
flip "$J" 60
mount_store
expect_eq "after repair by hand" "$(jq -c .i <"$MNT/crash/j3.json" 2>&1)" 3
unmount

section "a corrupt snapshot: refused"
off=$(($(head -c 2000 "$S" | grep -abo '"t":"big"' | head -1 | cut -d: -f1) + 20))
flip "$S" "$off"
refused "corrupt snapshot" "snapshot .*refusing"
flip "$S" "$off"

section "a truncated snapshot: refused"
cp "$S" "$T/s.good"
truncate -s $(($(stat -c %s "$S") / 2)) "$S"
refused "truncated snapshot" "snapshot .*(truncated|cut short)"
cp "$T/s.good" "$S"

section "a newer format version: refused"
sed -i '1s/"version":1,/"version":9,/' "$S"
refused "newer snapshot version" "newer"
cp "$T/s.good" "$S"

section "going back to an older dynfs (docs/formats.md): a clean unmount leaves no records"
mount_store
unmount
expect_eq "the journal after a clean unmount: its header alone" "$(stat -c %s "$J")" 32
expect_eq "its format version" "$(od -An -tu4 -j8 -N4 "$J" | tr -d ' ')" 2
rm "$J" # what an older dynfs then needs; this one starts from the snapshot too
: >"$T/dynfs.log"
mount_store
grep -q "no journal" "$T/dynfs.log" || fail "no warning about the missing journal: $(cat "$T/dynfs.log")"
check_acked
unmount
integrity
done_test
