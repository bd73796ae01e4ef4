# t_faults.sh - issue 11: what a writer and /_errors say when the disk
# fails, driven by an LD_PRELOAD shim (tests/faultshim.c) that makes
# write/fdatasync/ftruncate/rename/open of store files fail on demand:
#
#  - a full disk: the write fails with ENOSPC, nothing changed, and the
#    next write works once there is room;
#  - a failed journal sync: a fresh snapshot makes the change durable, the
#    write succeeds and survives kill -9;
#  - a failed sync that no snapshot can rescue: the write fails, the store
#    stops accepting writes (fail-stop, "STOPPED" in /_errors and the log)
#    until it is remounted, and then holds every acknowledged change;
#  - a journal that cannot be written: writes are refused, and accepted
#    again automatically once the cause is gone ("recovered");
#  - a damaged last journal record: set aside in journal.torn-<lsn>, never
#    destroyed, and reported by `dynfs export --check`;
#  - store files are 0600, an imported store's directory 0700, a planted
#    symlink is never followed;
#  - kill -9 during `_batch` and `/_tx` writers (with snapshots): every
#    acknowledged change is there, no transaction is half applied.
need_local "disk faults of the local store (remote faults: t_remote_faults.sh)"

export LC_ALL=C
SHIM=${FAULTSHIM:-$(dirname "$DYNFS")/tests/faultshim.so}
if [ ! -f "$SHIM" ]; then
	fail "no fault shim at $SHIM (make builds it: build/tests/faultshim.so)"
	done_test
fi
F=$T/faults
: >"$F"
faults() { printf '%s\n' "$@" >"$F"; }
# (An ASan build wants its runtime first among the loaded libraries; the
# shim only forwards to the next definition, so its place is harmless.)
fmount() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		LD_PRELOAD=$SHIM DYNFS_FAULT_DIR=$STORE DYNFS_FAULTS=$F mount_store "$@"
}
crash() {
	kill -9 "$DYNFS_PID" 2>/dev/null
	wait "$DYNFS_PID" 2>/dev/null
	fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
	DYNFS_PID=
}
item() { printf '{"k": "%s", "v": %s}\n' "$1" "${2:-1}" >"$T/item.json"; }
put() { item "$1" "${2:-1}"; cp "$T/item.json" "$MNT/users/$1.json"; }
schema() { echo '{"partition_key": {"name": "k", "type": "S"}}' >"$MNT/$1/_schema.json"; }

mkdir -p "$STORE" "$MNT"
fmount -o fsync=always
mkdir "$MNT/users" || fail "mkdir users"
schema users || fail "schema"
put a0 || fail "first write"

section "a full disk says ENOSPC and changes nothing"
errors_mark
faults "write ENOSPC journal"
item a1
expect_fail "write on a full disk" "No space left on device" cp "$T/item.json" "$MNT/users/a1.json"
new_errors | grep -q "No space left on device" ||
	fail "/_errors lacks ENOSPC: $(new_errors)"
[ -e "$MNT/users/a1.json" ] && fail "a1 exists after a failed write"
faults
expect_ok "write once there is room" put a1

section "a failed journal sync is rescued by a fresh snapshot"
errors_mark
faults "fdatasync EIO journal"
expect_ok "write while the journal sync fails" put b1
faults
new_errors | grep -q "recovered" || fail "/_errors does not say recovered: $(new_errors)"
expect_ok "write after" put b2
crash
fmount -o fsync=always
for k in a0 a1 b1 b2; do
	[ -e "$MNT/users/$k.json" ] || fail "$k lost after kill -9"
done

section "a failed sync no snapshot can rescue stops the store (fail-stop)"
errors_mark
faults "fdatasync EIO journal" "open EROFS snapshot.json.tmp"
item c1
expect_fail "write that cannot be made durable" "Input/output error" \
	cp "$T/item.json" "$MNT/users/c1.json"
