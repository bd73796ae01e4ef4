# t_index.sh - index views (SPEC §4): /<table>/_index/<index>/<ipk>/...
#
# On the design notes' tables: users keyed by username with email-index
# (email), quiz-stats keyed by id#level + week with id-week-index (id,
# week):
#  - `cat _index/email-index/hedy@hedy.org/*` reads the items;
#  - sparse items (no email) are in no index partition; an item whose
#    index key is a BOOL is rejected (EINVAL, /_errors names the index);
#  - order: index partitions by index partition key, entries by index
#    sort key, ties (equal index keys) by base key; names are the base
#    items' full keys ("felienne#3~2022-09.json", '~' the separator);
#  - entries are symlinks whose relative targets resolve to the items;
#    writing through one changes the item, and the index follows;
#  - nothing can be created, removed or renamed inside _index
#    (EPERM/EACCES); rmdir of an empty index directory is a quiet no-op;
#  - listings are fresh after every change (nothing stale is cached);
#  - `_query?as=jsonl` in an index partition returns the projection
#    (ALL, KEYS_ONLY, INCLUDE).
need add_index "_schema.json adds indexes here"
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

mount_fresh
make_table users '{"partition_key":{"name":"username","type":"S"},"indexes":[{"name":"email-index","partition_key":{"name":"email","type":"S"}}]}'
make_table quiz-stats '{"partition_key":{"name":"id#level","type":"S"},"sort_key":{"name":"week","type":"S"},"indexes":[{"name":"id-week-index","partition_key":{"name":"id","type":"S"},"sort_key":{"name":"week","type":"S"}}]}'
U=$MNT/users
Q=$MNT/quiz-stats
UI=$U/_index/email-index
QI=$Q/_index/id-week-index
RO='Operation not permitted\|Permission denied'

# put_err FILE TEXT: write TEXT to FILE in one open, write, close (a shell
# would not report the close, where the commit fails); "ok" or the error.
put_err() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, (sys.argv[2] + "\n").encode())
    os.close(fd)
    print("ok")
except OSError as e:
    print(os.strerror(e.errno))
EOF
}

put "$U/hedy.json" '{"email": "hedy@hedy.org", "created": 1681239902406}'
put "$U/felienne.json" '{"email": "felienne@felienne.com", "created": 1637851898173}'
put "$U/student123.json" '{"email": "st123@school.com", "created": 1700126054884}'
put "$U/hedy-alt.json" '{"email": "hedy@hedy.org", "created": 1700000000000}'
put "$U/anonymous.json" '{"created": 1600000000000}'
for p in "hedy#1" "felienne#3" "felienne#1" "student123#9"; do
	mkdir "$Q/$p" || die "mkdir $p"
done
put "$Q/hedy#1/2023-31.json" '{"id": "hedy", "level": 1, "finished": 1, "scores": {"$NS": [60]}}'
put "$Q/felienne#3/2022-08.json" '{"id": "felienne", "level": 3, "finished": 0}'
put "$Q/felienne#3/2022-09.json" '{"id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [95]}}'
put "$Q/felienne#3/2022-10.json" '{"id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [100]}}'
put "$Q/felienne#1/2022-09.json" '{"id": "felienne", "level": 1, "finished": 1, "scores": {"$NS": [70]}}'
put "$Q/student123#9/2023-23.json" '{"id": "student123", "level": 9, "finished": 1, "scores": {"$NS": [40, 80]}}'
put "$Q/student123#9/2023-24.json" '{"level": 9, "finished": 0}'

section "_index/ lists the indexes"
expect_eq "users" "$(ls "$U/_index")" "email-index"
expect_eq "quiz-stats" "$(ls "$Q/_index")" "id-week-index"
expect_fail "no such index" "No such file" ls "$U/_index/nope-index"
expect_eq "_index is a directory" "$(stat -c %F "$U/_index")" "directory"

section "cat _index/email-index/hedy@hedy.org/*"
expect_eq "both of hedy's accounts" \
	"$(cat "$UI/hedy@hedy.org/"* | jq -c '[.username, .email]' | tr '\n' ' ')" \
	'["hedy-alt","hedy@hedy.org"] ["hedy","hedy@hedy.org"] '
expect_eq "ls -U: base key order" "$(ls -U "$UI/hedy@hedy.org" | tr '\n' ' ')" "hedy.json hedy-alt.json "
expect_eq "index partitions, in key order" "$(ls -U "$UI" | tr '\n' ' ')" \
	"felienne@felienne.com hedy@hedy.org st123@school.com "
