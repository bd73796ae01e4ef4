# t_import.sh - `dynfs import` and `dynfs export` (SPEC §7): Hedy's
# dev_database.json with the users and quiz-stats tables, DynamoDB JSON
# Lines (plain and gzipped), JSON Lines of items; export -> import round
# trips that are byte-identical for every type; an import into a mounted
# store is refused; a bad line imports nothing.
need_local "dynfs import into a local store"

export LC_ALL=C
die() { fail "$*"; done_test; }

field() { jq -c "$2" <"$1" 2>&1; }

# What Hedy's MemoryStorage writes (json.dump(indent=2), ASCII escapes).
cat >"$T/dev_database.json" <<'EOF'
{
  "users": [
    {
      "username": "hedy",
      "email": "hedy@hedy.org",
      "created": 1681239902406,
      "password": "$2b$09$riZem.ck",
      "display": "H\u00e9dy"
    },
    {
      "username": "felienne",
      "email": "felienne@felienne.com",
      "created": 1637851898173,
      "classes": {
        "$type": "set",
        "elements": [
          "c2",
          "c1"
        ]
      },
      "removed": {
        "$type": "set",
        "elements": []
      }
    },
    {
      "username": "student123",
      "email": "st123@school.com",
      "created": 1700126054884
    }
  ],
  "quiz-stats": [
    {"id#level": "hedy#1", "week": "2023-31", "id": "hedy", "level": 1, "finished": 1,
     "scores": {"$type": "set", "elements": [60]}},
    {"id#level": "felienne#3", "week": "2022-08", "id": "felienne", "level": 3, "finished": 0},
    {"id#level": "felienne#3", "week": "2022-09", "id": "felienne", "level": 3, "finished": 1,
     "scores": {"$type": "set", "elements": [95]}},
    {"id#level": "felienne#3", "week": "2022-10", "id": "felienne", "level": 3, "finished": 1,
     "scores": {"$type": "set", "elements": [100]}},
    {"id#level": "student123#9", "week": "2023-23", "id": "student123", "level": 9,
     "finished": 1, "scores": {"$type": "set", "elements": [40, 80]}}
  ]
}
EOF
cat >"$T/hedy-schema.json" <<'EOF'
{"users": {"partition_key": {"name": "username", "type": "S"},
           "indexes": [{"name": "email-index", "partition_key": {"name": "email", "type": "S"},
                        "projection": "ALL"}]},
 "quiz-stats": {"partition_key": {"name": "id#level", "type": "S"},
                "sort_key": {"name": "week", "type": "S"}}}
EOF

section "--help"
run "import --help" "$DYNFS" import --help
grep -q "usage: dynfs import STORE FILE" "$T/out" || fail "import --help: $(cat "$T/out")"
run "export --help" "$DYNFS" export --help
grep -q "usage: dynfs export STORE" "$T/out" || fail "export --help: $(cat "$T/out")"
refuse "import without a file" "usage" "$DYNFS" import "$STORE"

mkdir -p "$MNT"
section "Hedy's dev_database.json into a new store"
run "import hedy" "$DYNFS" import "$STORE" "$T/dev_database.json" --schema "$T/hedy-schema.json"
grep -q "format hedy (guessed" "$T/err" || fail "format not guessed: $(cat "$T/err")"
grep -q "8 items imported" "$T/err" || fail "import summary: $(cat "$T/err")"
mount_store
expect_eq "users/hedy" "$(field "$MNT/users/hedy.json" -c)" \
	'{"username":"hedy","created":1681239902406,"display":"Hédy","email":"hedy@hedy.org","password":"$2b$09$riZem.ck"}'
expect_eq "users/felienne (set sorted, empty set dropped)" \
	"$(field "$MNT/users/felienne.json" '[.classes, has("removed")]')" '[{"$SS":["c1","c2"]},false]'
expect_eq "quiz-stats/felienne#3 weeks" "$(ls "$MNT/quiz-stats/felienne#3" | tr '\n' ' ')" \
	"2022-08.json 2022-09.json 2022-10.json "
expect_eq "quiz-stats/student123#9/2023-23 scores" \
	"$(field "$MNT/quiz-stats/student123#9/2023-23.json" .scores)" '{"$NS":[40,80]}'
expect_eq "index from the schema file" "$(jq -c '.indexes[0].name' <"$MNT/users/_schema.json")" \
	'"email-index"'

section "import into a mounted store is refused"
printf '{"username":"late"}\n' >"$T/late.jsonl"
refuse "import while mounted" "in use by process $DYNFS_PID" \
	"$DYNFS" import "$STORE" "$T/late.jsonl" --table users
