# t_scripts.sh - the helper scripts on a fresh demo mount.
#
#  - every script: --help (exit 0), no or bad arguments (exit 2 + usage);
#  - mktable: key schemas with S/N/B keys, indexes (ALL, KEYS_ONLY,
#    INCLUDE), a table name with a leading _, refusals (exists, refused
#    schema leaves no table, not a mount);
#  - migrate-public: exactly the boolean rows change (true->1, false->0,
#    nothing else in them), rows without `public` untouched, "Migrated X
#    out of Y records", a second run writes nothing (the journal does not
#    grow), --dry-run writes nothing, a table with a sort key, --attribute;
#  - copy-table: the README's quiz-stats re-keying: counts verified, items
#    mapped, idempotent (no writes on a re-run), an item the application
#    wrote in the new table is not overwritten, a missing one is copied
#    again, refusals write nothing (a missing key attribute, two items
#    onto one key, no DEST, a bad --map);
#  - backup/restore: live (through the mount) and stopped-store backups are
#    identical, exact to the byte for 38-digit numbers and binary; restore
#    into a new store and into a mount; refusals (existing tables without
#    --merge, a store in use, an existing backup dir, not a backup);
#  - SIGUSR1 (snapshot now) and SIGTERM (clean exit) as the man page says.
# The man page and `make install` are t_install.sh's.
need_local "the helper scripts on the local demo mount"

source "$(dirname "${BASH_SOURCE[0]}")/demo_lib.sh"
export LC_ALL=C
S=$REPO/scripts

jsize() { stat -c %s "$STORE/journal"; }

section "every script: --help, bad usage"
for s in demo mktable migrate-public copy-table backup restore gen-demo; do
	run "$s --help" "$S/$s" --help
	grep -q "usage:" "$T/out" || fail "$s --help has no usage line"
	[ "$s" = demo ] && continue
	refuse "$s without arguments" 2 "usage:" "$S/$s"
	[ "$s" = gen-demo ] && continue
	refuse "$s --no-such-option" 2 "usage:" "$S/$s" --no-such-option
done

demo_mount
M=$MNT

section "the man page's read-only EXAMPLES, on the demo"
MANWIDTH=250 man -l "$REPO/docs/dynfs.1" 2>/dev/null | col -bx |
	sed -n '/^EXAMPLES$/,/^SEE ALSO$/p' | sed -n 's/^ *//; /^\(ls\|cat\|jq\) [^>]*mnt\//p' | grep -v '\\$' >"$T/man.examples"
[ "$(wc -l <"$T/man.examples")" -ge 5 ] || fail "few read-only man EXAMPLES: $(cat "$T/man.examples")"
while IFS= read -r line; do
	out=$(cd "$T" && bash -o pipefail -c "$line" 2>&1) || fail "man EXAMPLES: '$line' failed: $out"
	[ -n "$out" ] || fail "man EXAMPLES: '$line' printed nothing"
done <"$T/man.examples"

section "mktable"
run "mktable" "$S/mktable" "$M" scores user score:N \
	--index 'by-day=day,score:N/KEYS_ONLY' --index 'by-class=class/name+level' --index 'by-bin=tag:B'
grep -q "created scores" "$T/out" || fail "mktable output: $(cat "$T/out")"
expect_eq "mktable schema" "$(jq -c . "$M/scores/_schema.json")" \
	'{"partition_key":{"name":"user","type":"S"},"sort_key":{"name":"score","type":"N"},"indexes":[{"name":"by-bin","partition_key":{"name":"tag","type":"B"},"projection":"ALL"},{"name":"by-class","partition_key":{"name":"class","type":"S"},"projection":["name","level"]},{"name":"by-day","partition_key":{"name":"day","type":"S"},"sort_key":{"name":"score","type":"N"},"projection":"KEYS_ONLY"}]}'
mkdir -p "$M/scores/ada"
echo '{"day": "mon", "class": "c1", "name": "Ada", "level": 3, "x": 1}' >"$M/scores/ada/10.json"
expect_eq "mktable: items are indexed" "$(cat "$M/scores/_index/by-day/mon/_query?as=jsonl")" \
	'{"user":"ada","score":10,"day":"mon"}'
expect_eq "mktable: INCLUDE projection" "$(cat "$M/scores/_index/by-class/c1/_query?as=jsonl")" \
	'{"user":"ada","score":10,"class":"c1","level":3,"name":"Ada"}'
run "mktable _private" "$S/mktable" "$M" _private id:B
[ -e "$M/%5Fprivate/_schema.json" ] || fail "mktable _private: no %5Fprivate"
expect_eq "mktable _private key" "$(jq -c .partition_key "$M/%5Fprivate/_schema.json")" '{"name":"id","type":"B"}'
refuse "mktable: table exists" 1 "already exists" "$S/mktable" "$M" scores user
refuse "mktable: refused schema" 1 "schema refused: .*defined twice" \
	"$S/mktable" "$M" twice id --index 'idx=a' --index 'idx=b'