new_errors | grep -q "STOPPED.*mount again" || fail "/_errors lacks STOPPED: $(new_errors)"
grep -q "STOPPED" "$T/dynfs.log" || fail "the log lacks STOPPED"
faults
item c2
expect_fail "writes stay refused" "" cp "$T/item.json" "$MNT/users/c2.json"
expect_eq "reads go on" "$(jq -c .k <"$MNT/users/b1.json")" '"b1"'
unmount
fmount -o fsync=always
for k in a0 a1 b1 b2; do
	[ -e "$MNT/users/$k.json" ] || fail "$k lost after the fail-stop"
done
[ -e "$MNT/users/c2.json" ] && fail "c2 was refused but exists"
expect_ok "writes after the remount" put c3

section "a journal that cannot be written recovers automatically"
errors_mark
faults "write EIO journal" "ftruncate EIO journal"
item d1
expect_fail "write while the journal fails" "Input/output error" cp "$T/item.json" "$MNT/users/d1.json"
new_errors | grep -q "refusing writes.*retries" || fail "/_errors lacks the state: $(new_errors)"
faults
ok=0
for _ in $(seq 100); do
	put d2 2>/dev/null && { ok=1; break; }
	sleep 0.1
done
[ "$ok" = 1 ] || fail "writes were not accepted again within 10 s"
new_errors | grep -q "recovered" || fail "/_errors does not say recovered: $(new_errors)"
crash
fmount -o fsync=always
[ -e "$MNT/users/d2.json" ] || fail "d2 lost"
[ -e "$MNT/users/d1.json" ] && fail "d1 was refused but exists"

section "a damaged last journal record is set aside, never destroyed"
put e1 && put e2 && put e3 || fail "writes"
crash
J=$STORE/journal
len=$(journal_end "$J")
printf 'X' | dd of="$J" bs=1 seek=$((len - 3)) conv=notrunc status=none
"$DYNFS" export "$STORE" --check >"$T/check.out" 2>&1
grep -q "damaged or incomplete" "$T/check.out" || fail "export --check is silent: $(cat "$T/check.out")"
: >"$T/dynfs.log"
fmount -o fsync=always
grep -q "damaged or incomplete last record.*set aside in" "$T/dynfs.log" ||
	fail "no honest message: $(cat "$T/dynfs.log")"
ls "$STORE"/journal.torn-* >/dev/null 2>&1 || fail "nothing set aside: $(ls "$STORE")"
[ -e "$MNT/users/e3.json" ] && fail "the damaged record was replayed"
[ -e "$MNT/users/e2.json" ] || fail "e2 lost"
unmount
"$DYNFS" export "$STORE" --check >"$T/check.out" 2>&1 || fail "check failed: $(cat "$T/check.out")"
grep -q "journal.torn-.*set aside" "$T/check.out" || fail "export --check does not report the set-aside tail: $(cat "$T/check.out")"

section "store files are private; planted symlinks are not followed"
for f in snapshot.json journal lock; do
	expect_eq "mode of $f" "$(stat -c %a "$STORE/$f")" 600
done
printf '{"k": "x"}\n' >"$T/one.jsonl"
echo '{"partition_key":{"name":"k","type":"S"}}' >"$T/k.schema.json"
"$DYNFS" import "$T/imported" "$T/one.jsonl" --format jsonl --table imp --schema "$T/k.schema.json" --quiet ||
	fail "import"
expect_eq "mode of an imported store" "$(stat -c %a "$T/imported")" 700
echo precious >"$T/victim"
fmount -o fsync=always
# planted while mounted (an open removes leftover temporaries)
ln -s "$T/victim" "$STORE/snapshot.json.tmp"
: >"$T/dynfs.log"
kill -USR1 "$DYNFS_PID"
for _ in $(seq 100); do grep -q "snapshot" "$T/dynfs.log" && break; sleep 0.05; done
expect_eq "the symlink's target" "$(cat "$T/victim")" precious
[ -L "$STORE/snapshot.json" ] && fail "snapshot.json became a symlink"
unmount

