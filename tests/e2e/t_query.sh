# t_query.sh - `_query?` lookups (SPEC §3) on the design notes' tables.
#
#  - every example of SPEC §3 (and the index query of §4);
#  - sort key conditions eq / lt / le / gt / ge / prefix, ge+le (BETWEEN),
#    order=desc, limit, on S and N sort keys;
#  - after= pagination: walking every page gives every item exactly once
#    (in a partition, at table level, in an index partition);
#  - filters: contains, attribute_not_exists, size, BETWEEN, IN, nested
#    paths, begins_with, NOT/OR;
#  - as=count / json / jsonl are valid for jq and agree with the listing;
#  - scan segments 0/3, 1/3, 2/3 partition the table;
#  - malformed queries: EINVAL and a /_errors line saying what is wrong;
#  - freshness: a query after a change sees the change, at once;
#  - `ls` of a partition or table never shows _query; query directories
#    are read-only; their entries read as the items;
#  - large results stream (a listing of thousands, limit across pages).
need add_index "_schema.json adds indexes here"
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

mount_fresh
make_table users '{"partition_key":{"name":"username","type":"S"},"indexes":[{"name":"email-index","partition_key":{"name":"email","type":"S"}}]}'
make_table quiz-stats '{"partition_key":{"name":"id#level","type":"S"},"sort_key":{"name":"week","type":"S"},"indexes":[{"name":"id-week-index","partition_key":{"name":"id","type":"S"},"sort_key":{"name":"week","type":"S"}}]}'
make_table programs '{"partition_key":{"name":"id","type":"S"},"indexes":[{"name":"username-index","partition_key":{"name":"username","type":"S"},"sort_key":{"name":"date","type":"N"},"projection":"KEYS_ONLY"}]}'
U=$MNT/users
Q=$MNT/quiz-stats
P=$MNT/programs
F=$Q/felienne#3
RO='Operation not permitted\|Permission denied'

put "$U/hedy.json" '{"email": "hedy@hedy.org", "created": 1681239902406, "profile": {"lang": "nl", "tags": ["teacher"]}}'
put "$U/felienne.json" '{"email": "felienne@felienne.com", "created": 1637851898173, "profile": {"lang": "en"}}'
put "$U/student123.json" '{"email": "st123@school.com", "created": 1700126054884}'
put "$U/anon1.json" '{"created": 1600000000000}'
put "$U/anon2.json" '{"created": 1600000000001, "profile": {"lang": "nl"}}'
for p in "hedy#1" "felienne#3" "student123#9"; do
	mkdir "$Q/$p" || die "mkdir $p"
done
put "$Q/hedy#1/2023-31.json" '{"id": "hedy", "level": 1, "finished": 1, "scores": {"$NS": [60]}}'
put "$F/2022-08.json" '{"id": "felienne", "level": 3, "finished": 0}'
put "$F/2022-09.json" '{"id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [95]}}'
put "$F/2022-10.json" '{"id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [100]}}'
put "$Q/student123#9/2023-23.json" '{"id": "student123", "level": 9, "finished": 1, "scores": {"$NS": [40, 80]}, "history": [{"score": 40}, {"score": 80}]}'
for i in 1 2 3 4 5 6; do
	put "$P/p$i.json" "{\"username\": \"hedy\", \"date\": $((1699999997 + i)), \"level\": $i}"
done
put "$P/f1.json" '{"username": "felienne", "date": 1500000000}'

# q DIR PARAMS: the query's listing (ls -U) on one line.
q() {
	ls -U -- "$1/_query?$2" 2>&1 | tr '\n' ' '
}
# qt DIR QUERY: a table-level query (a Scan): in key order locally; a
# service's Scan has no order (docs/remote.md, "Listing order"), so
# remotely the same set of names is checked, sorted
qt() {
	if is_remote; then
		ls -U -- "$1/_query?$2" 2>&1 | sort | tr '\n' ' '
	else
		q "$@"
	fi
}

