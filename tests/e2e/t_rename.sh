# t_rename.sh - rename(2) (SPEC §5 "Rename").
#
#  - item -> item: the key changes (key attributes rewritten from the new
#    path), atomically, within a table and across partitions; the target
#    is replaced; RENAME_NOREPLACE; the inode number follows the file and
#    cat / stat show the new content at once;
#  - scratch -> item: an atomic validated put (mv, sed -i, perl -pi,
#    editors' write-and-rename); invalid content: EINVAL, a line in
#    /_errors, both files unchanged; scratch -> _schema.json;
#  - EXDEV for item -> scratch, across tables, directories, dynfs's own
#    entries (and mv falls back to copying where that makes sense);
#  - scratch -> scratch like tmpfs.

export LC_ALL=C

# ren FROM TO [FLAGS]: renameat2(2); prints "ok" or the strerror.
ren() {
	python3 - "$@" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
flags = int(sys.argv[3]) if len(sys.argv) > 3 else 0
AT_FDCWD = -100
r = libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), flags)
print("ok" if r == 0 else os.strerror(ctypes.get_errno()))
EOF
}
NOREPLACE=1
EXCHANGE=2

mount_fresh
mkdir "$MNT/users" "$MNT/quiz" "$MNT/other"
printf '{"partition_key": {"name": "id#level", "type": "S"}, "sort_key": {"name": "week", "type": "S"}}' \
	>"$MNT/quiz/_schema.json"
U=$MNT/users
Q=$MNT/quiz
mkdir "$Q/felienne#3" "$Q/hedy#1"
printf '{"email": "ada@example.org"}\n' >"$U/ada.json"
printf '{"email": "grace@example.org"}\n' >"$U/grace.json"
printf '{"score": 90, "id#level": "felienne#3"}\n' >"$Q/felienne#3/2022-10.json"
printf '{"score": 70}\n' >"$Q/felienne#3/2022-11.json"

if lacks tx "item -> item renames (two sections)"; then
	# the state those renames leave, made without them
	printf '{"email": "ada@example.org"}\n' >"$U/grace.json"
	printf '{"score": 90}\n' >"$Q/hedy#1/2022-12.json"
	mkdir "$Q/ada#2" && printf '{"score": 70}\n' >"$Q/ada#2/2022-11.json"
	rm -r "$Q/felienne#3" "$U/ada.json" || fail "the state after the renames"
else
	section "item -> item: the key follows the name"
	cat "$U/ada.json" >/dev/null # cache its pages and attributes
	ino=$(stat -c %i "$U/ada.json")
	expect_ok "mv item" mv "$U/ada.json" "$U/ada-lovelace.json"
	expect_fail "old name gone" "No such file" cat "$U/ada.json"
	expect_eq "key rewritten" "$(compact "$U/ada-lovelace.json")" '{"id":"ada-lovelace","email":"ada@example.org"}'
	expect_eq "size at once" "$(stat -c %s "$U/ada-lovelace.json")" "$(wc -c <"$U/ada-lovelace.json")"
	expect_eq "inode number kept" "$(stat -c %i "$U/ada-lovelace.json")" "$ino"
	expect_eq "listing" "$(lines ls "$U")" "_batch _index _schema.json _stats.json ada-lovelace.json grace.json "
	expect_ok "mv within a partition" mv "$Q/felienne#3/2022-10.json" "$Q/felienne#3/2022-12.json"
	expect_eq "sort key rewritten" "$(compact "$Q/felienne#3/2022-12.json")" \
		'{"id#level":"felienne#3","week":"2022-12","score":90}'
	expect_ok "mv to another partition" mv "$Q/felienne#3/2022-12.json" "$Q/hedy#1/2022-12.json"
	expect_eq "partition key rewritten" "$(compact "$Q/hedy#1/2022-12.json")" \
		'{"id#level":"hedy#1","week":"2022-12","score":90}'
	expect_ok "mv into a new partition (mkdir -p)" sh -c 'mkdir -p "$1" && mv "$2" "$1/"' _ \
		"$Q/ada#2" "$Q/felienne#3/2022-11.json"
	expect_eq "moved into the new partition" "$(compact "$Q/ada#2/2022-11.json")" \
		'{"id#level":"ada#2","week":"2022-11","score":70}'
	expect_eq "the emptied partition stays until rmdir" "$(stat -c %F "$Q/felienne#3")" "directory"
	expect_ok "rmdir the emptied partition" rmdir "$Q/felienne#3"

	section "replacing and not replacing"
	expect_eq "RENAME_NOREPLACE onto an item" "$(ren "$U/ada-lovelace.json" "$U/grace.json" $NOREPLACE)" "File exists"
	expect_eq "both unchanged" "$(compact "$U/grace.json")" '{"id":"grace","email":"grace@example.org"}'
	expect_eq "RENAME_NOREPLACE to a new name" "$(ren "$U/ada-lovelace.json" "$U/ada.json" $NOREPLACE)" "ok"
	expect_eq "RENAME_EXCHANGE" "$(ren "$U/ada.json" "$U/grace.json" $EXCHANGE)" "Invalid argument"
	expect_ok "mv onto an existing item" mv "$U/ada.json" "$U/grace.json"
	expect_eq "target replaced" "$(compact "$U/grace.json")" '{"id":"grace","email":"ada@example.org"}'
	expect_eq "source gone" "$(lines ls "$U")" "_batch _index _schema.json _stats.json grace.json "
	expect_eq "rename onto itself" "$(ren "$U/grace.json" "$U/grace.json")" "ok"
