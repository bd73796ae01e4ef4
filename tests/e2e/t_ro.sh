# t_ro.sh - `-o ro` (SPEC §8 EROFS): everything reads, nothing writes.
#
# A store is filled through a normal mount, then mounted read-only: every
# way of reading works; every way of writing fails with EROFS, scratch
# files included, and leaves the data as it was.

export LC_ALL=C

section "fill a store"
mount_fresh
mkdir "$MNT/users" "$MNT/quiz"
printf '{"partition_key": {"name": "id#level", "type": "S"}, "sort_key": {"name": "week", "type": "S"}}' \
	>"$MNT/quiz/_schema.json"
printf '{"email": "hedy@hedy.org"}\n' >"$MNT/users/hedy.json"
mkdir "$MNT/quiz/felienne#3"
printf '{"score": 95}\n' >"$MNT/quiz/felienne#3/2022-09.json"
echo '{"x":' >"$MNT/users/bad.json" # one line in /_errors
unmount

section "mount -o ro: reading"
mount_store -o ro
U=$MNT/users/hedy.json
Q=$MNT/quiz/felienne#3/2022-09.json
expect_eq "ls" "$(lines ls "$MNT")" "_errors _tx quiz users "
expect_eq "cat" "$(compact "$U")" '{"id":"hedy","email":"hedy@hedy.org"}'
expect_eq "jq" "$(jq -r .score "$Q")" 95
expect_eq "stat size" "$(stat -c %s "$U")" "$(wc -c <"$U")"
expect_eq "items read-only" "$(stat -c %A "$U")" "-r--r--r--"
expect_eq "find" "$(cd "$MNT" && find . -name '*.json' ! -name '_*' | sort | tr '\n' ' ')" \
	"./quiz/felienne#3/2022-09.json ./users/hedy.json "
expect_eq "grep -r" "$(grep -rl hedy.org "$MNT" | sed "s|$MNT||")" "/users/hedy.json"
expect_eq "_schema.json" "$(jq -c .sort_key "$MNT/quiz/_schema.json")" '{"name":"week","type":"S"}'
expect_ok "cp out" cp "$U" "$T/out.json"
expect_ok "df" df "$MNT"
expect_eq "the mount is read-only" "$(stat -f -c %T "$MNT" >/dev/null; findmnt -no OPTIONS "$MNT" | tr ',' '\n' | grep -cx ro)" 1

section "mount -o ro: every write fails with EROFS"
RO="Read-only file system"
expect_fail "write an item" "$RO" sh -c 'echo "{}" >"$1"' _ "$U"
expect_fail "create an item" "$RO" touch "$MNT/users/new.json"
expect_fail "touch an item" "$RO" touch "$U"
expect_fail "truncate an item" "$RO" truncate -s 0 "$U"
expect_fail "rm an item" "$RO" rm "$U"
expect_fail "mv an item" "$RO" mv "$U" "$MNT/users/hedy2.json"
expect_fail "chmod an item" "$RO" chmod 600 "$U"
expect_fail "cp into a table" "$RO" cp "$T/out.json" "$MNT/users/copy.json"
expect_fail "sed -i" "$RO" sed -i 's/hedy/ada/' "$U"
expect_fail "mkdir a table" "$RO" mkdir "$MNT/newtable"
expect_fail "mkdir a partition" "$RO" mkdir "$MNT/quiz/ada#1"
expect_fail "rmdir a partition" "$RO" rmdir "$MNT/quiz/felienne#3"
expect_fail "rm -r a table" "$RO" rm -r "$MNT/users"
expect_fail "write _schema.json" "$RO" sh -c 'echo "{}" >"$1"' _ "$MNT/users/_schema.json"
expect_fail "a scratch file" "$RO" touch "$MNT/users/.hedy.json.swp"
expect_fail "a scratch symlink" "$RO" ln -s x "$MNT/users/.#hedy.json"
expect_fail "a scratch directory" "$RO" mkdir "$MNT/users/.tmp"
expect_fail "setxattr" "$RO" python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.a", b"1")' "$U"
expect_fail "write /_errors" "Read-only file system\|Permission denied" sh -c 'echo x >"$1"' _ "$MNT/_errors"
expect_eq "nothing changed" "$(compact "$U")" '{"id":"hedy","email":"hedy@hedy.org"}'
expect_eq "nothing created" "$(lines ls -a "$MNT/users")" ". .. _batch _index _schema.json _stats.json hedy.json "
unmount

section "read-write again: the data is as it was"
mount_store
expect_eq "item" "$(compact "$U")" '{"id":"hedy","email":"hedy@hedy.org"}'
expect_eq "tables" "$(lines ls "$MNT")" "_errors _tx quiz users "
expect_ok "writable again" sh -c 'echo "{\"n\": 1}" >"$1"' _ "$U"
unmount

done_test