section "SPEC §3 examples"
expect_eq "ls -U felienne#3/_query?ge=2022-09" "$(q "$F" 'ge=2022-09')" "2022-09.json 2022-10.json "
expect_eq "prefix, desc, limit, as=jsonl | jq .scores" \
	"$(cat "$F/_query?prefix=2022-&order=desc&limit=5&as=jsonl" | jq -c .scores | tr '\n' ' ')" \
	'{"$NS":[100]} {"$NS":[95]} null '
expect_eq "users without email, as=count" \
	"$(cat "$U/_query?filter=attribute_not_exists(email)&as=count")" 2
expect_eq "SPEC §4: an index partition, ge + desc" \
	"$(q "$P/_index/username-index/hedy" 'ge=1700000000&order=desc')" \
	"p6.json p5.json p4.json p3.json "

section "sort key conditions"
expect_eq "eq" "$(q "$F" 'eq=2022-09')" "2022-09.json "
expect_eq "gt" "$(q "$F" 'gt=2022-09')" "2022-10.json "
expect_eq "lt" "$(q "$F" 'lt=2022-09')" "2022-08.json "
expect_eq "le" "$(q "$F" 'le=2022-09')" "2022-08.json 2022-09.json "
expect_eq "ge" "$(q "$F" 'ge=2022-09')" "2022-09.json 2022-10.json "
expect_eq "ge+le (BETWEEN)" "$(q "$F" 'ge=2022-08&le=2022-09')" "2022-08.json 2022-09.json "
expect_eq "gt+lt" "$(q "$F" 'gt=2022-08&lt=2022-10')" "2022-09.json "
expect_eq "prefix" "$(q "$F" 'prefix=2022-1')" "2022-10.json "
expect_eq "no match" "$(q "$F" 'prefix=2023')" ""
expect_eq "eq on an absent key" "$(q "$F" 'eq=2022-11')" ""
expect_eq "everything" "$(q "$F" '')" "2022-08.json 2022-09.json 2022-10.json "
expect_eq "order=desc" "$(q "$F" 'order=desc')" "2022-10.json 2022-09.json 2022-08.json "
expect_eq "limit" "$(q "$F" 'limit=2')" "2022-08.json 2022-09.json "
expect_eq "desc + limit" "$(q "$F" 'order=desc&limit=1')" "2022-10.json "
expect_eq "N: numeric, not text order" "$(q "$P/_index/username-index/hedy" 'gt=1699999999&lt=1700000003')" \
	"p3.json p4.json p5.json "
expect_eq "N: other spellings of a number" "$(q "$P/_index/username-index/hedy" 'eq=1.700000001e9')" "p4.json "
expect_eq "an encoded value" "$(q "$F" 'ge=2022%2D10')" "2022-10.json "

section "query entries read as the items"
D="$F/_query?ge=2022-09"
expect_eq "a symlink" "$(stat -c %F "$D/2022-09.json")" "symbolic link"
expect_eq "to the item" "$(readlink "$D/2022-09.json")" "../../felienne#3/2022-09.json"
expect_eq "cat" "$(cat "$D/2022-09.json")" "$(cat "$F/2022-09.json")"
expect_eq "jq over all entries" "$(jq -s -c 'map(.week)' "$D"/*)" '["2022-09","2022-10"]'
expect_eq "table level: full-key names" "$(q "$Q" 'filter=finished%20%3D%200')" "felienne#3~2022-08.json "
expect_eq "table level: target" "$(readlink "$Q/_query?filter=finished = 0/felienne#3~2022-08.json")" \
	"../felienne#3/2022-08.json"
expect_eq "table level, no sort key" "$(qt "$U" 'filter=created < 1637851898174')" "anon1.json anon2.json felienne.json "
expect_eq "and readable" "$(jq -r .username "$U/_query?filter=created < 1637851898174/felienne.json")" felienne
expect_fail "a name that does not match is not there" "No such file" cat "$D/2022-08.json"
expect_eq "cd into a query" "$(cd "$D" && cat 2022-10.json | jq -r .week)" "2022-10"

