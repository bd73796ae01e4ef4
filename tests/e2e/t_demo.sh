# t_demo.sh - scripts/demo and scripts/gen-demo, the newcomer's first
# command, and the messages dynfs gives when a mount cannot start.
#
#  - gen-demo is deterministic and writes a Hedy dev_database.json with
#    every attribute type Hedy's file can hold;
#  - scripts/demo creates the store quickly, mounts it, and every "Try:"
#    line it prints works (run from the directory it was started in);
#  - the store holds exactly the generated items, with every table, key,
#    index and projection of schemas/hedy.json (Hedy's database.py), but
#    adventures' public-index, which can only be added once
#    scripts/migrate-public has turned `public` (BOOL on some adventures,
#    N on others) into numbers; the notes' rows;
#  - the store is reused (changes survive), --fresh recreates it;
#  - it refuses clearly: mount point busy, stale, not empty, not a
#    directory; store in use; bad arguments (exit 2 with usage);
#  - dynfs's own startup messages: mount point missing / not a directory /
#    not empty / stale, store missing / not a directory / in use / from a
#    newer dynfs, /dev/fuse missing (in a private mount namespace, as root).
need_local "scripts/demo makes a local store"

source "$(dirname "${BASH_SOURCE[0]}")/demo_lib.sh"
export LC_ALL=C