refuse "export while mounted read-write" "in use by process $DYNFS_PID" \
	"$DYNFS" export "$STORE" --table users
[ -e "$MNT/users/late.json" ] && fail "the refused import's item appeared"
unmount

section "export --check"
run "check" "$DYNFS" export "$STORE" --check
expect_eq "check output" "$(cat "$T/out")" "$STORE: ok: 2 tables, 8 items"

section "round trips: export, import into a new store, export again: identical"
run "export hedy" "$DYNFS" export "$STORE" --format hedy -o "$T/h1.json" --schema-out "$T/s1.json"
jq -e '.users | length == 3' "$T/h1.json" >/dev/null || fail "hedy export: $(head -20 "$T/h1.json")"
jq -e '.["quiz-stats"][0].scores == {"$type": "set", "elements": [95]} or true' "$T/h1.json" >/dev/null ||
	fail "hedy export is not JSON"
run "import hedy export" "$DYNFS" import "$T/store2" "$T/h1.json" --format hedy --schema "$T/s1.json"
run "export again" "$DYNFS" export "$T/store2" --format hedy -o "$T/h2.json" --schema-out "$T/s2.json"
cmp -s "$T/h1.json" "$T/h2.json" || fail "hedy round trip differs: $(diff "$T/h1.json" "$T/h2.json" | head)"
cmp -s "$T/s1.json" "$T/s2.json" || fail "schema round trip differs"
for fmt in jsonl dynamodb; do
	for t in users quiz-stats; do
		run "export $fmt $t" "$DYNFS" export "$STORE" --format "$fmt" --table "$t" -o "$T/$fmt-$t.1"
		run "import $fmt $t" "$DYNFS" import "$T/store-$fmt" "$T/$fmt-$t.1" --format "$fmt" \
			--table "$t" --schema "$T/s1.json"
		run "export $fmt $t again" "$DYNFS" export "$T/store-$fmt" --format "$fmt" --table "$t" \
			-o "$T/$fmt-$t.2"
		cmp -s "$T/$fmt-$t.1" "$T/$fmt-$t.2" || fail "$fmt round trip of $t differs"
	done
done
expect_eq "dynamodb line" "$(grep '"2022-09"' "$T/dynamodb-quiz-stats.1")" \
	'{"Item":{"id#level":{"S":"felienne#3"},"week":{"S":"2022-09"},"finished":{"N":"1"},"id":{"S":"felienne"},"level":{"N":"3"},"scores":{"NS":["95"]}}}'

section "every type survives every format"
cat >"$T/types.jsonl" <<'EOF'
{"id":"all","s":"h\u00e9llo \"q\" \n\t\u0000 \ud83d\ude00","n38":{"$N":"12345678901234567890123456789012345678"},"tiny":{"$N":"1e-130"},"huge":{"$N":"9.9999999999999999999999999999999999999e+125"},"dec":0.1,"neg":-12345678901234567890.5,"bin":{"$B":"AAEC/w=="},"ss":{"$SS":["a","b"]},"ns":{"$NS":[1,2.5,"0.123456789012345678901234567890"]},"bs":{"$BS":["AA==","AQ=="]},"l":[1,"x",null,true,{"m":{"deep":[[{"$SS":["z"]}]]}},{"$B":""}],"tagmap":{"$M":{"$N":"not a number"}},"setmap":{"$M":{"$type":"set","elements":[1]}},"nul":null,"f":false,"el":[],"em":{}}
{"id":"second","v":1}
EOF
printf '{"partition_key":{"name":"id","type":"S"}}\n' >"$T/id-schema.json"
run "import types" "$DYNFS" import "$T/s-types" "$T/types.jsonl" --table types --schema "$T/id-schema.json"
run "export types jsonl" "$DYNFS" export "$T/s-types" --table types -o "$T/types.1"
for fmt in dynamodb hedy; do
	if [ "$fmt" = hedy ]; then
		# Hedy's file has no binary type, and reads a map holding
		# "$type": "set" as a set: export refuses both, and leaves an
		# existing output file alone.
		echo '{"kept": []}' >"$T/types.hedy"
		refuse "export types hedy" 'table types, item {"id":"all"}: bin: a binary value' \
			"$DYNFS" export "$T/s-types" --format hedy --table types -o "$T/types.hedy"
		expect_eq "refused export leaves -o alone" "$(cat "$T/types.hedy")" '{"kept": []}'
		jq -c 'del(.bin, .bs, .l[5], .setmap)' "$T/types.1" >"$T/types-h.jsonl"
		run "import hedy-able types" "$DYNFS" import "$T/s-types-h" "$T/types-h.jsonl" \
			--table types --schema "$T/id-schema.json"
		run "export hedy-able types" "$DYNFS" export "$T/s-types-h" --table types \
			-o "$T/types.1"
		run "export types $fmt" "$DYNFS" export "$T/s-types-h" --format hedy -o "$T/types.hedy"
	else
		run "export types $fmt" "$DYNFS" export "$T/s-types" --format "$fmt" --table types \
			-o "$T/types.$fmt"
	fi
	run "import types $fmt" "$DYNFS" import "$T/s-types-$fmt" "$T/types.$fmt" --format "$fmt" \
		--table types --schema "$T/id-schema.json"
	run "export types back" "$DYNFS" export "$T/s-types-$fmt" --table types -o "$T/types.$fmt.back"
	cmp -s "$T/types.1" "$T/types.$fmt.back" ||
		fail "types through $fmt differ: $(diff "$T/types.1" "$T/types.$fmt.back" | head)"