[ -e "$M/twice" ] && fail "mktable left a table behind after a refused schema"
refuse "mktable: bad type" 2 "type must be S, N or B" "$S/mktable" "$M" t1x id:X
refuse "mktable: bad table name" 2 "3..255 characters" "$S/mktable" "$M" 'a b' id
refuse "mktable: short table name" 2 "3..255 characters" "$S/mktable" "$M" ab id
refuse "mktable: bad index spec" 2 "needs NAME=PK" "$S/mktable" "$M" t2x id --index nokey
refuse "mktable: empty index key" 2 "empty attribute name" "$S/mktable" "$M" t2x id --index 'idx=:N'
refuse "mktable: too many arguments" 2 "usage:" "$S/mktable" "$M" t2x a b c
refuse "mktable: not a mount" 1 "not a dynfs mount" "$S/mktable" "$T" t3x id
run "mktable --dry-run" "$S/mktable" "$M" t4x a:N b:B --dry-run
[ -e "$M/t4x" ] && fail "mktable --dry-run created the table"
expect_eq "mktable --dry-run" "$(jq -c . "$T/out")" \
	'{"partition_key":{"name":"a","type":"N"},"sort_key":{"name":"b","type":"B"},"indexes":[]}'

section "migrate-public"
A=$M/adventures
cat "$A/_query?as=jsonl" >"$T/adv.before"
total=$(wc -l <"$T/adv.before")
bools=$(jq -c 'select(.public | type == "boolean")' "$T/adv.before" | wc -l)
nopub=$(jq -c 'select(has("public") | not)' "$T/adv.before" | wc -l)
[ "$bools" -gt 0 ] && [ "$nopub" -gt 0 ] || fail "demo adventures: $bools booleans, $nopub without public"
j0=$(jsize)
run "migrate-public --dry-run" "$S/migrate-public" "$M" --dry-run
grep -q "Would migrate $bools out of $total records" "$T/out" || fail "dry run: $(tail -n 1 "$T/out")"
expect_eq "--dry-run writes nothing" "$(jsize)" "$j0"
run "migrate-public" "$S/migrate-public" "$M"
expect_eq "migrate-public output" "$(cat "$T/out")" "Migrated $bools out of $total records"
cat "$A/_query?as=jsonl" >"$T/adv.after"
expect_eq "migrated: what changed" \
	"$(jq -c 'if (.public | type) == "boolean" then .public = (if .public then 1 else 0 end) else . end' "$T/adv.before")" \
	"$(cat "$T/adv.after")"
expect_eq "no booleans left" "$(cat "$A/_query?filter=attribute_type(public, \"BOOL\")&as=count")" 0
j1=$(jsize)
run "migrate-public again" "$S/migrate-public" "$M"
expect_eq "second run" "$(cat "$T/out")" "Migrated 0 out of $total records"
expect_eq "second run writes nothing" "$(jsize)" "$j1"
# A table with a sort key and another attribute name.
run "mktable flags" "$S/mktable" "$M" flags owner n:N
printf '%s\n' '{"owner": "a", "n": 1, "visible": true, "x": [1, {"y": null}]}' \
	'{"owner": "a", "n": 2, "visible": false}' '{"owner": "b", "n": 1, "visible": 1}' \
	'{"owner": "b", "n": 2}' >"$M/flags/_batch"
run "migrate-public --attribute" "$S/migrate-public" "$M" flags --attribute visible
expect_eq "--attribute output" "$(cat "$T/out")" "Migrated 2 out of 4 records"
expect_eq "--attribute result" "$(cat "$M/flags/_query?as=jsonl")" \
	'{"owner":"a","n":1,"visible":1,"x":[1,{"y":null}]}
{"owner":"a","n":2,"visible":0}
{"owner":"b","n":1,"visible":1}
{"owner":"b","n":2}'
refuse "migrate-public: no such table" 1 "no table 'nosuch'" "$S/migrate-public" "$M" nosuch
refuse "migrate-public: not a mount" 1 "not a dynfs mount" "$S/migrate-public" "$T"
refuse "migrate-public: bad attribute" 2 "plain attribute name" "$S/migrate-public" "$M" --attribute 'a b'