expect_eq "entries named like the items" "$(ls "$UI/hedy@hedy.org" | tr '\n' ' ')" \
	"hedy-alt.json hedy.json "

section "sparse: an item without the index key is in no partition"
expect_eq "anonymous nowhere" "$(find "$UI" -name 'anonymous.json' | wc -l)" 0
expect_eq "entries in email-index" "$(find "$UI" -type l | wc -l)" 4
if is_remote; then
	# docs/remote.md: the service's IndexItemCount, an estimate
	expect_eq "stats (the service's estimate)" "$(jq -c '.indexes | keys' "$U/_stats.json")" '["email-index"]'
else
	expect_eq "stats" "$(jq -c .indexes "$U/_stats.json")" '{"email-index":4}'
fi
expect_eq "student123#9/2023-24 (no id) is not in id-week-index" \
	"$(ls -U "$QI/student123" | tr '\n' ' ')" "student123#9~2023-23.json "

section "an index key of a non-key type is rejected, naming the index"
errors_mark
expect_eq "BOOL email" "$(put_err "$U/boolean.json" '{"email": true}')" "Invalid argument"
expect_error_line "BOOL email" boolean.json
tail -n 1 "$MNT/_errors" | grep -q 'email-index' || fail "the /_errors line does not name email-index: $(tail -n 1 "$MNT/_errors")"
expect_fail "no such item" "No such file" cat "$U/boolean.json"
errors_mark
expect_eq "a list as email, through the index" \
	"$(put_err "$UI/hedy@hedy.org/hedy.json" "$(jq -c '.email = [1]' "$U/hedy.json")")" "Invalid argument"
expect_error_line "list email" hedy.json
expect_eq "hedy unchanged" "$(jq -r .email "$U/hedy.json")" "hedy@hedy.org"

section "order: by index sort key, ties by base key; full-key names"
expect_eq "felienne's weeks, both levels" "$(ls -U "$QI/felienne" | tr '\n' ' ')" \
	"felienne#3~2022-08.json felienne#1~2022-09.json felienne#3~2022-09.json felienne#3~2022-10.json "
expect_eq "ls sorts by name" "$(ls "$QI/felienne" | head -1)" "felienne#1~2022-09.json"
expect_eq "index partitions" "$(ls -U "$QI" | tr '\n' ' ')" "felienne hedy student123 "

section "symlinks to the base items"
L=$QI/felienne/felienne#3~2022-09.json
expect_eq "a symlink" "$(stat -c %F "$L")" "symbolic link"
expect_eq "relative target" "$(readlink "$L")" "../../../felienne#3/2022-09.json"
expect_eq "resolves to the item" "$(readlink -f "$L")" "$(readlink -f "$Q/felienne#3/2022-09.json")"
expect_eq "same file" "$(stat -L -c %i "$L")" "$(stat -c %i "$Q/felienne#3/2022-09.json")"
expect_eq "reads as the item" "$(cat "$L")" "$(cat "$Q/felienne#3/2022-09.json")"
expect_eq "jq through the index" "$(jq -c .scores "$L")" '{"$NS":[95]}'
expect_eq "users entry target" "$(readlink "$UI/hedy@hedy.org/hedy.json")" "../../../hedy.json"
expect_eq "find -L sees files" "$(find -L "$QI/felienne" -type f | wc -l)" 4
expect_eq "a copy keeps working links" \
	"$(cp -r "$Q" "$T/copy" && jq -c .week "$T/copy/_index/id-week-index/felienne/felienne#3~2022-10.json")" \
	'"2022-10"'

section "writing through a symlink edits the item; the index follows"
jq '.finished = 0 | .note = "edited through the index"' "$L" >"$T/edit.json" || fail "jq"
cat "$T/edit.json" >"$L" || fail "write through the symlink"
expect_eq "the base item changed" "$(jq -c '[.finished, .note]' "$Q/felienne#3/2022-09.json")" \
	'[0,"edited through the index"]'
expect_eq "still a symlink" "$(stat -c %F "$L")" "symbolic link"
HEDY=$UI/hedy@hedy.org/hedy.json
jq '.email = "hedy@new.org"' "$HEDY" >"$T/hedy.json" || fail "jq hedy"
cat "$T/hedy.json" >"$HEDY" || fail "write hedy through the index"
expect_eq "hedy moved in the index" "$(ls -U "$UI" | tr '\n' ' ')" \
	"felienne@felienne.com hedy@hedy.org hedy@new.org st123@school.com "