done
grep -q '"n38":{"$N":"1.2345678901234567890123456789012345678e+37"}' "$T/types.1" ||
	fail "38-digit number: $(cat "$T/types.1")"

section "gzipped DynamoDB export files"
gzip -c "$T/dynamodb-quiz-stats.1" >"$T/part-0001.json.gz"
run "import gz" "$DYNFS" import "$T/store-gz" "$T/part-0001.json.gz" --table quiz-stats \
	--schema "$T/s1.json"
grep -q "format dynamodb (guessed" "$T/err" || fail "gz format not guessed: $(cat "$T/err")"
run "export gz store" "$DYNFS" export "$T/store-gz" --format dynamodb --table quiz-stats -o "$T/gz.out"
cmp -s "$T/gz.out" "$T/dynamodb-quiz-stats.1" || fail "gzip import differs"

section "a bad line imports nothing"
run "export before" "$DYNFS" export "$STORE" --format hedy -o "$T/before.json"
printf '{"username":"ok1"}\n{"username":"ok2"}\n{"username":"bad","x":tru}\n' >"$T/bad.jsonl"
refuse "bad line" "bad.jsonl:3:23: x: " "$DYNFS" import "$STORE" "$T/bad.jsonl" --table users
grep -q "nothing was imported" "$T/err" || fail "bad line: $(cat "$T/err")"
refuse "unknown table" "no table nosuch.*--schema" \
	"$DYNFS" import "$STORE" "$T/late.jsonl" --table nosuch --format jsonl
run "export after" "$DYNFS" export "$STORE" --format hedy -o "$T/after.json"
cmp -s "$T/before.json" "$T/after.json" || fail "a failed import changed the store"

section "--replace: the table ends up holding exactly the file's items"
printf '{"id":"a","v":1}\n{"id":"b"}\n{"id":"c"}\n' >"$T/r1.jsonl"
printf '{"id":"a","v":2}\n{"id":"d"}\n' >"$T/r2.jsonl"
run "import r1" "$DYNFS" import "$T/s-r" "$T/r1.jsonl" --table things --schema "$T/id-schema.json"
run "import r2 --replace" "$DYNFS" import "$T/s-r" "$T/r2.jsonl" --table things --replace
grep -q "2 items imported" "$T/err" || fail "replace count: $(cat "$T/err")"
expect_eq "replaced" "$("$DYNFS" export "$T/s-r" --table things 2>/dev/null | tr '\n' ' ')" \
	'{"id":"a","v":2} {"id":"d"} '
refuse "--replace with two files" "one FILE" \
	"$DYNFS" import "$T/s-r" "$T/r1.jsonl" "$T/r2.jsonl" --table things --replace
refuse "--replace=bogus" "say --replace or --replace=all" \
	"$DYNFS" import "$T/s-r" "$T/r1.jsonl" --table things --replace=bogus

section "stdin"
printf '{"username":"piped","n":7}\n' | "$DYNFS" import "$STORE" - --format jsonl --table users \
	2>"$T/err" || fail "import from stdin: $(cat "$T/err")"
"$DYNFS" export "$STORE" --table users 2>/dev/null | grep -q '"username":"piped","n":7' ||
	fail "stdin import not exported"

# -o and --schema-out onto a device write through it, never replace it.
mknod "$T/null" c 1 3
"$DYNFS" export "$STORE" --table users -o "$T/null" --schema-out "$T/null" --quiet ||
	fail "export to a device failed"
[ -c "$T/null" ] || fail "export -o replaced a device node with a regular file"

done_test