section "filters"
expect_eq "finished = 1 and contains(scores, 95)" \
	"$(q "$F" 'filter=finished = 1 and contains(scores, 95)')" "2022-09.json "
expect_eq "attribute_not_exists" "$(q "$F" 'filter=attribute_not_exists(scores)')" "2022-08.json "
expect_eq "size" "$(q "$Q" 'filter=size(scores) > 1')" "student123#9~2023-23.json "
expect_eq "BETWEEN" "$(q "$Q" 'filter=level BETWEEN 2 AND 5')" \
	"felienne#3~2022-08.json felienne#3~2022-09.json felienne#3~2022-10.json "
expect_eq "IN" "$(qt "$Q" 'filter=level IN (1, 9)')" "hedy#1~2023-31.json student123#9~2023-23.json "
expect_eq "nested map path" "$(qt "$U" 'filter=profile.lang = "nl"')" "anon2.json hedy.json "
expect_eq "nested list path" "$(q "$Q" 'filter=history[1].score >= 80')" "student123#9~2023-23.json "
expect_eq "list index in a map" "$(q "$U" 'filter=profile.tags[0] = "teacher"')" "hedy.json "
expect_eq "begins_with" "$(q "$U" 'filter=begins_with(email, "fel")')" "felienne.json "
expect_eq "NOT / OR" "$(qt "$U" 'filter=NOT attribute_exists(email) OR email = "st123@school.com"')" \
	"anon1.json anon2.json student123.json "
expect_eq "a key attribute by backquotes" "$(q "$Q" 'filter=`id#level` = "hedy#1"')" "hedy#1~2023-31.json "
expect_eq "filter + key condition + limit" "$(q "$F" 'ge=2022-08&filter=finished = 1&limit=1')" "2022-09.json "
expect_eq "& inside a filter, encoded" "$(q "$U" 'filter=email = "a%26b"')" ""

section "as=count, as=json, as=jsonl"
for d in "$F" "$Q" "$U"; do
	n=$(ls -U "$d/_query?" | wc -l)
	expect_eq "count = listing ($d)" "$(cat "$d/_query?as=count")" "$n"
	expect_eq "json is an array of as many ($d)" "$(jq 'length' "$d/_query?as=json")" "$n"
	expect_eq "jsonl: one valid item per line ($d)" "$(jq -c . "$d/_query?as=jsonl" | wc -l)" "$n"
	expect_eq "jsonl lines = json elements ($d)" "$(jq -c . "$d/_query?as=jsonl")" \
		"$(jq -c '.[]' "$d/_query?as=json")"
done
expect_eq "an empty json" "$(cat "$F/_query?eq=2030&as=json")" "[]"
expect_eq "an empty count" "$(cat "$F/_query?eq=2030&as=count")" "0"
expect_eq "an empty jsonl" "$(wc -c <"$F/_query?eq=2030&as=jsonl")" 0
expect_eq "items compact, keys first" "$(head -1 "$F/_query?as=jsonl")" \
	'{"id#level":"felienne#3","week":"2022-08","finished":0,"id":"felienne","level":3}'
expect_ok "a query file is a regular file" test -f "$F/_query?as=count"
expect_eq "of unknown size (read it to the end)" "$(stat -c %s "$F/_query?as=count")" 0
expect_eq "a query directory is a directory" "$(stat -c %F "$F/_query?limit=1")" "directory"
expect_eq "KEYS_ONLY index: projected" "$(cat "$P/_index/username-index/hedy/_query?limit=1&as=jsonl")" \
	'{"id":"p1","date":1699999998,"username":"hedy"}'

section "after= pagination walks every item exactly once"
mkdir "$Q/bulk#1" || die "mkdir bulk#1"
for w in $(seq -w 1 60); do
	put "$Q/bulk#1/2024-$w.json" "{\"id\": \"bulk\", \"level\": 1, \"n\": $((10#$w))}"