fi

section "scratch -> item: a validated put"
printf '{"email": "bob@example.org"}\n' >"$U/.bob.tmp"
ino=$(stat -c %i "$U/.bob.tmp")
expect_ok "mv scratch onto a new item name" mv "$U/.bob.tmp" "$U/bob.json"
expect_eq "new item" "$(compact "$U/bob.json")" '{"id":"bob","email":"bob@example.org"}'
expect_eq "scratch gone" "$(ls -a "$U" | grep -c tmp)" 0
expect_eq "the scratch inode became the item" "$(stat -c %i "$U/bob.json")" "$ino"
expect_eq "canonical size at once" "$(stat -c '%s %a' "$U/bob.json")" "$(wc -c <"$U/bob.json") 644"
printf '{"email": "bob@bob.org", "n": 1}' >"$U/.bob2.tmp"
chmod 600 "$U/.bob2.tmp"
expect_ok "mv scratch onto an existing item" mv "$U/.bob2.tmp" "$U/bob.json"
expect_eq "replaced" "$(compact "$U/bob.json")" '{"id":"bob","email":"bob@bob.org","n":1}'
errors_mark
printf '{"email": \n' >"$U/.bad.tmp"
expect_eq "invalid scratch onto an item" "$(ren "$U/.bad.tmp" "$U/bob.json")" "Invalid argument"
expect_eq "item unchanged" "$(compact "$U/bob.json")" '{"id":"bob","email":"bob@bob.org","n":1}'
expect_eq "scratch still there" "$(cat "$U/.bad.tmp")" '{"email": '
new_errors | grep -q ' /users/bob.json: ' || fail "no /_errors line naming bob.json: $(new_errors)"
errors_mark
printf '{"id": "robert"}\n' >"$U/.bad2.tmp"
expect_eq "key mismatch via rename" "$(ren "$U/.bad2.tmp" "$U/bob.json")" "Invalid argument"
new_errors | grep -q 'key attribute id is "robert" in the file but "bob" in the path' ||
	fail "key mismatch line: $(new_errors)"
: >"$U/.empty.tmp"
expect_eq "empty scratch onto an existing item" "$(ren "$U/.empty.tmp" "$U/bob.json")" "Invalid argument"
expect_eq "empty scratch onto a new name" "$(ren "$U/.empty.tmp" "$U/carl.json")" "ok"
expect_eq "key-only item" "$(compact "$U/carl.json")" '{"id":"carl"}'
printf '{"x": 1}' >"$U/.n.tmp"
expect_eq "RENAME_NOREPLACE scratch onto an item" "$(ren "$U/.n.tmp" "$U/carl.json" $NOREPLACE)" "File exists"
rm -f "$U/.bad.tmp" "$U/.bad2.tmp" "$U/.n.tmp"

section "tools that write a temporary and rename it"
expect_ok "sed -i" sed -i 's/bob@bob.org/bob@example.com/' "$U/bob.json"
expect_eq "sed -i result" "$(compact "$U/bob.json")" '{"id":"bob","email":"bob@example.com","n":1}'
expect_ok "perl -pi" perl -pi -e 's/"n": 1/"n": 2/' "$U/bob.json"
expect_eq "perl -pi result" "$(compact "$U/bob.json")" '{"id":"bob","email":"bob@example.com","n":2}'
mkdir -p "$T/src"
printf '{"score": 1}\n' >"$T/src/2023-01.json"
printf '{"score": 2}\n' >"$T/src/2023-02.json"
expect_ok "rsync -a into a new partition" rsync -a "$T/src/" "$Q/rs#1/"
expect_eq "rsync result" "$(compact "$Q/rs#1/2023-02.json")" '{"id#level":"rs#1","week":"2023-02","score":2}'
expect_eq "no rsync temporaries" "$(ls -a "$Q/rs#1" | grep -c '^\.2023')" 0
printf '{"score": 3}\n' >"$Q/rs#1/.2023-01.json.swx"
expect_ok "editor write-and-rename (backupcopy=no)" mv "$Q/rs#1/.2023-01.json.swx" "$Q/rs#1/2023-01.json"
expect_eq "editor result" "$(compact "$Q/rs#1/2023-01.json")" '{"id#level":"rs#1","week":"2023-01","score":3}'