section "gen-demo: deterministic, every type"
"$REPO/scripts/gen-demo" "$T/gen1" || fail "gen-demo failed"
"$REPO/scripts/gen-demo" "$T/gen2" || fail "gen-demo failed"
diff -r "$T/gen1" "$T/gen2" >/dev/null || fail "gen-demo is not deterministic"
DB=$T/gen1/dev_database.json
[ -s "$DB" ] && [ -s "$T/gen1/schema.json" ] || fail "gen-demo: no dev_database.json or schema.json"
expect_eq "gen-demo: Hedy's tables" "$(jq -c 'keys' "$DB")" "$(jq -c 'keys' "$REPO/schemas/hedy.json")"
total=$(jq '[.[] | length] | add' "$DB")
[ "$total" -ge 2000 ] && [ "$total" -le 20000 ] || fail "gen-demo: $total items, expected a few thousand"
types=$(jq -r '.[][] | .[] | .. | if type == "object" then
		(if ."$type" == "set" then "set of " + (.elements[0] | type) else "M" end)
		else type end' "$DB" | sort -u | tr '\n' ' ')
expect_eq "gen-demo: attribute types" "$types" \
	"M array boolean null number set of number set of string string "
refuse "gen-demo without arguments" 2 "usage: gen-demo" "$REPO/scripts/gen-demo"
expect_ok "gen-demo --help" "$REPO/scripts/gen-demo" --help

section "demo: create and mount"
start=$(date +%s%N)
demo_mount
ms=$(( ($(date +%s%N) - start) / 1000000 ))
# printed, not asserted: a time limit would fail on a busy machine and
# prove nothing on an idle one (make bench measures speed)
echo "scripts/demo took $ms ms"
grep -q "created" "$T/demo.out" || fail "demo did not say it created the store: $(cat "$T/demo.out")"
grep -q "fusermount3 -u mnt" "$T/demo.out" || fail "demo does not say how to unmount: $(cat "$T/demo.out")"
expect_eq "tables" "$(ls "$MNT" | tr '\n' ' ')" "_errors _tx $(jq -r 'keys[]' "$DB" | LC_ALL=C sort | tr '\n' ' ')"

section "demo: the data"
for t in $(jq -r 'keys[]' "$DB"); do
	want=$(jq --arg t "$t" '.[$t] | length' "$DB")
	expect_eq "$t: item count" "$(cat "$MNT/$t/_query?as=count")" "$want"
	expect_eq "$t: _stats.json items" "$(jq .items "$MNT/$t/_stats.json")" "$want"
	# Hedy's keys, index names, index keys and projections, but adventures'
	# public-index (added after the migration, below)
	expect_eq "$t: schema" "$(jq -cS . "$MNT/$t/_schema.json")" \
		"$(jq -cS --arg t "$t" '.[$t] | if $t == "adventures" then
			.indexes |= map(select(.name != "public-index")) else . end |
			if .indexes then .indexes |= sort_by(.name) else . end' "$REPO/schemas/hedy.json")"
done
expect_eq "users key" "$(jq -c .partition_key "$MNT/users/_schema.json")" '{"name":"username","type":"S"}'
expect_eq "users indexes" "$(jq -c '[.indexes[] | [.name, .projection]]' "$MNT/users/_schema.json")" \
	'[["email-index","ALL"],["epoch-created-index","ALL"],["epoch-username-index","KEYS_ONLY"]]'
expect_eq "quiz-stats keys" "$(jq -c '[.partition_key.name, .sort_key.name]' "$MNT/quiz-stats/_schema.json")" '["id#level","week"]'
expect_eq "quiz-stats index" "$(jq -c '[.indexes[] | .name, .partition_key.name, .sort_key.name]' "$MNT/quiz-stats/_schema.json")" '["id-week-index","id","week"]'
expect_eq "programs indexes" "$(jq -c '[.indexes[] | [.name, .partition_key.name, .sort_key.name, .projection]]' "$MNT/programs/_schema.json")" \
	'[["adventure_name-date-index","adventure_name","date","KEYS_ONLY"],["hedy_choice-index","hedy_choice","date","ALL"],["lang-date-index","lang","date","KEYS_ONLY"],["level-date-index","level","date","KEYS_ONLY"],["public-date-index","public","date","ALL"],["username-index","username","date","ALL"]]'
expect_eq "classes" "$(jq -c '[.partition_key.name, [.indexes[].name]]' "$MNT/classes/_schema.json")" \
	'["id",["link-index","teacher-index"]]'
# rows shaped as Hedy's code writes them
expect_eq "users: epoch and last_login" \
	"$(cat "$MNT/users/_query?filter=attribute_exists(last_login) and epoch = 1&as=count")" \
	"$(jq '.users | length' "$DB")"
expect_eq "adventures: levels is a list" \
	"$(cat "$MNT/adventures/_query?filter=attribute_type(levels, \"L\")&as=count")" 300
expect_eq "quiz-stats: scores is a list" \
	"$(cat "$MNT/quiz-stats/_query?filter=attribute_type(scores, \"NS\")&as=count")" 0
expect_eq "quiz-stats: started everywhere" \
	"$(cat "$MNT/quiz-stats/_query?filter=attribute_exists(started)&as=count")" \
	"$(jq '.["quiz-stats"] | length' "$DB")"
[ "$(cat "$MNT/programs/_query?filter=attribute_exists(hedy_choice)&as=count")" -gt 0 ] ||
	fail "programs: no hedy_choice"
[ "$(cat "$MNT/classes/_query?filter=attribute_type(students, \"SS\")&as=count")" -gt 0 ] ||
	fail "classes: no students set"
expect_eq "the notes' user" "$(jq -c '[.email, .created]' "$MNT/users/hedy.json")" '["hedy@hedy.org",1681239902406]'
expect_eq "the notes' quiz row" "$(jq -c . "$MNT/quiz-stats/felienne#3/2022-09.json")" \
	'{"id#level":"felienne#3","week":"2022-09","finished":1,"id":"felienne","level":3,"scores":[95],"started":1}'
expect_eq "felienne#3 2022-08 has no scores" "$(jq -c .scores "$MNT/quiz-stats/felienne#3/2022-08.json")" null
weeks=$(ls "$MNT/quiz-stats/felienne#3" | grep -cv '^[0-9]\{4\}-[0-9][0-9]\.json$')
expect_eq "weeks are zero-padded YYYY-WW" "$weeks" 0
bools=$(cat "$MNT/adventures/_query?filter=attribute_type(public, \"BOOL\")&as=count")
nums=$(cat "$MNT/adventures/_query?filter=attribute_type(public, \"N\")&as=count")
[ "$bools" -gt 0 ] && [ "$nums" -gt 0 ] || fail "adventures: public is BOOL on $bools and N on $nums rows"
ls "$MNT/users/_index/email-index/hedy@hedy.org/hedy.json" >/dev/null || fail "email-index has no hedy"

section "demo: after the migration, adventures has all of Hedy's indexes"
# README: scripts/migrate-public, then the index Hedy declares
(cd "$T" && "$REPO/scripts/migrate-public" "$MNT") >"$T/out" 2>&1 || fail "migrate-public: $(cat "$T/out")"
expect_eq "migrated" "$(cat "$T/out")" "Migrated $bools out of 300 records"
jq '.indexes += [{"name": "public-index", "partition_key": {"name": "public", "type": "N"}}]' \
	"$MNT/adventures/_schema.json" >"$T/adv-schema.json"
cp "$T/adv-schema.json" "$MNT/adventures/_schema.json" || fail "adding public-index: $(tail -n 1 "$MNT/_errors")"
expect_eq "adventures: schema" "$(jq -cS '.indexes |= sort_by(.name)' "$MNT/adventures/_schema.json")" \
	"$(jq -cS '.adventures | .indexes |= sort_by(.name)' "$REPO/schemas/hedy.json")"
expect_eq "public-index entries" "$(ls "$MNT/adventures/_index/public-index/1" "$MNT/adventures/_index/public-index/0" | grep -c json)" \
	"$(cat "$MNT/adventures/_query?filter=attribute_exists(public)&as=count")"

section "demo: every Try line works"
(
	cd "$T" || exit 1
	sed -n '/Try:/,/Unmount with/s/^  //p' demo.out | grep -v '^vim ' >try.sh
	[ "$(wc -l <try.sh)" -ge 5 ] || { echo "few Try lines: $(cat demo.out)"; exit 1; }
	while IFS= read -r line; do
		out=$(bash -o pipefail -c "$line" 2>&1) || { echo "Try line failed: $line: $out"; exit 1; }
		[ -n "$out" ] || [[ $line == *_errors* ]] || { echo "Try line printed nothing: $line"; exit 1; }
	done <try.sh
) || fail "demo's Try lines (see above)"

section "demo: refuses a busy mount point, a second mount of the store"
refuse "demo on a mounted mnt" 1 "already mounted.*fusermount3 -u" \
	"$REPO/scripts/demo" --store "$STORE" --mnt "$MNT"
mkdir "$T/m2"
EXTRA_MNTS+=("$T/m2")
refuse "demo of a store in use" 1 "in use" "$REPO/scripts/demo" --store "$STORE" --mnt "$T/m2"
refuse "demo --fresh of a store in use" 1 "in use" \
	"$REPO/scripts/demo" --store "$STORE" --mnt "$T/m2" --fresh
[ -e "$STORE/snapshot.json" ] || fail "demo --fresh removed a store in use"
refuse "dynfs on a store in use" 1 "in use by process" "$DYNFS" "$STORE" "$T/m2"

section "demo: the store is reused; --fresh starts over"
echo '{"email": "ada@example.org"}' >"$MNT/users/ada.json"
demo_unmount
demo_mount
grep -q "created" "$T/demo.out" && fail "demo created the store again"
expect_eq "a change survives" "$(jq -r .email "$MNT/users/ada.json" 2>&1)" "ada@example.org"
demo_unmount
demo_mount --fresh
[ -e "$MNT/users/ada.json" ] && fail "--fresh kept ada"
expect_eq "--fresh: users" "$(cat "$MNT/users/_query?as=count")" "$(jq '.users | length' "$DB")"
demo_unmount
expect_ok "integrity after unmount" "$DYNFS" export "$STORE" --check
grep -q "ok: 18 tables, $total items" "$T/out" || fail "export --check: $(cat "$T/out")"

section "demo: bad arguments and unusable mount points"
refuse "demo --bogus" 2 "usage: scripts/demo" "$REPO/scripts/demo" --bogus
refuse "demo --store without a value" 2 "usage: scripts/demo" "$REPO/scripts/demo" --store
expect_ok "demo --help" "$REPO/scripts/demo" --help
grep -q "usage: scripts/demo" "$T/out" || fail "demo --help: $(cat "$T/out")"
mkdir -p "$T/full" && touch "$T/full/x"
refuse "demo on a non-empty mnt" 1 "not empty" "$REPO/scripts/demo" --store "$STORE" --mnt "$T/full"
touch "$T/file"
refuse "demo on a file" 1 "not a directory" "$REPO/scripts/demo" --store "$STORE" --mnt "$T/file"
mkdir -p "$T/junk" && touch "$T/junk/notes.txt"
refuse "demo on a directory that is not a store" 1 "not a dynfs store" \
	"$REPO/scripts/demo" --store "$T/junk" --no-mount
DYNFS=$T/nonexistent refuse "demo with a missing dynfs" 1 "not an executable" \
	"$REPO/scripts/demo" --store "$STORE" --no-mount

section "demo: a stale mount (dynfs killed)"
demo_mount
kill -9 "$DYNFS_PID"
flock -w 10 "$STORE/lock" true || fail "killed dynfs still holds the store"
DYNFS_PID=
refuse "demo on a stale mount" 1 "stale mount.*fusermount3 -u" \
	"$REPO/scripts/demo" --store "$STORE" --mnt "$MNT"
# dynfs says "stale mount" when stat() fails; when the kernel still has the
# root's attributes cached, stat succeeds and reading the directory fails.
refuse "dynfs on a stale mount" 1 "stale mount.*fusermount3 -u|Transport endpoint is not connected" \
	"$DYNFS" "$STORE" "$MNT"
fusermount3 -u "$MNT" || fail "could not unmount the stale mount"

section "dynfs: startup messages"
refuse "missing mount point" 1 "does not exist; create it with: mkdir -p" "$DYNFS" "$STORE" "$T/nowhere"
refuse "mount point is a file" 1 "not a directory" "$DYNFS" "$STORE" "$T/file"
refuse "mount point not empty" 1 "not empty \(it holds x\)" "$DYNFS" "$STORE" "$T/full"
refuse "missing store" 1 "does not exist; an empty directory becomes a new store" "$DYNFS" "$T/nostore" "$MNT"
refuse "store is a file" 1 "not a directory" "$DYNFS" "$T/file" "$MNT"
refuse "no arguments" 2 "usage: dynfs" "$DYNFS"
refuse "three arguments" 2 "usage: dynfs" "$DYNFS" "$STORE" "$MNT" extra
refuse "bad fsync mode" 1 "use always, batch or off" "$DYNFS" "$STORE" "$MNT" -o fsync=sometimes
cp "$STORE/snapshot.json" "$T/snapshot.good"
sed -i '1s/"version":1,/"version":2,/' "$STORE/snapshot.json"
refuse "store from a newer dynfs" 1 "newer dynfs.*newer" "$DYNFS" "$STORE" "$MNT"
refuse "import into a store from a newer dynfs" 1 "newer" \
	"$DYNFS" import "$STORE" "$DB" --format hedy --quiet
cp "$T/snapshot.good" "$STORE/snapshot.json"
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	# A private mount namespace (unshare's default propagation is private)
	# whose /dev is an empty tmpfs: what a container without the device sees.
	refuse "no /dev/fuse" 1 "/dev/fuse is missing: load the FUSE module \(modprobe fuse\)" \
		unshare -m bash -c 'mount -t tmpfs none /dev && exec "$0" "$1" "$2"' "$DYNFS" "$STORE" "$MNT"
else
	echo "skipped: /dev/fuse missing (needs root and unshare -m)"
fi
mountpoint -q "$MNT" && fail "a refused start left a mount"

section "dynfs STORE MNT with relative paths, in the background"
# A user types `dynfs demo-store mnt`.  The daemon must keep working after
# it has detached (it changes directory to /): snapshots on SIGUSR1 and at
# exit, and the unmount on SIGTERM.
(
	cd "$T" || exit 1
	"$DYNFS" store mnt || exit 1
	pid=$(cat store/lock)
	echo '{"rel": 1}' >mnt/users/rel.json
	kill -USR1 "$pid"
	for _ in $(seq 30); do grep -q '"username":"rel"' store/snapshot.json && break; sleep 0.1; done
	grep -q '"username":"rel"' store/snapshot.json ||
		echo "relative paths: SIGUSR1 wrote no snapshot (the daemon's cwd is /; fs/main.c)"
	kill -TERM "$pid"
	flock -w 10 store/lock true
	if ! ls mnt >/dev/null 2>&1 || mountpoint -q mnt; then
		echo "relative paths: SIGTERM left mnt mounted (umount2(\"mnt\") after chdir(\"/\"); fs/main.c)"
		fusermount3 -u mnt 2>/dev/null
	fi
) >"$T/rel.out" 2>&1 || fail "relative paths: dynfs store mnt failed: $(cat "$T/rel.out")"
[ -s "$T/rel.out" ] && fail "$(cat "$T/rel.out")"

done_test