done
# walk DIR PARAMS PAGESIZE: all entries, page by page, after= the last name
walk() {
	local dir=$1 params=$2 size=$3 last="" page all=""
	while :; do
		page=$(ls -U -- "$dir/_query?${params}limit=$size${last:+&after=$last}") ||
			{ fail "walk $dir: page after [$last] failed"; return; }
		[ -n "$page" ] || break
		all+="$page"$'\n'
		last=$(tail -n 1 <<<"$page" | sed 's/%/%25/g; s/&/%26/g; s/#/%23/g')
		[ "$(wc -l <<<"$page")" -lt "$size" ] && break
	done
	printf '%s' "$all"
}
expect_lines "partition, pages of 7" "$(walk "$Q/bulk#1" '' 7)" "$(ls -U "$Q/bulk#1/_query?")"
expect_eq "60 distinct" "$(walk "$Q/bulk#1" '' 7 | sort -u | wc -l)" 60
expect_lines "partition, desc, pages of 9" "$(walk "$Q/bulk#1" 'order=desc&' 9)" \
	"$(ls -U "$Q/bulk#1/_query?order=desc")"
expect_lines "partition, with a filter" "$(walk "$Q/bulk#1" 'filter=n > 30&' 4)" \
	"$(ls -U "$Q/bulk#1/_query?filter=n > 30")"
expect_eq "filtered count" "$(walk "$Q/bulk#1" 'filter=n > 30&' 4 | wc -l)" 30
expect_lines "table level (scan), pages of 8" "$(walk "$Q" '' 8)" "$(ls -U "$Q/_query?")"
expect_eq "scan: every item" "$(walk "$Q" '' 8 | wc -l)" 65
expect_lines "index partition, pages of 11" "$(walk "$Q/_index/id-week-index/bulk" '' 11)" \
	"$(ls -U "$Q/_index/id-week-index/bulk")"
expect_eq "index partition: every item" "$(walk "$Q/_index/id-week-index/bulk" '' 11 | wc -l)" 60
expect_eq "after= a name that is not there" "$(q "$F" 'after=2022-085.json')" "2022-09.json 2022-10.json "
expect_eq "after= with desc" "$(q "$F" 'after=2022-09.json&order=desc')" "2022-08.json "

section "scan segments partition the table"
for n in 1 2 3 4 5 6 7 8; do
	mkdir "$Q/seg#$n" && put "$Q/seg#$n/w.json" '{"level": 0}' || fail "seg#$n"
done
ALL=$(ls -U "$Q/_query?" | sort)
S0=$(ls -U "$Q/_query?segment=0%2F3")
S1=$(ls -U "$Q/_query?segment=1%2F3")
S2=$(ls -U "$Q/_query?segment=2%2F3")
expect_lines "union = table" "$(printf '%s\n%s\n%s\n' "$S0" "$S1" "$S2" | grep -v '^$' | sort)" "$ALL"
expect_eq "disjoint" "$(printf '%s\n%s\n%s\n' "$S0" "$S1" "$S2" | grep -v '^$' | sort | uniq -d)" ""
NONEMPTY=0
for s in "$S0" "$S1" "$S2"; do
	[ -n "$s" ] && NONEMPTY=$((NONEMPTY + 1))
done
[ "$NONEMPTY" -ge 2 ] || fail "73 items in 12 partitions, all in one segment"
expect_eq "segment counts add up" \
	"$(($(cat "$Q/_query?segment=0%2F3&as=count") + $(cat "$Q/_query?segment=1%2F3&as=count") + $(cat "$Q/_query?segment=2%2F3&as=count")))" \
	"$(cat "$Q/_query?as=count")"
expect_eq "a partition stays in one segment" \
	"$(printf '%s\n' "$S0" "$S1" "$S2" | grep -c '^bulk#1~')" 60
expect_eq "segment + filter" "$(cat "$Q/_query?segment=0%2F1&filter=level = 0&as=count")" 8