section "scratch -> _schema.json"
mkdir "$MNT/empty"
printf '{"partition_key": {"name": "k", "type": "N"}, "indexes": []}\n' >"$MNT/empty/.schema.new"
expect_ok "mv onto _schema.json of an empty table" mv "$MNT/empty/.schema.new" "$MNT/empty/_schema.json"
expect_eq "schema changed" "$(jq -c .partition_key "$MNT/empty/_schema.json")" '{"name":"k","type":"N"}'
expect_eq "no scratch left" "$(ls -a "$MNT/empty" | tr '\n' ' ')" ". .. _batch _index _schema.json _stats.json "
printf '{"partition_key": {"name": "other", "type": "S"}}' >"$U/.s.new"
expect_eq "onto _schema.json of a full table" "$(ren "$U/.s.new" "$U/_schema.json")" "Device or resource busy"
expect_eq "schema unchanged" "$(jq -c .partition_key "$U/_schema.json")" '{"name":"id","type":"S"}'
rm -f "$U/.s.new"

section "EXDEV: what a rename cannot do"
expect_eq "item onto a scratch name" "$(ren "$U/bob.json" "$U/bob.json.bak")" "Invalid cross-device link"
expect_eq "item into another table" "$(ren "$U/bob.json" "$MNT/other/bob.json")" "Invalid cross-device link"
expect_eq "item into a partition" "$(ren "$U/bob.json" "$Q/hedy#1/bob.json")" "Invalid cross-device link"
expect_eq "partition directory" "$(ren "$Q/hedy#1" "$Q/hedy#2")" "Invalid cross-device link"
expect_eq "table directory" "$(ren "$MNT/other" "$MNT/another")" "Invalid cross-device link"
expect_eq "_schema.json to a backup name" "$(ren "$U/_schema.json" "$U/_schema.json~")" "Invalid cross-device link"
expect_eq "bob unchanged" "$(compact "$U/bob.json")" '{"id":"bob","email":"bob@example.com","n":2}'
cp "$U/bob.json" "$U/.bob.copy"
expect_fail "mv across tables to another key: the copy's key disagrees" "Invalid argument" \
	mv "$U/bob.json" "$MNT/other/robert.json"
expect_eq "nothing lost" "$(compact "$U/bob.json")" '{"id":"bob","email":"bob@example.com","n":2}'
expect_ok "mv across tables, same key, falls back to copying" mv "$U/bob.json" "$MNT/other/bob.json"
expect_eq "copied" "$(compact "$MNT/other/bob.json")" '{"id":"bob","email":"bob@example.com","n":2}'
expect_fail "and gone from the old table" "No such file" cat "$U/bob.json"
rm -f "$U/.bob.copy"
cp "$U/grace.json" "$T/grace.json"
expect_ok "mv item to a backup name falls back to copying" mv "$U/grace.json" "$U/grace.json.orig"
expect_eq "the backup is a scratch copy" "$(cat "$U/grace.json.orig")" "$(cat "$T/grace.json")"
expect_ok "and back onto the item name" mv "$U/grace.json.orig" "$U/grace.json"
expect_eq "grace restored" "$(compact "$U/grace.json")" '{"id":"grace","email":"ada@example.org"}'

section "scratch -> scratch"
echo one >"$U/.a"
echo two >"$U/.b"
expect_ok "scratch onto scratch" mv "$U/.a" "$U/.b"
expect_eq "replaced" "$(cat "$U/.b")" "one"
mkdir "$U/.d1" "$U/.d2"
touch "$U/.d2/f"
expect_eq "dir onto a non-empty dir" "$(ren "$U/.d1" "$U/.d2")" "Directory not empty"
expect_eq "file onto a dir" "$(ren "$U/.b" "$U/.d1")" "Is a directory"
expect_eq "dir onto a file" "$(ren "$U/.d1" "$U/.b")" "Not a directory"
expect_ok "scratch file into a partition" mv "$U/.b" "$Q/hedy#1/.b"
expect_eq "moved" "$(cat "$Q/hedy#1/.b")" "one"
expect_ok "scratch dir renamed" mv "$U/.d2" "$U/.d3"
expect_eq "its content moved" "$(ls "$U/.d3")" "f"
expect_eq "scratch dir onto an item name" "$(ren "$U/.d1" "$U/dir.json")" "Invalid cross-device link"
rm -rf "$U/.d1" "$U/.d3" "$Q/hedy#1/.b"
expect_eq "users at the end" "$(lines ls -a "$U")" ". .. _batch _index _schema.json _stats.json carl.json grace.json "

section "a rejected save through rename: EINVAL, one /_errors line, mv's wording"
printf '{"a": \n' >"$U/.bad.tmp"
carl=$(cat "$U/carl.json")
before=$(wc -l <"$MNT/_errors")
expect_eq "rename(2) fails with EINVAL" "$(ren "$U/.bad.tmp" "$U/carl.json")" "Invalid argument"
expect_eq "one /_errors line" "$(tail -n +$((before + 1)) "$MNT/_errors" | grep -c '/users/carl.json: ')" 1
expect_eq "and no other" "$(( $(wc -l <"$MNT/_errors") - before ))" 1
# coreutils mv words every EINVAL from rename(2) as "subdirectory of itself"
expect_fail "mv says so in its own words" "to a subdirectory of itself" mv "$U/.bad.tmp" "$U/carl.json"
expect_eq "the item is unchanged" "$(cat "$U/carl.json")" "$carl"
rm -f "$U/.bad.tmp"

done_test
