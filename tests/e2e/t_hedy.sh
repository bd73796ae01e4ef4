# t_hedy.sh - Hedy's dev_database.json and the workflow of docs/hedy.md.
#
#  - A Hedy-format file with every quirk a real one has (a repeated
#    attribute, as in Hedy's seed file; records sharing a key; a table
#    given twice; sets at depth, number sets, a set with a repeated
#    element, an empty set; empty lists; nulls; surrogate-pair escapes;
#    100.0; a 23-digit integer), written by tests/e2e/hedy_file.py, is
#    imported with no flags (Hedy's schemas by default), with one warning
#    per thing not kept as written and the count of items stored; checked
#    through the mount; exported; and what Hedy's loader (json.load with
#    its set hook) reads from the export equals what it reads from the
#    original, after Hedy's first-record-wins rule (and the empty set,
#    which DynamoDB cannot hold, dropped).
#  - A table no schema names needs --guess-keys.
#  - The workflow: import --replace, mount, edit and query, unmount,
#    export -o dev_database.json over the old file, the app reads it; the
#    app deletes a record and drops a table; import --replace deletes the
#    record, --replace=all the table; a failed import changes nothing.
need_local "import/export of a local store"

export LC_ALL=C.UTF-8
H=$(dirname "${BASH_SOURCE[0]}")/hedy_file.py
H=$(cd "$(dirname "$H")" && pwd)/hedy_file.py

section "a Hedy file with every quirk, imported with no flags"
read -r stored warnings < <(python3 "$H" quirks "$T/quirks.json")
run "import quirks" "$DYNFS" import "$STORE" "$T/quirks.json"
expect_eq "warnings" "$(grep -c '^dynfs import: warning: ' "$T/err")" "$warnings"
grep -q "^dynfs import: $stored items imported into $STORE (see the warnings above)\$" "$T/err" ||
	fail "count: $(cat "$T/err")"
for w in 'users\[0\]\.keyword_language: attribute repeated in the same object; the last value is kept' \
	'users\[0\]\.prefs\.theme: attribute repeated' \
	'users\[0\]\.classes: set element "c1" appears more than once' \
	'users\[0\]\.removed: empty set dropped' \
	'quirks\.json:[0-9]+: users\[2\] has the key of users\[0\]: skipped' \
	'programs\[2\] has the key of programs\[0\]: skipped' \
	'table tokens appears more than once: the last one is kept'; do
	grep -Eq "warning: .*$w" "$T/err" || fail "no warning /$w/: $(cat "$T/err")"
done

section "checked through the mount"
mount_fresh
u1=$MNT/users/u1.json
expect_eq "last keyword_language" "$(jq -r .keyword_language "$u1")" nl
expect_eq "nested repeat" "$(jq -c .prefs "$u1")" '{"font":12,"theme":"dark"}'
expect_eq "set" "$(jq -c .classes "$u1")" '{"$SS":["c1","c2"]}'
expect_eq "empty set dropped" "$(jq -c 'has("removed")' "$u1")" false
expect_eq "nulls, empty list" "$(jq -c '[.teacher_request, .third_party, .heard_about]' "$u1")" '[null,null,[]]'
expect_eq "set at depth" "$(jq -c '.nested.lists[2][0].s' "$u1")" '{"$SS":["x"]}'
expect_eq "surrogate pairs" "$(jq -r '.display + "|" + .["näme"]' "$u1")" 'Hédy 😀|🎉 party'
expect_eq "numbers" "$(jq -c '[.ratio, .score, .created]' "$u1")" '[100,0.1,1667487371548]'
expect_eq "23-digit integer, exact" "$(jq -c .big "$u1")" '{"$N":"1.2345678901234567890123e+22"}'
expect_eq "first record of a key" "$(jq -c '[.username, .code]' "$MNT/programs/p1.json")" \
	'["u1","print hello\nprint \"world\""]'
expect_eq "number set" "$(jq -c .correct "$MNT/quizAnswers/u1/0001_abc.json")" '{"$NS":[1,2.5,5,10,100]}'
expect_eq "set deep in a map of lists" \
	"$(jq -c '.sorted_adventures["1"][0].tags' "$MNT/class_customizations/c1.json")" '{"$SS":["a","b"]}'
expect_eq "last of a repeated table" "$(ls "$MNT/tokens" | grep -v "^_")" "t1.json"
expect_eq "Hedy's index" "$(ls "$MNT/classes/_index/teacher-index/u2")" "c1.json"
expect_eq "a table in the file with no records" "$(cat "$MNT/surveys/_query?as=count")" 0
unmount

section "exported, Hedy's loader reads the same values"
run "export" "$DYNFS" export "$STORE" --format hedy -o "$T/export.json"
python3 "$H" compare "$T/quirks.json" "$T/export.json" >"$T/cmp" ||
	fail "Hedy reads something else from the export: $(cat "$T/cmp")"
grep -q '"$B"\|"$M"\|"$SS"\|"$NS"' "$T/export.json" && fail "document-form tags in the export"

section "a table no schema names needs --guess-keys"
printf '{"users": [], "my_new_table": [{"slug": "a", "n": 1}, {"slug": "b"}]}\n' >"$T/new.json"
refuse "unknown table" 'table my_new_table is in no schema.*--guess-keys' \
	"$DYNFS" import "$T/s-new" "$T/new.json"
