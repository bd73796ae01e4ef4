# t_errors.sh - rejected writes and errno mapping (SPEC §5 "Rejected
# content", §8).
#
# Every kind of invalid content fails close() (and fsync()) with EINVAL,
# or EFBIG for size, leaves the stored item exactly as it was, and adds a
# line "<ISO time> <path>: <reason>" to /_errors and to the log.  Then the
# other errnos: bad table names, reserved names, too-long names, schema
# changes, /_errors itself, and what the filesystem refuses.

export LC_ALL=C

# put_err FILE TEXT [fsync]: open (O_TRUNC), write TEXT (or, for @PATH,
# the content of PATH), fsync if asked, close; prints "ok" or the strerror
# of the call that failed.
put_err() {
	python3 - "$@" <<'EOF'
import os, sys
text = sys.argv[2].encode("utf-8", "surrogateescape")
if text.startswith(b"@/"):
    text = open(text[1:], "rb").read()
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, text)
    if len(sys.argv) > 3:
        os.fsync(fd)
    os.close(fd)
    print("ok")
except OSError as e:
    print(os.strerror(e.errno))
EOF
}

STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# rejected WHAT FILE TEXT ERRNO-TEXT REASON-ERE: the write fails with
# ERRNO-TEXT, the item is unchanged, and exactly one new /_errors line
# names the file and matches REASON-ERE; the log has it too.
rejected() {
	local what=$1 f=$2 text=$3 want=$4 reason=$5 before after got line
	before=$(cat "$f" 2>&1)
	errors_mark
	got=$(put_err "$f" "$text")
	expect_eq "$what: errno" "$got" "$want"
	after=$(cat "$f" 2>&1)
	expect_eq "$what: item unchanged" "$after" "$before"
	line=$(new_errors)
	expect_eq "$what: one new /_errors line" "$(printf '%s\n' "$line" | grep -c .)" 1
	if ! printf '%s\n' "$line" | grep -Eq "^$STAMP ${f#"$MNT"}: .*$reason"; then
		fail "$what: /_errors line [$line] does not match [$reason]"
	fi
	grep -qF -- "${f#"$MNT"}: " "$T/dynfs.log" || fail "$what: not in the log"
}

mount_fresh
mkdir "$MNT/users" "$MNT/quiz" "$MNT/nums"
printf '{"partition_key": {"name": "id#level", "type": "S"}, "sort_key": {"name": "week", "type": "S"}}' \
	>"$MNT/quiz/_schema.json"
printf '{"partition_key": {"name": "n", "type": "N"}}' >"$MNT/nums/_schema.json"
mkdir "$MNT/quiz/felienne#3"
U=$MNT/users/hedy.json
Q=$MNT/quiz/felienne#3/2022-09.json
printf '{"email": "hedy@hedy.org", "level": 3}\n' >"$U"
printf '{"score": 95}\n' >"$Q"
echo '{}' >"$MNT/nums/7.json"

section "invalid content: EINVAL, item unchanged, a line in /_errors"
rejected "bad JSON" "$U" '{"email": }' "Invalid argument" '\(line 1, column [0-9]+\)'
rejected "bad JSON, line 3" "$U" $'{\n  "a": 1,\n  "b" 2\n}' "Invalid argument" 'line 3'
rejected "not an object" "$U" '[1, 2]' "Invalid argument" '.'
rejected "trailing garbage" "$U" '{"a": 1} x' "Invalid argument" '.'
rejected "duplicate attribute" "$U" '{"a": 1, "a": 2}' "Invalid argument" 'a'
rejected "empty set" "$U" '{"tags": {"$SS": []}}' "Invalid argument" 'tags'
rejected "duplicate set element" "$U" '{"tags": {"$NS": [1, 1.0]}}' "Invalid argument" 'tags'
rejected "bad number" "$U" '{"n": 1e999}' "Invalid argument" 'n'
rejected "bad \$N" "$U" '{"n": {"$N": "abc"}}' "Invalid argument" 'n'
rejected "bad base64" "$U" '{"b": {"$B": "!!"}}' "Invalid argument" 'b'
deep=$(printf '[%.0s' $(seq 40))$(printf ']%.0s' $(seq 40))
rejected "nesting too deep" "$U" "{\"d\": $deep}" "Invalid argument" '.'
rejected "not UTF-8" "$U" $'{"s": "\xff"}' "Invalid argument" '.'
rejected "key mismatch (no sort key)" "$U" '{"id": "ada"}' "Invalid argument" \
	'key attribute id is "ada" in the file but "hedy" in the path'