section "copy-table: quiz-stats re-keyed by id + week#level"
MAP='.["week#level"] = .week + "#" + (.level | tostring) | del(.["id#level"])'
Q=$M/quiz-stats
nq=$(cat "$Q/_query?as=count")
refuse "copy-table: no DEST" 1 "create it first" "$S/copy-table" "$M" quiz-stats qs2 --map "$MAP"
run "mktable qs2" "$S/mktable" "$M" qs2 id 'week#level' --index 'level-week-index=level:N,week'
refuse "copy-table: a missing key attribute" 1 "lack a key attribute.*nothing was copied" \
	"$S/copy-table" "$M" quiz-stats qs2
refuse "copy-table: two items onto one key" 1 "map to one key.*nothing was copied" \
	"$S/copy-table" "$M" quiz-stats qs2 --map '.["week#level"] = "w"'
refuse "copy-table: a bad --map" 2 "not a jq expression" "$S/copy-table" "$M" quiz-stats qs2 --map '.['
refuse "copy-table: a --map that is not an object" 1 "not an object" \
	"$S/copy-table" "$M" quiz-stats qs2 --map '.week'
expect_eq "refusals wrote nothing" "$(cat "$M/qs2/_query?as=count")" 0
run "copy-table --dry-run" "$S/copy-table" "$M" quiz-stats qs2 --map "$MAP" --dry-run
grep -q "Would copy $nq of $nq items" "$T/out" || fail "dry run: $(cat "$T/out")"
expect_eq "--dry-run wrote nothing" "$(cat "$M/qs2/_query?as=count")" 0
# The application (step 2) has already written one item in the new table.
mkdir -p "$M/qs2/felienne"
echo '{"finished": 1, "level": 3, "week": "2022-10", "scores": {"$NS": [100, 42]}}' \
	>"$M/qs2/felienne/2022-10#3.json"
run "copy-table" "$S/copy-table" "$M" quiz-stats qs2 --map "$MAP"
grep -q "^Copied $((nq - 1)) of $nq items from quiz-stats to qs2 (1 were there)$" "$T/out" ||
	fail "copy-table: $(cat "$T/out")"
grep -q "^Verified: all $nq items of quiz-stats have their key in qs2 ($nq items)$" "$T/out" ||
	fail "copy-table: $(cat "$T/out")"
expect_eq "copied item" "$(jq -c . "$M/qs2/felienne/2022-09#3.json")" \
	'{"id":"felienne","week#level":"2022-09#3","finished":1,"level":3,"scores":[95],"started":1,"week":"2022-09"}'
expect_eq "the application's item wins" "$(jq -c .scores "$M/qs2/felienne/2022-10#3.json")" '{"$NS":[42,100]}'
notapp='select(.id != "felienne" or .["week#level"] != "2022-10#3")'
expect_eq "every item mapped" \
	"$(cat "$Q/_query?as=jsonl" | jq -c "$MAP" | jq -cS "$notapp" | sort)" \
	"$(cat "$M/qs2/_query?as=jsonl" | jq -cS "$notapp" | sort)"
expect_eq "old table unchanged" "$(cat "$Q/_query?as=count")" "$nq"
j2=$(jsize)
run "copy-table again" "$S/copy-table" "$M" quiz-stats qs2 --map "$MAP"
grep -q "^Copied 0 of $nq items" "$T/out" || fail "copy-table again: $(cat "$T/out")"
expect_eq "a re-run writes nothing" "$(jsize)" "$j2"
rm "$M/qs2/hedy/2023-31#1.json"
run "copy-table after a loss" "$S/copy-table" "$M" quiz-stats qs2 --map "$MAP"
grep -q "^Copied 1 of $nq items" "$T/out" || fail "copy-table after a loss: $(cat "$T/out")"

section "backup and restore"
# exact numbers and binary, through every path
echo '{"big": {"$N": "12345678901234567890.123456789012345678"}, "bin": {"$B": "AAEC/w=="}, "tiny": {"$N": "1e-130"}}' \
	>"$M/users/exact.json"
cp "$M/users/exact.json" "$T/exact.json"
run "backup (live)" "$S/backup" "$M" "$T/bk/live"
ntables=$(ls "$M" | grep -vc '^_')
expect_eq "backup tables" "$(jq '.tables | length' "$T/bk/live/manifest.json")" "$ntables"
for t in users qs2 flags; do
	expect_eq "backup $t count" "$(jq --arg t "$t" '.tables[$t]' "$T/bk/live/manifest.json")" \
		"$(cat "$M/$t/_query?as=count")"
	cmp -s "$T/bk/live/tables/$t/items.jsonl" <(cat "$M/$t/_query?as=jsonl") || fail "backup $t: items differ"
