# t_shell.sh - shell automation never fails silently (SPEC §5 "Rejected
# content", "Item names are strict", "Scratch files"; issue 10).
#
# bash's builtin echo/printf ignore close(), so a bad document must fail
# the write() that completes or breaks it: exit status 1 and bash's
# "write error" on stderr, one /_errors line per refused save, nothing
# stored.  The same through external writers (tee, python3), while jq,
# sed -i, rsync and many small or out-of-order writes keep working.  A
# ".json" name is an item name: aliases reach the canonical item, names
# that cannot be keys are refused.  Scratch files left at unmount are
# reported.  A remount shows what was accepted persisted and what was
# refused left the stored item as it was.
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

mount_fresh
make_table users "$USERS_SCHEMA"
make_table quiz-stats "$QUIZ_SCHEMA"
make_table nums '{"partition_key":{"name":"n","type":"N"},"indexes":[]}'
make_table scores '{"partition_key":{"name":"p","type":"S"},"sort_key":{"name":"s","type":"N"},"indexes":[]}'
make_table bins '{"partition_key":{"name":"b","type":"B"},"indexes":[]}'
U=$MNT/users
put "$U/hedy.json" '{"email": "hedy@hedy.org", "level": 1}'
HEDY='{"username":"hedy","email":"hedy@hedy.org","level":1}'

# sh_write WHAT EXPECTED-ERRNO-TEXT FILE DATA: bash -c "printf DATA > FILE"
# (DATA with printf %b escapes, passed through a file: it may be big);
# with an errno text the builtin must fail with it, else succeed.  Either
# way: the number of new /_errors lines must be 1 (refused) or 0.
sh_write() {
	local what=$1 want=$2 file=$3 data=$4 rc n
	errors_mark
	printf '%b' "$data" >"$T/data"
	bash -c 'd=$(<"$2"); printf "%s\n" "$d" > "$1"' _ "$file" "$T/data" >"$T/out" 2>"$T/err"
	rc=$?
	n=$(tail -n +$((ERRORS_AT + 1)) "$MNT/_errors" | wc -l)
	if [ -n "$want" ]; then
		[ $rc -ne 0 ] || fail "$what: bash exited 0"
		grep -q "write error: $want" "$T/err" ||
			fail "$what: stderr lacks 'write error: $want': $(cat "$T/err")"
		expect_eq "$what: /_errors lines (one refused save, one line)" "$n" 1
	else
		[ $rc -eq 0 ] || fail "$what: bash failed: $(cat "$T/err") $(tail -n +$((ERRORS_AT + 1)) "$MNT/_errors")"
		expect_eq "$what: /_errors lines" "$n" 0
	fi
}

section "bash builtins see a refused item at write()"
sh_write "key disagrees with the path" "Invalid argument" "$U/hedy.json" '{"username": "other"}\n'
sh_write "empty set" "Invalid argument" "$U/hedy.json" '{"tags": {"$SS": []}}\n'
sh_write "duplicate attribute" "Invalid argument" "$U/hedy.json" '{"a": 1, "a": 2}\n'
sh_write "syntax error" "Invalid argument" "$U/hedy.json" '{"email": }\n'
sh_write "not an object" "Invalid argument" "$U/hedy.json" 'hello\n'
sh_write "an unterminated string" "Invalid argument" "$U/hedy.json" '{"email": "x\n'
sh_write "garbage after the object" "Invalid argument" "$U/hedy.json" '{"a": 1} x\n'
sh_write "a second document" "Invalid argument" "$U/hedy.json" '{"a": 1}\n{"b": 2}\n'
big=$(head -c 420000 /dev/zero | tr '\0' x)
sh_write "over 400 KB" "File too large" "$U/hedy.json" "{\"big\": \"$big\"}\n"
expect_eq "hedy unchanged by every refusal" "$(jq -c . "$U/hedy.json")" "$HEDY"
sh_write "a refused new item" "Invalid argument" "$U/ghost.json" '{"s": {"$NS": []}}\n'
expect_fail "... leaves nothing behind" "No such file" cat "$U/ghost.json"
errors_mark
bash -c 'printf "{\"level\": 1" > "$1"' _ "$U/ada.json" ||
	fail "an incomplete document is refused at close only (bash cannot see it)"