run "--guess-keys" "$DYNFS" import "$T/s-new" "$T/new.json" --guess-keys
grep -q "my_new_table is in no schema: created with partition key slug (S), guessed" "$T/err" ||
	fail "guess: $(cat "$T/err")"

section "the workflow: import --replace, mount, edit, query, unmount, export, the app"
# The app (stopped) left dev_database.json; the store already holds other data.
cp "$T/quirks.json" "$T/dev_database.json"
run "replace" "$DYNFS" import "$STORE" "$T/dev_database.json" --format hedy --replace
mount_fresh
# browse, edit, query as a developer would
jq '.language = "es" | .classes["$SS"] += ["c3"]' "$MNT/users/u1.json" >"$T/u1.json"
cp "$T/u1.json" "$MNT/users/u1.json" || fail "edit u1: $(tail -n 1 "$MNT/_errors")"
echo '{"username": "u3", "created": 1700000000000, "epoch": 1, "is_teacher": 1}' >"$MNT/users/u3.json" ||
	fail "new user"
expect_eq "query" "$(cat "$MNT/programs/_index/username-index/u2/_query?as=count")" 1
expect_eq "epoch index" "$(ls "$MNT/users/_index/epoch-created-index/1" | tr '\n' ' ')" "u1.json u2.json u3.json "
unmount
run "export over the app's file" "$DYNFS" export "$STORE" --format hedy -o "$T/dev_database.json"
ls "$T" | grep -q 'dev_database.json.tmp' && fail "export left a temporary file"
# the app starts and reads it
expect_eq "app: language" "$(python3 "$H" get "$T/dev_database.json" users u1 language)" "'es'"
expect_eq "app: a set" "$(python3 "$H" get "$T/dev_database.json" users u1 classes)" "{'c1', 'c2', 'c3'}"
expect_eq "app: an int" "$(python3 "$H" get "$T/dev_database.json" users u3 is_teacher)" 1
expect_eq "app: a bool" "$(python3 "$H" get "$T/dev_database.json" users u2 is_teacher)" True

section "the app deletes and drops; --replace and --replace=all follow"
python3 "$H" app "$T/dev_database.json" delete programs p2 drop achievements \
	put users '{"username": "u4", "classes": {"$type": "set", "elements": ["c1"]}}' ||
	fail "the app could not change its file"
run "replace again" "$DYNFS" import "$STORE" "$T/dev_database.json" --replace
run "export" "$DYNFS" export "$STORE" --format hedy -o "$T/after.json"
expect_eq "deleted program gone" "$(jq -c '[.programs[].id]' "$T/after.json")" '["p1"]'
expect_eq "new user there" "$(jq -c '[.users[].username]' "$T/after.json")" '["u1","u2","u3","u4"]'
expect_eq "a dropped table stays without =all" "$(jq -c '.achievements | length' "$T/after.json")" 1
run "replace=all" "$DYNFS" import "$STORE" "$T/dev_database.json" --replace=all
grep -q "table achievements is not in the file: dropped (--replace=all)" "$T/err" ||
	fail "replace=all: $(cat "$T/err")"
run "export" "$DYNFS" export "$STORE" --format hedy -o "$T/after-all.json"
expect_eq "dropped table gone" "$(jq -c 'has("achievements")' "$T/after-all.json")" false
python3 "$H" compare "$T/dev_database.json" "$T/after-all.json" >"$T/cmp" ||
	fail "after --replace=all the store is not the file: $(cat "$T/cmp")"

section "a failed import leaves the store as it was"
sed '$d' "$T/dev_database.json" >"$T/broken.json" # the closing brace gone
refuse "broken file" 'malformed|not a JSON object' "$DYNFS" import "$STORE" "$T/broken.json" --replace=all
grep -q "nothing was imported" "$T/err" || fail "broken: $(cat "$T/err")"
jq '.programs += [{"id": "p9", "level": "not a number key", "date": 1}] |
	.programs[0].public = true' "$T/dev_database.json" >"$T/badtype.json"
refuse "a record Hedy's indexes refuse" 'programs\[0\]\.public: index public-date-index: attribute public must be of type N, not BOOL' \
	"$DYNFS" import "$STORE" "$T/badtype.json" --replace
run "export" "$DYNFS" export "$STORE" --format hedy -o "$T/unchanged.json"
cmp -s "$T/after-all.json" "$T/unchanged.json" || fail "a failed import changed the store"
refuse "--replace=all with --table" "does not go with --table" \
	"$DYNFS" import "$STORE" "$T/dev_database.json" --replace=all --table users

section "export refuses what Hedy's file cannot hold, and leaves the file alone"
mount_store
echo '{"avatar": {"$B": "AAEC"}}' >"$MNT/users/u5.json" || fail "binary user"
unmount
cp "$T/dev_database.json" "$T/keep.json"
refuse "binary" 'table users, item \{"username":"u5"\}: avatar: a binary value' \
	"$DYNFS" export "$STORE" --format hedy -o "$T/dev_database.json"
cmp -s "$T/keep.json" "$T/dev_database.json" || fail "a refused export changed dev_database.json"

done_test