section "kill -9 during _batch and /_tx writers, with snapshots"
# a big table, so that a snapshot takes long enough to be killed in
seq 40000 | awk '{printf "{\"k\":\"big%06d\",\"text\":\"the quick brown fox jumps over the lazy dog %d\"}\n", $1, $1}' >"$T/big.jsonl"
"$DYNFS" import "$STORE" "$T/big.jsonl" --format jsonl --table bigtab --schema "$T/k.schema.json" \
	--quiet || fail "preloading failed"
midsnap=0
fmount -o fsync=always
for t in btab txa txb; do mkdir "$MNT/$t" && schema "$t" || fail "table $t"; done
: >"$T/acked_b"
: >"$T/acked_t"
batch_writer() {
	local r=$1 i=0
	while :; do
		i=$((i + 1))
		printf '{"k": "r%d-%d"}\n{"k": "r%d-%d-x"}\n' "$r" "$i" "$r" "$i" >"$T/b$r.jsonl"
		cp "$T/b$r.jsonl" "$MNT/btab/_batch" 2>/dev/null || return 0
		echo "r$r-$i" >>"$T/acked_b"
	done
}
tx_writer() {
	local r=$1 i=0
	while :; do
		i=$((i + 1))
		printf '{"ops": [{"table": "txa", "put": {"k": "r%d-%d"}}, {"table": "txb", "put": {"k": "r%d-%d"}}]}\n' \
			"$r" "$i" "$r" "$i" >"$T/tx$r.json"
		cp "$T/tx$r.json" "$MNT/_tx" 2>/dev/null || return 0
		# after the crash cp would create a plain file under the mount point
		mountpoint -q "$MNT" || return 0
		echo "r$r-$i" >>"$T/acked_t"
	done
}
for round in 1 2 3 4 5 6; do
	[ "$round" -gt 1 ] && fmount -o fsync=always
	batch_writer "$round" &
	bp=$!
	tx_writer "$round" &
	tp=$!
	sleep "0.$((RANDOM % 3 + 2))"
	if [ $((round % 2)) -eq 0 ]; then
		kill -USR1 "$DYNFS_PID"
		# kill while the snapshot is being written: as soon as its file appears
		for _ in $(seq 400); do
			[ -e "$STORE/snapshot.json.tmp" ] && break
			sleep 0.002
		done
		sleep "0.00$((RANDOM % 10))"
	fi
	crash
	[ -e "$STORE/snapshot.json.tmp" ] && midsnap=$((midsnap + 1))
	wait "$bp" "$tp"
	rm -f "$MNT/_tx"
	fmount -o fsync=always
	while read -r k; do
		[ -e "$MNT/btab/$k.json" ] && [ -e "$MNT/btab/$k-x.json" ] || fail "round $round: acknowledged _batch $k lost"
	done <"$T/acked_b"
	while read -r k; do
		[ -e "$MNT/txa/$k.json" ] && [ -e "$MNT/txb/$k.json" ] || fail "round $round: acknowledged /_tx $k lost"
	done <"$T/acked_t"
	(cd "$MNT/txa" && ls) | sort >"$T/l1"
	(cd "$MNT/txb" && ls) | sort >"$T/l2"
	cmp -s "$T/l1" "$T/l2" || fail "round $round: a transaction is half applied: $(diff "$T/l1" "$T/l2" | head -3)"
	unmount
done
echo "acknowledged: $(wc -l <"$T/acked_b") _batch writes, $(wc -l <"$T/acked_t") transactions ($midsnap kills during a snapshot write)"
[ -e "$MNT/bigtab/big040000.json" ] || { fmount; [ -e "$MNT/bigtab/big040000.json" ] || fail "the big table lost items"; unmount; }
[ "$(wc -l <"$T/acked_t")" -gt 4 ] || fail "the /_tx writer hardly wrote"
"$DYNFS" export "$STORE" --check >"$T/check.out" 2>&1 || fail "integrity: $(cat "$T/check.out")"
done_test