section "a scan of a whole index"
IW=$Q/_index/id-week-index
expect_eq "index key order" "$(q "$IW" 'filter=level > 1' | tr ' ' '\n' | head -4 | tr '\n' ' ')" \
	"felienne#3~2022-08.json felienne#3~2022-09.json felienne#3~2022-10.json student123#9~2023-23.json "
expect_eq "count = all entries" "$(cat "$IW/_query?as=count")" \
	"$(find "$IW" -mindepth 2 -type l | wc -l)"
expect_lines "pages of 9" "$(walk "$IW" '' 9)" "$(ls -U "$IW/_query?")"
expect_eq "segments add up" \
	"$(($(cat "$IW/_query?segment=0%2F2&as=count") + $(cat "$IW/_query?segment=1%2F2&as=count")))" \
	"$(cat "$IW/_query?as=count")"
expect_eq "entries link to the items" "$(readlink "$IW/_query?limit=1/bulk#1~2024-01.json")" \
	"../../../bulk#1/2024-01.json"
expect_eq "jsonl" "$(head -1 "$IW/_query?as=jsonl" | jq -c '[.id, .week]')" '["bulk","2024-01"]'

section "malformed queries: EINVAL and a line in /_errors"
# bad DIR PARAMS REASON-REGEX
bad() {
	errors_mark
	expect_fail "[$2]" "Invalid argument" ls -d -- "$1/_query?$2"
	local new
	new=$(tail -n +$((ERRORS_AT + 1)) "$MNT/_errors")
	grep -qF -- "_query?$2: " <<<"$new" || fail "[$2]: no /_errors line for it: [$new]"
	grep -Eq -- "$3" <<<"$new" || fail "[$2]: the /_errors line does not say [$3]: [$new]"
}
PI=$P/_index/username-index/hedy
bad "$F" 'bogus=1' 'unknown parameter "bogus"'
bad "$F" 'ge=a&gt=b' 'ge and gt: two lower bounds'
bad "$F" 'lt=a&le=b' 'lt and le: two upper bounds'
bad "$F" 'eq=a&lt=b' 'eq and lt: two upper bounds'
bad "$PI" 'ge=17e' 'ge=17e: not a number \(sort key date is of type N\)'
bad "$F" 'eq=%zz' 'eq: bad percent-encoding'
bad "$F" 'eq=100%' 'bad percent-encoding'
bad "$F" 'limit=0' 'limit=0: not a positive integer'
bad "$F" 'limit=-3' 'not a positive integer'
bad "$F" 'limit=ten' 'not a positive integer'
bad "$F" 'order=sideways' 'order is asc or desc'
bad "$Q" 'segment=3%2F3' 'segment=3%2F3: write I%2FN'
bad "$Q" 'segment=a%2Fb' 'write I%2FN'
bad "$F" 'segment=0%2F2' 'segments split a scan'
bad "$Q" 'segment=1' 'a file name cannot hold a /'
bad "$PI" 'prefix=17' 'begins_with needs a sort key of type S or B'
bad "$F" 'filter=finished =' 'filter: '
bad "$F" 'as=csv' 'as is jsonl, json or count'
bad "$F" 'limit=1&limit=2' 'limit given twice'
bad "$Q" 'ge=x' 'scan'
bad "$Q" 'order=desc' 'a scan .* key order'
bad "$Q/_index/id-week-index" 'prefix=x' 'is a scan'
bad "$F" 'after=nope' 'not the name of an entry here'
bad "$F" 'ge=b&le=a' 'lower bound ge=b is above the upper bound le=a'
bad "$F" 'limit' 'has no value'
bad "$F" 'limit=1&' 'empty parameter'
expect_fail "a malformed as= file" "Invalid argument" cat "$F/_query?as=count&limit=0"