expect_error_line "incomplete document" ada.json
expect_fail "... not stored" "No such file" cat "$U/ada.json"
sh_write "a valid item" "" "$U/grace.json" '{"level": 2}\n'
expect_eq "stored" "$(jq -c . "$U/grace.json")" '{"username":"grace","level":2}'
sh_write "echo of a valid document then more whitespace" "" "$U/grace.json" '{"level": 3}\n\n  \n'
expect_eq "stored" "$(jq -c .level "$U/grace.json")" 3

section "_schema.json and /_tx at write()"
sh_write "bad schema" "Invalid argument" "$MNT/nums/_schema.json" '{"partition_key": {"name": "n", "type": "X"}}\n'
sh_write "key schema change of a table with items" "Device or resource busy" "$U/_schema.json" \
	'{"partition_key": {"name": "id", "type": "S"}}\n'
expect_eq "schema unchanged" "$(jq -c .partition_key "$U/_schema.json")" '{"name":"username","type":"S"}'
sh_write "a transaction whose condition fails" "Operation canceled" "$MNT/_tx" \
	'{"ops": [{"table": "users", "update": {"username": "hedy"}, "set": {"level": 9}, "if": "level = 7"}]}\n'
expect_eq "not applied" "$(jq -c .level "$U/hedy.json")" 1
sh_write "a transaction that is no JSON" "Invalid argument" "$MNT/_tx" '{"ops": [}\n'
sh_write "a transaction that commits" "" "$MNT/_tx" \
	'{"ops": [{"table": "users", "update": {"username": "hedy"}, "add": {"visits": 1}}]}\n'
expect_eq "applied once" "$(jq -c .visits "$U/hedy.json")" 1
out=$(python3 - "$MNT/_tx" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
doc = b'{"ops": [{"table": "users", "update": {"username": "hedy"}, "add": {"visits": 1}, "if": "visits = 5"}]}'
try:
    os.write(fd, doc)
    print("write ok")
except OSError as e:
    print("write:", e.strerror)
os.lseek(fd, 0, 0)
print(os.read(fd, 4096).decode().strip())
try:
    os.close(fd)
    print("close ok")
except OSError as e:
    print("close:", e.strerror)
PY
)
# a service's cancellation also shows what it kept (docs/remote.md)
is_remote && out=$(sed 's/; the service.s version was kept: {\\"username\\":\\"hedy\\".*}"}$/"}/' <<<"$out")
expect_lines "/_tx read back on the same descriptor" "$out" 'write: Operation canceled
{"status": "cancelled", "op": 0, "reason": "update users/hedy: condition failed: visits = 5"}
close: Operation canceled'
expect_eq "visits unchanged" "$(jq -c .visits "$U/hedy.json")" 1
out=$(python3 - "$MNT/_tx" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b'{"ops": [{"table": "users", "update": {"username": "hedy"}, "add": {"visits": 1}}]}')
for ws in (b'\n', b'\n', b'  \n'):
    os.write(fd, ws)  # whitespace after a transaction that ran at write()
try:
    os.write(fd, b'{}')
except OSError as e:
    print("more:", e.strerror)
os.close(fd)
print("close ok")
PY
)
expect_lines "/_tx: whitespace after the document, then more" "$out" 'more: Device or resource busy
close ok'
expect_eq "applied once" "$(jq -c .visits "$U/hedy.json")" 2

section "external writers: tee, python3 in small and out-of-order writes"
errors_mark
if echo '{"a": {"$SS": []}}' | tee "$U/hedy.json" >/dev/null 2>"$T/err"; then
	fail "tee: a refused document exited 0"