done
[ -e "$T/bk/live/tables/_private/schema.json" ] || fail "backup: no _private table"
refuse "backup into an existing directory" 1 "exists" "$S/backup" "$M" "$T/bk/live"
refuse "backup of a mounted store" 1 "in use|unmount" "$S/backup" "$STORE" "$T/bk/nope"
[ -e "$T/bk/nope" ] && fail "a failed backup left its directory"
refuse "backup of an unknown table" 1 "no table 'nosuch'" "$S/backup" "$M" "$T/bk/nope" --table nosuch
run "backup --table" "$S/backup" "$M" "$T/bk/users" --table users
expect_eq "backup --table" "$(jq -c '.tables | keys' "$T/bk/users/manifest.json")" '["users"]'
demo_unmount
run "backup (stopped store)" "$S/backup" "$STORE" "$T/bk/stopped"
diff -r "$T/bk/live/tables" "$T/bk/stopped/tables" >"$T/diff" ||
	{ jq -S . "$T/bk/live/tables/flags/schema.json" >/dev/null; \
	  cmp -s <(cat "$T"/bk/live/tables/*/items.jsonl) <(cat "$T"/bk/stopped/tables/*/items.jsonl) ||
		fail "live and stopped backups differ in items: $(head -c 600 "$T/diff")"; }
expect_eq "both backups: same schemas" "$(jq -S . "$T/bk/live/schema.json" | jq -c 'map_values(del(.indexes | select(. == [])))')" \
	"$(jq -S . "$T/bk/stopped/schema.json" | jq -c 'map_values(del(.indexes | select(. == [])))')"
run "restore into a new store" "$S/restore" "$T/bk/stopped" "$T/store2"
run "restored store is sound" "$DYNFS" export "$T/store2" --check
grep -q "ok: $ntables tables" "$T/out" || fail "restored store: $(cat "$T/out")"
for t in users qs2 adventures; do
	cmp -s "$T/bk/stopped/tables/$t/items.jsonl" <("$DYNFS" export "$T/store2" --table "$t" --quiet) ||
		fail "restore $t: items differ"
done
refuse "restore onto existing tables" 1 "exists.*--merge" "$S/restore" "$T/bk/stopped" "$T/store2"
run "restore --merge" "$S/restore" "$T/bk/users" "$T/store2" --merge
refuse "restore of something else" 1 "not a backup" "$S/restore" "$T" "$T/store3"
refuse "restore of an unknown table" 1 "no table 'nosuch'" "$S/restore" "$T/bk/live" "$T/store3" --table nosuch
# into a mount
mkdir -p "$T/store4" "$T/m4"
"$DYNFS" "$T/store4" "$T/m4" || fail "could not mount store4"
EXTRA_MNTS+=("$T/m4")
run "restore into a mount" "$S/restore" "$T/bk/live" "$T/m4"
expect_eq "restored through the mount: exact item" "$(cat "$T/m4/users/exact.json")" "$(cat "$T/exact.json")"
for t in users qs2 flags _private; do
	d=$t
	[ "$t" = _private ] && d=%5Fprivate
	cmp -s "$T/bk/live/tables/$t/items.jsonl" <(cat "$T/m4/$d/_query?as=jsonl") || fail "restore into mount: $t differs"
	expect_eq "restore into mount: $t schema" "$(jq -cS . "$T/m4/$d/_schema.json")" \
		"$(jq -cS . "$T/bk/live/tables/$t/schema.json")"
done
refuse "restore into a mount onto existing tables" 1 "exists.*--merge" "$S/restore" "$T/bk/live" "$T/m4"
run "restore into a mount --merge" "$S/restore" "$T/bk/users" "$T/m4" --merge
refuse "restore into a store that is mounted" 1 "in use" "$S/restore" "$T/bk/live" "$T/store4" --merge

section "SIGUSR1 and SIGTERM (man page SIGNALS)"
pid=$(cat "$T/store4/lock")
echo '{"n": 1}' >"$T/m4/users/sig.json"
[ "$(stat -c %s "$T/store4/journal")" -gt 32 ] || fail "no journal records before SIGUSR1"
kill -USR1 "$pid"
for _ in $(seq 50); do [ "$(stat -c %s "$T/store4/journal")" = 32 ] && break; sleep 0.1; done
expect_eq "SIGUSR1: the journal starts over" "$(stat -c %s "$T/store4/journal")" 32
grep -q '"username":"sig"' "$T/store4/snapshot.json" || fail "SIGUSR1: the snapshot lacks the new item"
echo '{"n": 2}' >"$T/m4/users/sig.json"
kill -TERM "$pid"
flock -w 10 "$T/store4/lock" true || fail "SIGTERM: dynfs did not exit"
mountpoint -q "$T/m4" && fail "SIGTERM: still mounted"
grep -q '"username":"sig","n":2' "$T/store4/snapshot.json" || fail "SIGTERM: no snapshot at exit"
run "SIGTERM: the store is sound" "$DYNFS" export "$T/store4" --check

done_test