section "freshness: a query after a change sees the change"
expect_eq "before" "$(cat "$F/_query?filter=finished = 1&as=count")" 2
put "$F/2022-11.json" '{"id": "felienne", "level": 3, "finished": 1}'
expect_eq "a new item" "$(cat "$F/_query?filter=finished = 1&as=count")" 3
expect_eq "in the listing" "$(q "$F" 'filter=finished = 1')" "2022-09.json 2022-10.json 2022-11.json "
put "$F/2022-09.json" '{"id": "felienne", "level": 3, "finished": 0}'
expect_eq "an item that stopped matching" "$(q "$F" 'filter=finished = 1')" "2022-10.json 2022-11.json "
expect_eq "its count" "$(cat "$F/_query?filter=finished = 1&as=count")" 2
expect_eq "its jsonl" "$(jq -r .week "$F/_query?filter=finished = 1&as=jsonl" | tr '\n' ' ')" "2022-10 2022-11 "
rm "$F/2022-11.json" || fail "rm"
expect_eq "a deleted item" "$(q "$F" 'filter=finished = 1')" "2022-10.json "
expect_fail "its entry is gone" "No such file" cat "$F/_query?filter=finished = 1/2022-11.json"
exec 7<"$F/_query?as=count" || fail "open"
put "$F/2022-12.json" '{"level": 3}'
expect_eq "an open query file keeps its snapshot" "$(cat <&7)" 3
exec 7<&-
expect_eq "a new open sees the change" "$(cat "$F/_query?as=count")" 4
put "$F/2022-13.json" '{"id": "felienne", "level": 3}'
expect_eq "an index partition query too" "$(cat "$Q/_index/id-week-index/felienne/_query?as=count")" \
	"$(ls -U "$Q/_index/id-week-index/felienne" | wc -l)"
expect_eq "which counts the new item" "$(cat "$Q/_index/id-week-index/felienne/_query?as=count")" 4

section "never listed; read-only"
expect_eq "partition" "$(ls -a "$F" | grep -c query)" 0
expect_eq "table" "$(ls -a "$Q" | grep -c query)" 0
expect_eq "index partition" "$(ls -a "$Q/_index/id-week-index/felienne" | grep -c query)" 0
expect_eq "find" "$(find "$MNT" -name '_query*' | wc -l)" 0
expect_fail "touch in a query directory" "$RO" touch "$F/_query?ge=2022/new.json"
expect_fail "rm of a query entry" "$RO" rm "$F/_query?ge=2022/2022-10.json"
expect_eq "the item is still there" "$(jq -r .week "$F/2022-10.json")" 2022-10
expect_fail "mkdir in a query directory" "$RO" mkdir "$F/_query?ge=2022/x"
expect_fail "write a query file" "$RO" sh -c "echo 1 > '$F/_query?as=count'"
expect_fail "rmdir a query" "$RO" rmdir "$F/_query?ge=2022"
expect_fail "rm a query" "$RO" rm -f "$F/_query?as=count"
expect_fail "mv into a query" "$RO" mv "$F/2022-10.json" "$F/_query?ge=2022/2022-10.json"
expect_fail "a query file is no directory" "Not a directory" ls "$F/_query?as=count/x"

section "large results stream"
mkdir "$Q/big#1" || die "mkdir big#1"
for w in $(seq -w 1 3000); do
	printf '{"n": %d}\n' "$((10#$w))" >"$Q/big#1/$w.json" || fail "put $w"
done
expect_eq "3000 entries" "$(ls -U "$Q/big#1/_query?" | wc -l)" 3000
expect_eq "each once, in order" "$(ls -U "$Q/big#1/_query?" | sort -c && ls -U "$Q/big#1/_query?" | uniq | wc -l)" 3000
expect_eq "limit across readdir pages" "$(ls -U "$Q/big#1/_query?limit=2500" | wc -l)" 2500
expect_eq "desc across pages" "$(ls -U "$Q/big#1/_query?order=desc&limit=2200" | tail -1)" "0801.json"
expect_eq "a filter across pages" "$(ls -U "$Q/big#1/_query?filter=n > 1000 and n <= 2999" | wc -l)" 1999
expect_eq "count" "$(cat "$Q/big#1/_query?filter=n > 1000&as=count")" 2000

unmount
done_test