fi
grep -q "Invalid argument" "$T/err" || fail "tee: no EINVAL on stderr: $(cat "$T/err")"
expect_eq "tee: one /_errors line" "$(tail -n +$((ERRORS_AT + 1)) "$MNT/_errors" | wc -l)" 1
echo '{"level": 4}' | tee "$U/tee.json" >/dev/null || fail "tee of a valid item failed"
expect_eq "tee stored" "$(jq -c .level "$U/tee.json")" 4
out=$(python3 - "$U" <<'PY'
import os, sys
d = sys.argv[1]
doc = b'{"level": 5, "note": "written one byte at a time"}\n'
fd = os.open(d + "/bytes.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
for i in range(len(doc)):
    os.write(fd, doc[i:i + 1])
os.close(fd)
# out of order: the end first, then the start (dd seek=, mmap-like)
fd = os.open(d + "/seek.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.pwrite(fd, doc[10:], 10)
os.pwrite(fd, doc[:10], 0)
os.close(fd)
# out of order and invalid: refused at close
fd = os.open(d + "/seekbad.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.pwrite(fd, b'1,}\n', 9)
os.pwrite(fd, b'{"level":', 0)
try:
    os.close(fd)
    print("seekbad: close ok")
except OSError as e:
    print("seekbad: close:", e.strerror)
# a refused write, then close: the same errno, no second line
fd = os.open(d + "/hedy.json", os.O_WRONLY | os.O_TRUNC)
try:
    os.write(fd, b'{"level": 1,,}')
except OSError as e:
    print("write:", e.strerror)
try:
    os.close(fd)
except OSError as e:
    print("close:", e.strerror)
PY
)
expect_lines "python3" "$out" 'seekbad: close: Invalid argument
write: Invalid argument
close: Invalid argument'
expect_eq "one byte at a time" "$(jq -c .level "$U/bytes.json")" 5
expect_eq "out of order" "$(jq -c .level "$U/seek.json")" 5
expect_eq "hedy still unchanged" "$(jq -c .level "$U/hedy.json")" 1
printf '{"level": 6}\n' | dd of="$U/dd.json" bs=3 2>/dev/null || fail "dd bs=3"
expect_eq "dd bs=3" "$(jq -c .level "$U/dd.json")" 6

section "jq . x > x, sed -i, rsync"
jq '.level = 7' "$U/grace.json" >"$U/grace.json" || fail "jq . x > x"
expect_eq "jq . x > x" "$(jq -c .level "$U/grace.json")" 7
errors_mark
if jq '.tags = {"$SS": []}' "$U/grace.json" >"$U/grace.json"; then
	fail "jq > x of a refused document exited 0"
fi
expect_eq "jq refused: grace unchanged" "$(jq -c .level "$U/grace.json")" 7
expect_eq "jq refused: one /_errors line" "$(tail -n +$((ERRORS_AT + 1)) "$MNT/_errors" | wc -l)" 1
sed -i 's/"level": 7/"level": 8/' "$U/grace.json" || fail "sed -i"
expect_eq "sed -i" "$(jq -c .level "$U/grace.json")" 8
mkdir -p "$T/src"
printf '{"level": 9}\n' >"$T/src/rsynced.json"
rsync "$T/src/rsynced.json" "$U/" || fail "rsync"
expect_eq "rsync" "$(jq -c .level "$U/rsynced.json")" 9

section "item names are strict: aliases reach the canonical item"
N=$MNT/nums
sh_write "1.0.json" "" "$N/1.0.json" '{"v": 1}\n'
expect_eq "1.0.json is item 1" "$(jq -c . "$N/1.json")" '{"n":1,"v":1}'
for a in 001 1e0 +1 1.000 0.1e1; do
	expect_eq "$a.json reads item 1" "$(jq -c .n "$N/$a.json")" 1
done
sh_write "-0.json" "" "$N/-0.json" '{"v": 0}\n'
expect_eq "listing shows canonical names only" "$(ls "$N" | grep -v '^_' | tr '\n' ' ')" "0.json 1.json "
echo '{"v": 2}' >"$T/two.json"
mv "$T/two.json" "$N/2.00.json" || fail "mv onto 2.00.json"
expect_eq "mv onto an alias" "$(jq -c . "$N/2.json")" '{"n":2,"v":2}'
if lacks tx "mv of an item from an alias"; then
	# the state it leaves, made without a rename
	echo '{"v": 1}' >"$N/3.json" && rm "$N/1e0.json" || fail "3.json without a rename"
else
	mv "$N/1e0.json" "$N/3.json" || fail "mv from an alias"
fi
expect_eq "mv from an alias" "$(ls "$N" | grep -v '^_' | tr '\n' ' ')" "0.json 2.json 3.json "
rm "$N/+2.json" || fail "rm +2.json"
expect_fail "rm through an alias deletes the item" "No such file" cat "$N/2.json"
expect_fail "O_EXCL through an alias sees the item" "existing file" \
	bash -c 'set -o noclobber; echo "{}" > "$1"' _ "$N/3.0.json"
mkdir "$MNT/scores/ada" || fail "mkdir partition"
sh_write "2.50.json as a sort key" "" "$MNT/scores/ada/2.50.json" '{"x": 1}\n'
expect_eq "... is 2.5.json" "$(ls "$MNT/scores/ada")" "2.5.json"
sh_write "padded base64 for a B key" "" "$MNT/bins/aGk=.json" '{}\n'
expect_eq "... is aGk.json" "$(ls "$MNT/bins" | grep -v '^_')" "aGk.json"

section "names that cannot be keys are refused, naming the key"
for bad in abc.json a%zz.json %.json x%00y%.json Infinity.json; do
	errors_mark
	if bash -c 'echo "{}" > "$1"' _ "$N/$bad" 2>"$T/err"; then
		fail "$bad: created"
	fi
	grep -q "Invalid argument" "$T/err" || fail "$bad: not EINVAL: $(cat "$T/err")"
	expect_error_line "$bad" "$bad"
	grep -q "key attribute n is of type N" <(tail -n +$((ERRORS_AT + 1)) "$MNT/_errors") ||
		fail "$bad: the /_errors line does not name the key: $(tail -1 "$MNT/_errors")"
done
expect_fail "touch abc.json" "Invalid argument" touch "$N/abc.json"
expect_fail "abc.json does not exist" "No such file" stat "$N/abc.json"
mkdir "$U/p" || fail "mkdir of a scratch directory"
errors_mark
expect_fail "a sort-key name in a table without sort key" "Invalid argument" \
	bash -c 'echo "{}" > "$1"' _ "$U/p/x.json"
grep -q "no sort key.*username: S" <(tail -n +$((ERRORS_AT + 1)) "$MNT/_errors") ||
	fail "p/x.json: the /_errors line does not explain: $(tail -1 "$MNT/_errors")"
rmdir "$U/p"
expect_fail "x.json at the top of a table with a sort key (N partition key)" "Invalid argument" \
	bash -c 'echo "{}" > "$1"' _ "$MNT/scores/x.json"
expect_fail "mkdir of a partition name with a bad escape" "Invalid argument" mkdir "$MNT/scores/a%zz"
expect_fail "mkdir xyz%00junk" "Invalid argument" mkdir "$MNT/xyz%00junk"
expect_fail "... no table xyz" "No such file" ls "$MNT/xyz"
expect_fail "_query with %00" "Invalid argument" ls "$MNT/users/_query?filter=a%00b"
expect_fail "_index name with a bad escape" "Invalid argument" ls "$MNT/users/_index/a%zz"
for s in .x.json x.json~ '#x.json#' 4913 sedAb12Cd notes.txt; do
	echo "scratch" >"$U/$s" || fail "scratch $s"
	expect_eq "$s is a scratch file" "$(cat "$U/$s")" scratch
done
rm -f "$U/.x.json" "$U/x.json~" "$U/#x.json#" "$U/4913" "$U/sedAb12Cd"

section "scratch files are never lost without a word"
expect_eq "_stats.json counts them" "$(jq -c '[.scratch_files, .scratch]' "$U/_stats.json")" '[1,["notes.txt"]]'
unmount
grep -q '/users: 1 scratch file not stored, discarded at unmount: notes.txt' "$T/dynfs.log" ||
	fail "no unmount report on stderr: $(tail -5 "$T/dynfs.log")"

section "remount: accepted saves persisted, refused ones changed nothing"
mount_store
expect_eq "hedy as it was" "$(jq -c 'del(.visits)' "$U/hedy.json")" "$HEDY"
expect_eq "hedy's visits: two transactions" "$(jq -c .visits "$U/hedy.json")" 2
expect_eq "grace: the last accepted save" "$(jq -c .level "$U/grace.json")" 8
expect_eq "items" "$(ls "$U" | grep -v '^_' | tr '\n' ' ')" \
	"bytes.json dd.json grace.json hedy.json rsynced.json seek.json tee.json "
expect_eq "nums" "$(ls "$N" | grep -v '^_' | tr '\n' ' ')" "0.json 3.json "
expect_eq "the scratch file is gone" "$(ls "$U/notes.txt" 2>&1 | grep -c 'No such file')" 1

done_test
