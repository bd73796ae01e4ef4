# t_schema.sh - _schema.json (SPEC §6) with indexes, and _stats.json.
#
#  - mkdir gives partition key id (S); the default schema reads back;
#  - the key schema changes while the table is empty, EBUSY afterwards
#    (with a line in /_errors), and writing back the same schema is fine;
#  - indexes are added to a populated table (backfilled: _index/ shows
#    the items at once), changed (projection), dropped, and survive a
#    remount; "projection" reads "ALL", "KEYS_ONLY" or the INCLUDE list;
#  - invalid schemas fail with EINVAL and a precise /_errors line, and
#    change nothing (a backfill that meets a BOOL index key names it);
#  - _stats.json: items, bytes, partitions, per-index counts (sparse
#    indexes count fewer), read-only, quietly stays on rm;
#  - rm -r of a table with indexes is quiet.
need add_index "_schema.json adds indexes here"
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

mount_fresh
U=$MNT/users
Q=$MNT/quiz-stats

# put_err FILE TEXT: write TEXT and a newline to FILE in one open, write,
# close (a shell would not report the close, where the commit fails);
# print "ok" or the error text.
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

# expect_new_error WHAT REGEX: /_errors gained a line matching REGEX.
expect_new_error() {
	local new
	new=$(tail -n +$((ERRORS_AT + 1)) "$MNT/_errors")
	grep -Eq -- "$2" <<<"$new" || fail "$1: no /_errors line matching [$2]; new lines: [$new]"
}


# stats_eq WHAT ACTUAL EXPECTED: _stats.json figures.  Remotely they are
# the service's estimates (docs/remote.md; DynamoDB refreshes them about
# every six hours, `dynfs serve` and DynamoDB Local at their own pace):
# there the shape is checked (the same fields and index names, numbers),
# and "estimated": true.
shape() { jq -cS 'walk(if type == "number" then 0 else . end) | if type == "object" then del(.estimated) else . end'; }
stats_eq() {
	if is_remote; then
		expect_eq "$1 (shape; the service's estimates)" "$(shape <<<"$2")" "$(shape <<<"$3")"
	else
		expect_eq "$@"
	fi
}

section "mkdir: partition key id (S), no sort key, no indexes"
mkdir "$U" || die "mkdir users"
expect_eq "default schema" "$(cat "$U/_schema.json")" '{
  "partition_key": {"name": "id", "type": "S"},
  "indexes": []
}'
is_remote && expect_eq "estimated" "$(jq .estimated "$U/_stats.json")" true
stats_eq "default stats" "$(jq -c 'del(.nodes)' "$U/_stats.json")" \
	'{"items":0,"bytes":0,"partitions":0,"indexes":{},"scratch_files":0,"scratch":[]}'
expect_eq "_index/ of a table without indexes" "$(ls -A "$U/_index")" ""

section "the key schema, while the table is empty"
expect_eq "set the key schema" \
	"$(put_err "$U/_schema.json" '{"partition_key": {"name": "username", "type": "S"}}')" ok
expect_eq "read back" "$(jq -c . "$U/_schema.json")" \
	'{"partition_key":{"name":"username","type":"S"},"indexes":[]}'
mkdir "$Q" || die "mkdir quiz-stats"
expect_eq "set a sort key and an index at once" "$(put_err "$Q/_schema.json" '{
  "partition_key": {"name": "id#level", "type": "S"},
  "sort_key": {"name": "week", "type": "S"},
  "indexes": [
    {"name": "id-week-index",
     "partition_key": {"name": "id", "type": "S"},
     "sort_key": {"name": "week", "type": "S"},
     "projection": "ALL"}
  ]
}')" ok
expect_eq "SPEC §6 shape, byte for byte" "$(cat "$Q/_schema.json")" '{
  "partition_key": {"name": "id#level", "type": "S"},
  "sort_key": {"name": "week", "type": "S"},
  "indexes": [
    {"name": "id-week-index",
     "partition_key": {"name": "id", "type": "S"},
     "sort_key": {"name": "week", "type": "S"},
     "projection": "ALL"}
  ]
}'
expect_eq "stat size = content" "$(stat -c %s "$Q/_schema.json")" "$(wc -c <"$Q/_schema.json")"

