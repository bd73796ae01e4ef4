# t_durability.sh - SPEC §7 durability through a real mount: what is
# written survives unmount and remount; every fsync mode has a change in
# the journal before the write returns (so kill -9 loses nothing); SIGUSR1
# and journal growth write snapshots and trim the journal; the store lock
# keeps a second dynfs out; a read-only mount changes no file.
need_local "the local journal's fsync modes"

export LC_ALL=C
USERS_SCHEMA='{"partition_key":{"name":"username","type":"S"}}'
QUIZ_SCHEMA='{"partition_key":{"name":"id#level","type":"S"},"sort_key":{"name":"week","type":"S"}}'
J=$STORE/journal
S=$STORE/snapshot.json

die() { fail "$*"; done_test; }

make_table() {
	mkdir "$MNT/$1" || die "mkdir $MNT/$1 failed"
	printf '%s\n' "$2" >"$MNT/$1/_schema.json" || die "writing the schema of $1 failed"
}

# put FILE JSON: write an item with cp, which reports a failed close.
put() {
	printf '%s\n' "$2" >"$T/item.json"
	cp "$T/item.json" "$1" || fail "put $1 failed"
}

# field FILE FILTER: a jq filter over an item file, compact.
field() {
	jq -c "$2" <"$1" 2>&1
}

size() { stat -c %s "$1"; }

# crash: kill -9 the daemon and clear away its dead mount.
crash() {
	kill -9 "$DYNFS_PID" 2>/dev/null
	wait "$DYNFS_PID" 2>/dev/null
	fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
	DYNFS_PID=
}

# wait_for WHAT CMD...: poll CMD for up to 10 s.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 100); do
		"$@" && return 0
		sleep 0.1
	done
	fail "timed out waiting for $what"
	return 1
}

journal_empty() { [ "$(size "$J")" -eq 32 ]; }

section "clean unmount: everything in the snapshot, journal empty"
mount_fresh
make_table users "$USERS_SCHEMA"
make_table quiz-stats "$QUIZ_SCHEMA"
mkdir "$MNT/quiz-stats/felienne#3" || fail "mkdir partition"
put "$MNT/users/hedy.json" '{"email": "hedy@hedy.org", "created": 1681239902406}'
put "$MNT/users/felienne.json" '{"email": "felienne@felienne.com", "big": {"$N": "12345678901234567890123456789012345678"}}'
put "$MNT/quiz-stats/felienne#3/2022-09.json" '{"finished": 1, "scores": {"$NS": [95]}}'
rm "$MNT/users/felienne.json" || fail "rm felienne"
put "$MNT/users/felienne.json" '{"email": "felienne@felienne.com", "v": 2}'
[ "$(size "$J")" -gt 32 ] || fail "journal did not grow while mounted"
unmount
expect_eq "journal after unmount" "$(size "$J")" 32
grep -q '"t":"users","i":{"username":"hedy"' "$S" || fail "snapshot lacks users/hedy: $(head -c 600 "$S")"
expect_eq "snapshot trailer" "$(tail -1 "$S" | jq -c '[.end, .tables, .items]')" '["snapshot",2,3]'

section "remount: the same items"
mount_store
expect_eq "hedy" "$(field "$MNT/users/hedy.json" -c)" \
	'{"username":"hedy","created":1681239902406,"email":"hedy@hedy.org"}'
expect_eq "felienne v2" "$(field "$MNT/users/felienne.json" .v)" 2
expect_eq "felienne#3/2022-09" "$(field "$MNT/quiz-stats/felienne#3/2022-09.json" .scores)" \
	'{"$NS":[95]}'
expect_eq "schema" "$(jq -c .sort_key <"$MNT/quiz-stats/_schema.json")" '{"name":"week","type":"S"}'
unmount

for mode in always batch off; do
	section "fsync=$mode: in the journal before the write returns; kill -9 loses nothing"
	mount_store -o "fsync=$mode"
	put "$MNT/users/m-$mode.json" "{\"mode\": \"$mode\"}"
	grep -aq "\"username\":\"m-$mode\"" "$J" || fail "fsync=$mode: m-$mode not in the journal"
	crash
	mount_store
	expect_eq "fsync=$mode after kill -9" "$(field "$MNT/users/m-$mode.json" .mode)" "\"$mode\""
	unmount
done

section "SIGUSR1 writes a snapshot and trims the journal"
mount_store
for i in $(seq 20); do
	put "$MNT/users/sig$i.json" "{\"i\": $i}"
done
[ "$(size "$J")" -gt 32 ] || fail "journal did not grow"
kill -USR1 "$DYNFS_PID"
wait_for "the journal to be trimmed after SIGUSR1" journal_empty
grep -q '"username":"sig20"' "$S" || fail "snapshot after SIGUSR1 lacks sig20"
mountpoint -q "$MNT" || fail "SIGUSR1 stopped the mount"
put "$MNT/users/after-sig.json" '{"after": true}'
crash
mount_store
expect_eq "sig20 after snapshot + crash" "$(field "$MNT/users/sig20.json" .i)" 20
expect_eq "after-sig (journal after snapshot)" "$(field "$MNT/users/after-sig.json" .after)" true
unmount

section "the journal outgrowing the snapshot starts one by itself"
export DYNFS_SNAPSHOT_MIN=20000
mount_store
snap_before=$(stat -c %i "$S")
pad=$(printf '%0200d' 0)
for i in $(seq 200); do
	put "$MNT/users/auto$i.json" "{\"i\": $i, \"pad\": \"$pad\"}"
done
snap_replaced() { [ "$(stat -c %i "$S")" != "$snap_before" ]; }
wait_for "an automatic snapshot" snap_replaced
journal_small() { [ "$(journal_end "$J")" -lt 40000 ]; } # records, not the zeroes ahead
wait_for "the journal to be trimmed" journal_small
crash
unset DYNFS_SNAPSHOT_MIN
mount_store
expect_eq "auto1" "$(field "$MNT/users/auto1.json" .i)" 1
expect_eq "auto200" "$(field "$MNT/users/auto200.json" .i)" 200
expect_eq "user count" "$(ls "$MNT/users" | grep -c '^auto')" 200
unmount

section "the lock: a second dynfs on the same store is refused"
mount_store
mkdir -p "$T/mnt2"
if timeout 10 "$DYNFS" "$STORE" "$T/mnt2" -f 2>"$T/second.log"; then
	fail "a second dynfs on the same store exited with status 0"
fi
if mountpoint -q "$T/mnt2"; then
	fail "a second dynfs mounted the same store"
	fusermount3 -u "$T/mnt2" 2>/dev/null
fi
grep -q "in use by process $DYNFS_PID" "$T/second.log" ||
	fail "second dynfs: message lacks 'in use by process $DYNFS_PID': $(cat "$T/second.log")"
unmount

section "a read-only mount writes nothing"
cp "$S" "$T/snap.before"
cp "$J" "$T/jnl.before"
mount_store -o ro
expect_eq "ro read" "$(field "$MNT/users/hedy.json" .email)" '"hedy@hedy.org"'
if (printf '{}\n' >"$MNT/users/ro-write.json") 2>/dev/null; then
	fail "a write on a read-only mount succeeded"
fi
unmount
cmp -s "$S" "$T/snap.before" || fail "read-only mount changed snapshot.json"
cmp -s "$J" "$T/jnl.before" || fail "read-only mount changed the journal"

done_test