rejected "key mismatch (sort key)" "$Q" '{"week": "2022-10", "score": 1}' "Invalid argument" \
	'key attribute week is "2022-10" in the file but "2022-09" in the path'
rejected "key mismatch (partition key)" "$Q" '{"id#level": "hedy#1"}' "Invalid argument" \
	'key attribute id#level is "hedy#1" in the file but "felienne#3" in the path'
rejected "key of the wrong type" "$MNT/nums/7.json" '{"n": "7"}' "Invalid argument" \
	'key attribute n is "7" in the file but 7 in the path'
printf '{"big": "%s"}' "$(printf 'x%.0s' $(seq 410000))" >"$T/big.json"
rejected "item over 400 KB" "$U" "@$T/big.json" "File too large" '.'
expect_eq "hedy after all that" "$(compact "$U")" '{"id":"hedy","email":"hedy@hedy.org","level":3}'

section "fsync reports the rejection too"
errors_mark
expect_eq "fsync of bad JSON" "$(put_err "$U" '{"a": ' fsync)" "Invalid argument"
expect_eq "one line for fsync" "$(new_errors | grep -c hedy.json)" 1
expect_eq "a good write after a bad one" "$(put_err "$U" '{"level": 4}')" "ok"
expect_eq "good write landed" "$(compact "$U")" '{"id":"hedy","level":4}'

section "tools see the errno"
expect_fail "cp of invalid content" "Invalid argument" cp /etc/hostname "$U"
expect_fail "sort > item" "Invalid argument" bash -c 'sort "$1" >"$1"' _ "$U"
expect_fail "dd of an item over 400 KB" "File too large" dd if="$T/big.json" of="$U" status=none
expect_fail "cp of an item over 400 KB" "File too large" cp "$T/big.json" "$U"
expect_eq "item after tools" "$(compact "$U")" '{"id":"hedy","level":4}'

section "empty writes"
errors_mark
expect_eq "empty write (O_TRUNC, nothing, close)" "$(put_err "$U" '')" "ok"
sleep 0.2
expect_eq "item kept" "$(compact "$U")" '{"id":"hedy","level":4}'
new_errors | grep -Eq "^$STAMP /users/hedy.json: empty file: .*use rm" ||
	fail "empty write: /_errors says [$(new_errors)]"
expect_fail "truncate -s 0 of an item" "Invalid argument" truncate -s 0 "$U"
expect_eq "item kept after truncate" "$(compact "$U")" '{"id":"hedy","level":4}'

section "table names"
errors_mark
expect_fail "too short" "Invalid argument" mkdir "$MNT/ab"
expect_fail "bad character" "Invalid argument" mkdir "$MNT/bad name"
expect_fail "reserved _ name" "Invalid argument" mkdir "$MNT/_tables"
expect_eq "three lines" "$(new_errors | grep -c 'not a table name\|dynfs.s own')" 3
new_errors | grep -q '^.* /ab: not a table name' || fail "no line for /ab: $(new_errors)"
expect_ok "a table named _xyz, written %5Fxyz" mkdir "$MNT/%5Fxyz"
expect_eq "root listing" "$(lines ls "$MNT")" "%5Fxyz _errors _tx nums quiz users "
expect_eq "its name" "$(ls "$MNT/%5Fxyz" | tr '\n' ' ')" "_batch _index _schema.json _stats.json "
expect_fail "lookup of a reserved root name" "No such file" stat "$MNT/_txn"

section "names in tables"
errors_mark
expect_fail "reserved _ name in a table" "Invalid argument" touch "$MNT/users/_stat.json"
expect_fail "reserved _ name in a partition" "Invalid argument" touch "$MNT/quiz/felienne#3/_x.json"
expect_fail "lookup of an unknown _ name" "No such file" stat "$MNT/users/_batches"
expect_eq "reserved names logged" "$(new_errors | grep -c "dynfs's own")" 2
errors_mark
expect_fail "an item at the top of a table with a sort key" "Invalid argument" \
	sh -c 'echo "{}" >"$1"' _ "$MNT/quiz/2022-09.json"
new_errors | grep -q '/quiz/2022-09.json: this table has a sort key' ||
	fail "no /_errors line for quiz/2022-09.json: $(new_errors)"