section "data"
put "$U/hedy.json" '{"email": "hedy@hedy.org", "created": 1681239902406}'
put "$U/felienne.json" '{"email": "felienne@felienne.com", "created": 1637851898173}'
put "$U/student123.json" '{"email": "st123@school.com", "created": 1700126054884}'
put "$U/nomail.json" '{"created": 1}'
put "$U/hedy2.json" '{"email": "hedy@hedy.org", "created": 2}'
mkdir "$Q/felienne#3" "$Q/hedy#1" || die "mkdir partitions"
put "$Q/hedy#1/2023-31.json" '{"id": "hedy", "level": 1, "finished": 1, "scores": {"$NS": [60]}}'
put "$Q/felienne#3/2022-08.json" '{"id": "felienne", "level": 3, "finished": 0}'
put "$Q/felienne#3/2022-09.json" '{"id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [95]}}'

section "the key schema of a table with items: EBUSY"
errors_mark
expect_eq "change the key type" \
	"$(put_err "$U/_schema.json" '{"partition_key": {"name": "username", "type": "N"}}')" \
	"Device or resource busy"
expect_new_error "EBUSY" '/users/_schema.json: .*only while the table is empty'
expect_eq "unchanged" "$(jq -c .partition_key "$U/_schema.json")" '{"name":"username","type":"S"}'
expect_eq "writing back the same schema is fine" \
	"$(put_err "$U/_schema.json" "$(cat "$U/_schema.json")")" ok
expect_eq "sed -i of an unchanged schema is fine" \
	"$(sed -i 's/x/x/' "$U/_schema.json" 2>&1 && echo ok)" ok

section "add an index to a populated table: backfilled"
expect_eq "add email-index" "$(put_err "$U/_schema.json" '{
  "partition_key": {"name": "username", "type": "S"},
  "indexes": [{"name": "email-index", "partition_key": {"name": "email", "type": "S"}}]
}')" ok
expect_eq "projection defaults to ALL" "$(jq -c '.indexes[0].projection' "$U/_schema.json")" '"ALL"'
expect_eq "_index/ lists it" "$(ls "$U/_index")" "email-index"
expect_eq "backfilled partitions" "$(ls -U "$U/_index/email-index" | tr '\n' ' ')" \
	"felienne@felienne.com hedy@hedy.org st123@school.com "
expect_eq "backfilled entries" "$(ls -U "$U/_index/email-index/hedy@hedy.org" | tr '\n' ' ')" \
	"hedy.json hedy2.json "
stats_eq "stats count the sparse index" "$(jq -c .indexes "$U/_stats.json")" '{"email-index":4}'

section "projections: KEYS_ONLY and INCLUDE read back"
expect_eq "two more indexes" "$(put_err "$U/_schema.json" '{
  "partition_key": {"name": "username", "type": "S"},
  "indexes": [
    {"name": "email-index", "partition_key": {"name": "email", "type": "S"}, "projection": "KEYS_ONLY"},
    {"name": "epoch-created-index", "partition_key": {"name": "epoch", "type": "N"},
     "sort_key": {"name": "created", "type": "N"}, "projection": ["email", "level"]}
  ]
}')" ok
# (by name: a service lists a table's indexes in its own order)
expect_eq "KEYS_ONLY" "$(jq -c '.indexes[] | select(.name == "email-index") | .projection' "$U/_schema.json")" '"KEYS_ONLY"'
expect_eq "INCLUDE as the list" \
	"$(jq -c '.indexes[] | select(.name == "epoch-created-index") | .projection' "$U/_schema.json")" '["email","level"]'
expect_eq "the new index is empty (nobody has epoch)" "$(ls -A "$U/_index/epoch-created-index")" ""
expect_eq "_index/ lists both" "$(ls "$U/_index" | tr '\n' ' ')" "email-index epoch-created-index "
stats_eq "stats" "$(jq -c .indexes "$U/_stats.json")" '{"email-index":4,"epoch-created-index":0}'
expect_ok "rmdir of an empty index: a quiet no-op" rmdir "$U/_index/epoch-created-index"
expect_eq "still there" "$(ls "$U/_index" | tr '\n' ' ')" "email-index epoch-created-index "
expect_eq "and a directory" "$(stat -c %F "$U/_index/epoch-created-index")" "directory"
expect_fail "rmdir of a non-empty index" "Directory not empty" rmdir "$U/_index/email-index"