expect_eq "old partition" "$(ls -U "$UI/hedy@hedy.org" | tr '\n' ' ')" "hedy-alt.json "
expect_eq "new partition" "$(cat "$UI/hedy@new.org/hedy.json" | jq -r .username)" "hedy"
expect_fail "the old entry is gone" "No such file" cat "$HEDY"
rm "$U/hedy-alt.json" || fail "rm hedy-alt"
expect_fail "an emptied index partition is gone" "No such file" ls "$UI/hedy@hedy.org"
expect_eq "and not listed" "$(ls -U "$UI" | tr '\n' ' ')" "felienne@felienne.com hedy@new.org st123@school.com "
put "$U/grace.json" '{"email": "grace@navy.mil"}'
expect_eq "a new item shows at once" "$(ls "$UI/grace@navy.mil")" "grace.json"
mv "$U/grace.json" "$U/grace-hopper.json" || fail "rename grace"
expect_eq "a renamed item shows under its new name" "$(ls "$UI/grace@navy.mil")" "grace-hopper.json"
expect_eq "its link follows" "$(jq -r .username "$UI/grace@navy.mil/grace-hopper.json")" "grace-hopper"

section "read-only: nothing is made, removed or renamed inside _index"
expect_fail "touch in an index partition" "$RO" touch "$UI/hedy@new.org/new.json"
expect_fail "write a new file" "$RO" sh -c "echo '{}' > '$UI/hedy@new.org/x.json'"
expect_fail "mkdir in an index" "$RO" mkdir "$UI/new@partition"
expect_fail "mkdir in _index" "$RO" mkdir "$U/_index/new-index"
expect_fail "rm of an entry" "$RO" rm "$UI/hedy@new.org/hedy.json"
expect_fail "ln -s in an index partition" "$RO" ln -s ../../../hedy.json "$UI/hedy@new.org/y.json"
expect_fail "mv of an entry" "$RO" mv "$UI/hedy@new.org/hedy.json" "$UI/hedy@new.org/z.json"
expect_fail "mv into _index" "$RO" mv "$U/felienne.json" "$UI/hedy@new.org/felienne.json"
expect_fail "rm -r of an index partition" "$RO" rm -r "$UI/hedy@new.org"
expect_eq "hedy still there" "$(jq -r .username "$U/hedy.json")" "hedy"
expect_fail "rmdir of a non-empty index" "Directory not empty" rmdir "$UI"
expect_fail "rmdir of _index" "Directory not empty" rmdir "$U/_index"
expect_eq "the index is intact" "$(find "$UI" -type l | wc -l)" 4

section "_query? in an index partition: projections"
expect_eq "ALL" "$(cat "$QI/felienne/_query?eq=2022-10&as=jsonl")" \
	'{"id#level":"felienne#3","week":"2022-10","finished":1,"id":"felienne","level":3,"scores":{"$NS":[100]}}'
expect_eq "ge + desc + count" "$(cat "$QI/felienne/_query?ge=2022-09&order=desc&as=count")" 3
expect_eq "directory, in index order" "$(ls -U "$QI/felienne/_query?ge=2022-09&order=desc" | tr '\n' ' ')" \
	"felienne#3~2022-10.json felienne#3~2022-09.json felienne#1~2022-09.json "
expect_eq "its entries link to the items" \
	"$(readlink "$QI/felienne/_query?ge=2022-09/felienne#1~2022-09.json")" "../../../../felienne#1/2022-09.json"
expect_eq "and read as them" "$(jq -r .week "$QI/felienne/_query?ge=2022-09/felienne#1~2022-09.json")" "2022-09"
printf '%s\n' '{"partition_key":{"name":"id#level","type":"S"},"sort_key":{"name":"week","type":"S"},"indexes":[{"name":"id-week-index","partition_key":{"name":"id","type":"S"},"sort_key":{"name":"week","type":"S"},"projection":"KEYS_ONLY"}]}' \
	>"$Q/_schema.json" || fail "KEYS_ONLY schema"
expect_eq "KEYS_ONLY: table and index keys" "$(cat "$QI/felienne/_query?eq=2022-10&as=jsonl")" \
	'{"id#level":"felienne#3","week":"2022-10","id":"felienne"}'
expect_eq "entries still reach the whole item" "$(jq -c .scores "$QI/felienne/felienne#3~2022-10.json")" \
	'{"$NS":[100]}'