expect_ok "... but a partition may be named so" mkdir "$MNT/quiz/odd.json"
expect_ok "... and removed" rmdir "$MNT/quiz/odd.json"
expect_ok "other plain files there are scratch files (vim's 4913)" touch "$MNT/quiz/4913"
rm -f "$MNT/quiz/4913"
expect_fail "an item name as a directory" "Invalid argument" mkdir "$MNT/users/dir.json"
expect_fail "an item name as a symlink" "Invalid argument" ln -s x "$MNT/users/link.json"
expect_fail "hard link of an item" "Operation not permitted" ln "$U" "$MNT/users/hedy2.json"
long=$(printf 'a%.0s' $(seq 256))
expect_fail "name of 256 bytes" "File name too long" touch "$MNT/users/$long"
expect_fail "name of 260 bytes with .json" "File name too long" cat "$MNT/users/$long.json"
expect_fail "mkdir of a long name" "File name too long" mkdir "$MNT/quiz/$long"
expect_fail "no such item" "No such file" cat "$MNT/users/nobody.json"
expect_fail "no such partition" "No such file" ls "$MNT/quiz/nobody"
expect_fail "mkdir of an existing partition" "File exists" mkdir "$MNT/quiz/felienne#3"
expect_fail "rmdir of a partition with items" "Directory not empty" rmdir "$MNT/quiz/felienne#3"
expect_fail "rmdir of a table with items" "Directory not empty" rmdir "$MNT/users"
expect_fail "rm of a directory" "Is a directory" rm "$MNT/quiz/felienne#3"
expect_ok "rm _schema.json: nothing happens, quietly" rm "$MNT/users/_schema.json"
expect_eq "_schema.json still there" "$(jq -c .partition_key "$MNT/users/_schema.json")" \
	'{"name":"id","type":"S"}'

section "_schema.json"
S=$MNT/users/_schema.json
expect_eq "writing the same schema back" \
	"$(put_err "$S" '{"partition_key": {"name": "id", "type": "S"}, "indexes": []}')" "ok"
errors_mark
expect_eq "key schema change of a non-empty table" \
	"$(put_err "$S" '{"partition_key": {"name": "username", "type": "S"}}')" "Device or resource busy"
new_errors | grep -Eq "^$STAMP /users/_schema.json: .*only while the table is empty" ||
	fail "EBUSY: /_errors says [$(new_errors)]"
for bad in '{"partition_key": {"name": "id", "type": "X"}}' \
	'{"partition_key": {"name": "", "type": "S"}}' \
	'{"sort_key": {"name": "w", "type": "S"}}' \
	'{"partition_key": {"name": "id", "type": "S"}, "sortkey": {"name": "w", "type": "S"}}' \
	'{"partition_key": {"name": "id", "type": "S"}, "sort_key": {"name": "id", "type": "S"}}' \
	'{"partition_key": '; do
	errors_mark
	expect_eq "bad schema [$bad]" "$(put_err "$MNT/nums/_schema.json" "$bad")" "Invalid argument"
	new_errors | grep -q '/nums/_schema.json: ' || fail "bad schema [$bad]: no /_errors line"
done
errors_mark
: >"$MNT/nums/_schema.json"
sleep 0.2
new_errors | grep -q '/nums/_schema.json: empty file' || fail "empty schema: no /_errors line"
expect_eq "nums schema unchanged" "$(jq -c .partition_key "$MNT/nums/_schema.json")" '{"name":"n","type":"N"}'
mkdir "$MNT/empty"
expect_eq "key schema change of an empty table" \
	"$(put_err "$MNT/empty/_schema.json" '{"partition_key": {"name": "k", "type": "B"}, "sort_key": null}')" "ok"
expect_eq "changed" "$(jq -c .partition_key "$MNT/empty/_schema.json")" '{"name":"k","type":"B"}'

section "/_errors keeps the last 1000 lines"
python3 - "$MNT/users/x.json" <<'EOF'
import os, sys
for i in range(1010):
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, b'{"i": %d,}' % i)  # refused here (EINVAL)...
    except OSError:
        pass
    try:
        os.close(fd)  # ...and at close, without a second line
    except OSError:
        pass
EOF
expect_eq "lines kept" "$(wc -l <"$MNT/_errors")" 1000
expect_eq "size equals content" "$(stat -c %s "$MNT/_errors")" "$(cat "$MNT/_errors" | wc -c)"
tail -1 "$MNT/_errors" | grep -Eq "^$STAMP /users/x.json: " || fail "last line: $(tail -1 "$MNT/_errors")"
expect_fail "x.json does not exist" "No such file" cat "$MNT/users/x.json"
expect_fail "/_errors is read-only" "Permission denied" sh -c 'echo x >"$1"' _ "$MNT/_errors"
expect_fail "rm /_errors" "Operation not permitted" rm -f "$MNT/_errors"

done_test