section "drop an index"
expect_eq "drop epoch-created-index" "$(put_err "$U/_schema.json" '{
  "partition_key": {"name": "username", "type": "S"},
  "indexes": [{"name": "email-index", "partition_key": {"name": "email", "type": "S"}, "projection": "KEYS_ONLY"}]
}')" ok
expect_eq "gone from _index/" "$(ls "$U/_index")" "email-index"
expect_fail "gone" "No such file" ls "$U/_index/epoch-created-index"
stats_eq "gone from stats" "$(jq -c .indexes "$U/_stats.json")" '{"email-index":4}'

section "invalid schemas: EINVAL, a /_errors line, nothing changes"
BEFORE=$(cat "$U/_schema.json")
check_bad() { # WHAT TEXT REGEX
	errors_mark
	expect_eq "$1" "$(put_err "$U/_schema.json" "$2")" "Invalid argument"
	expect_new_error "$1" "/users/_schema.json: .*$3"
	expect_eq "$1: schema unchanged" "$(cat "$U/_schema.json")" "$BEFORE"
}
PK='"partition_key": {"name": "username", "type": "S"}'
check_bad "not JSON" '{"partition_key": ' ''
check_bad "unknown member" "{$PK, \"sortkey\": null}" 'unknown member "sortkey"'
check_bad "indexes not an array" "{$PK, \"indexes\": {}}" 'indexes must be an array'
check_bad "index without a name" "{$PK, \"indexes\": [{\"partition_key\": {\"name\": \"e\", \"type\": \"S\"}}]}" \
	'indexes\[0\]\.name must be an index name'
check_bad "bad index name" "{$PK, \"indexes\": [{\"name\": \"a b\", \"partition_key\": {\"name\": \"e\", \"type\": \"S\"}}]}" \
	'indexes\[0\]\.name must be an index name'
check_bad "index key of type BOOL" "{$PK, \"indexes\": [{\"name\": \"e-index\", \"partition_key\": {\"name\": \"e\", \"type\": \"BOOL\"}}]}" \
	'index e-index: partition_key: "type" must be "S", "N" or "B"'
check_bad "index without partition key" "{$PK, \"indexes\": [{\"name\": \"e-index\"}]}" \
	'index e-index: partition_key is missing'
check_bad "bad projection" "{$PK, \"indexes\": [{\"name\": \"e-index\", \"partition_key\": {\"name\": \"e\", \"type\": \"S\"}, \"projection\": \"SOME\"}]}" \
	'index e-index.projection must be "ALL", "KEYS_ONLY" or a non-empty list'
check_bad "empty INCLUDE" "{$PK, \"indexes\": [{\"name\": \"e-index\", \"partition_key\": {\"name\": \"e\", \"type\": \"S\"}, \"projection\": []}]}" \
	'non-empty list'
check_bad "unknown index member" "{$PK, \"indexes\": [{\"name\": \"e-index\", \"partition_key\": {\"name\": \"e\", \"type\": \"S\"}, \"proj\": 1}]}" \
	'index e-index: unknown member "proj"'
check_bad "an index twice" "{$PK, \"indexes\": [{\"name\": \"e-index\", \"partition_key\": {\"name\": \"e\", \"type\": \"S\"}}, {\"name\": \"e-index\", \"partition_key\": {\"name\": \"f\", \"type\": \"S\"}}]}" \
	'index e-index is defined twice'
check_bad "an attribute declared S and N" "{$PK, \"indexes\": [{\"name\": \"u-index\", \"partition_key\": {\"name\": \"username\", \"type\": \"N\"}}]}" \
	'attribute username is declared both S and N'
if ! lacks backfill_check "an index whose key an existing item has in another type"; then
	printf '{"email": "x@y.z", "level": true}' >"$U/boolean.json" || fail "put boolean.json"
	check_bad "backfill meets a BOOL index key" "{$PK, \"indexes\": [{\"name\": \"email-index\", \"partition_key\": {\"name\": \"email\", \"type\": \"S\"}, \"projection\": \"KEYS_ONLY\"}, {\"name\": \"level-index\", \"partition_key\": {\"name\": \"level\", \"type\": \"N\"}}]}" \
		'cannot add index level-index: item \(username=.?boolean.?\).*level must be of type N, not BOOL'
	rm "$U/boolean.json" || fail "rm boolean.json"