printf '%s\n' '{"partition_key":{"name":"id#level","type":"S"},"sort_key":{"name":"week","type":"S"},"indexes":[{"name":"id-week-index","partition_key":{"name":"id","type":"S"},"sort_key":{"name":"week","type":"S"},"projection":["scores","nothing"]}]}' \
	>"$Q/_schema.json" || fail "INCLUDE schema"
expect_eq "INCLUDE: keys and the listed attributes" \
	"$(cat "$QI/felienne/_query?ge=2022-09&as=json" | jq -c '.[]')" \
	'{"id#level":"felienne#1","week":"2022-09","id":"felienne","scores":{"$NS":[70]}}
{"id#level":"felienne#3","week":"2022-09","id":"felienne","scores":{"$NS":[95]}}
{"id#level":"felienne#3","week":"2022-10","id":"felienne","scores":{"$NS":[100]}}'
expect_eq "users: email-index partition query" "$(cat "$UI/hedy@new.org/_query?as=jsonl" | jq -r .username)" hedy

section "an index without sort key: entries in base key order"
for u in zed amy mia; do
	put "$U/$u.json" '{"email": "same@x.org"}'
done
expect_key_order "ties by username" "$(ls -U "$UI/same@x.org" | tr '\n' ' ')" "amy.json mia.json zed.json "
expect_key_order "desc" "$(ls -U "$UI/same@x.org/_query?order=desc" | tr '\n' ' ')" "zed.json mia.json amy.json "
if lacks key_order "after= in an index partition without sort key: after the name in the service's order"; then
	first=$(ls -U "$UI/same@x.org" | head -1)
	expect_eq "after=" "$(ls -U "$UI/same@x.org/_query?after=$first" | tr '\n' ' ')" \
		"$(ls -U "$UI/same@x.org" | tail -n +2 | tr '\n' ' ')"
else
	expect_eq "after=" "$(ls -U "$UI/same@x.org/_query?after=amy.json" | tr '\n' ' ')" "mia.json zed.json "
fi

section "a large index partition lists completely (streaming readdir)"
for i in $(seq -w 1 1500); do
	printf '{"email": "bulk@x.org"}\n' >"$U/u$i.json" || fail "put u$i"
done
expect_eq "1500 entries" "$(ls -U "$UI/bulk@x.org" | wc -l)" 1500
if lacks key_order "an index partition without sort key: each once, in the service's order"; then
	expect_eq "each once" "$(ls -U "$UI/bulk@x.org" | sort -u | wc -l)" 1500
else
	expect_eq "in order, each once" "$(ls -U "$UI/bulk@x.org" | sort -c && ls -U "$UI/bulk@x.org" | sort -u | wc -l)" 1500
fi

section "shortened entry names open, wherever the cut falls (an N sort key too)"
make_table long '{"partition_key":{"name":"id","type":"S"},"sort_key":{"name":"n","type":"N"},"indexes":[{"name":"g-index","partition_key":{"name":"g","type":"S"}}]}'
L=$MNT/long
# partition keys of 226..240 bytes: the 255-byte cut walks across the
# separator and through the 20 digits of the sort key
for len in $(seq 226 240); do
	pk=$(printf 'p%.0s' $(seq "$len"))
	mkdir "$L/$pk" || fail "mkdir $len"
	put "$L/$pk/12345678901234567890.json" '{"g": "x"}'
done
expect_eq "15 entries listed" "$(ls -U "$L/_index/g-index/x" | wc -l)" 15
expect_eq "shortened ones among them" "$(ls -U "$L/_index/g-index/x" | grep -c '~~')" 11
opened=0
for e in $(ls -U "$L/_index/g-index/x"); do
	if [ "$(jq -r .g "$L/_index/g-index/x/$e" 2>/dev/null)" = x ]; then
		opened=$((opened + 1))
	else
		fail "listed but does not open: $e"
	fi
done
expect_eq "every listed name opens" "$opened" 15
# (after= cannot be tested with these names here: "_query?after=" plus a
# 255-byte name is longer than a file name may be; query_name_key, which
# after= uses, is the lookup above)

section "dropping the index: the views go"
printf '%s\n' '{"partition_key":{"name":"username","type":"S"}}' >"$U/_schema.json" || fail "drop"
expect_eq "_index/ is empty" "$(ls -A "$U/_index")" ""
expect_fail "email-index gone" "No such file" ls "$UI"

unmount
done_test