fi
errors_mark
expect_eq "an empty write" "$(: 2>&1 >"$U/_schema.json"; echo x)" "x"
expect_eq "kept" "$(cat "$U/_schema.json")" "$BEFORE"

section "_stats.json"
stats_eq "users" "$(jq -c 'del(.nodes)' "$U/_stats.json")" \
	'{"items":5,"bytes":'"$(jq .bytes "$U/_stats.json")"',"partitions":5,"indexes":{"email-index":4},"scratch_files":0,"scratch":[]}'
is_remote || [ "$(jq .bytes "$U/_stats.json")" -gt 50 ] || fail "bytes: $(jq .bytes "$U/_stats.json")"
[ "$(jq .nodes "$U/_stats.json")" -gt 0 ] || fail "nodes: $(jq .nodes "$U/_stats.json")"
stats_eq "quiz-stats" "$(jq -c '[.items, .partitions, .indexes]' "$Q/_stats.json")" \
	'[3,2,{"id-week-index":3}]'
expect_eq "stat size = content" "$(stat -c %s "$Q/_stats.json")" "$(wc -c <"$Q/_stats.json")"
B1=$(jq .bytes "$Q/_stats.json")
put "$Q/hedy#1/2023-32.json" '{"id": "hedy", "level": 1, "finished": 0, "notes": "a longer item than the others"}'
stats_eq "counts follow at once" "$(jq -c '[.items, .partitions, .indexes]' "$Q/_stats.json")" \
	'[4,2,{"id-week-index":4}]'
is_remote || [ "$(jq .bytes "$Q/_stats.json")" -gt "$B1" ] || fail "bytes did not grow"
expect_eq "stat size follows" "$(stat -c %s "$Q/_stats.json")" "$(wc -c <"$Q/_stats.json")"
expect_fail "read-only" "Permission denied" sh -c "echo '{}' > '$Q/_stats.json'"
expect_ok "rm _stats.json: nothing happens, quietly" rm "$Q/_stats.json"
stats_eq "still there" "$(jq .items "$Q/_stats.json")" 4
expect_eq "listed" "$(ls "$Q" | grep -E '^_(index|schema\.json|stats\.json)$' | tr '\n' ' ')" \
	"_index _schema.json _stats.json "

section "indexes survive a remount"
unmount
mount_store
expect_eq "schema" "$(jq -c '[.indexes[] | [.name, .projection]]' "$U/_schema.json")" \
	'[["email-index","KEYS_ONLY"]]'
expect_eq "entries" "$(ls -U "$U/_index/email-index/hedy@hedy.org" | tr '\n' ' ')" \
	"hedy.json hedy2.json "
stats_eq "stats" "$(jq -c .indexes "$Q/_stats.json")" '{"id-week-index":4}'

section "indexes are listed by name, whatever order they were made in (diff of two stores' schemas)"
O=$MNT/ord
mkdir "$O" || die "mkdir ord"
expect_eq "z-index, then a-index" "$(put_err "$O/_schema.json" '{
  "partition_key": {"name": "id", "type": "S"},
  "indexes": [
    {"name": "z-index", "partition_key": {"name": "z", "type": "S"}, "projection": "KEYS_ONLY"},
    {"name": "a-index", "partition_key": {"name": "a", "type": "S"}, "projection": "KEYS_ONLY"}
  ]
}')" ok
expect_eq "by name" "$(jq -c '[.indexes[].name]' "$O/_schema.json")" '["a-index","z-index"]'
expect_ok "rm -r ord" rm -r "$O"

section "rm -r of a table with indexes is quiet"
expect_ok "rm -r quiz-stats" rm -r "$Q"
expect_eq "no messages" "$(cat "$T/err")" ""
expect_fail "gone" "No such file" ls "$Q"
expect_ok "rm -r users" rm -r "$U"
expect_eq "no messages" "$(cat "$T/err")" ""

unmount
done_test
