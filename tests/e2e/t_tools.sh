# t_tools.sh - everyday Unix tools on items (SPEC §2 names and order,
# §5 "Item files"): ls -U, cp, mv, rm, mkdir -p, rmdir, find, grep, jq
# pipelines, shell redirections (including the `sort x > x` mistake and
# noclobber), sed -i, perl -pi, rsync in and out, tar -x, xargs, touch,
# wc -c against st_size.
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

mount_fresh -o xattr # scratch files' xattrs are opt-in; the remount below has none
make_table users "$USERS_SCHEMA"
make_table quiz-stats "$QUIZ_SCHEMA"
U=$MNT/users
Q=$MNT/quiz-stats
QK=("id#level" week)

# The design notes' rows.  Key attributes may be stated (agreeing with
# the path) or left out (they come from the path).
put "$U/hedy.json" '{"username": "hedy", "email": "hedy@hedy.org", "created": 1681239902406}'
put "$U/felienne.json" '{"email": "felienne@felienne.com", "created": 1637851898173}'
put "$U/student123.json" '{"created": 1700126054884, "email": "st123@school.com"}'
for p in "hedy#1" "felienne#3" "student123#9"; do
	mkdir "$Q/$p" || die "mkdir partition $p failed"
done
put "$Q/hedy#1/2023-31.json" '{"id": "hedy", "level": 1, "finished": 1, "scores": {"$NS": [60]}}'
put "$Q/felienne#3/2022-08.json" '{"id": "felienne", "level": 3, "finished": 0}'
put "$Q/felienne#3/2022-09.json" '{"id#level": "felienne#3", "week": "2022-09", "id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [95]}}'
put "$Q/felienne#3/2022-10.json" '{"id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [100]}}'
put "$Q/student123#9/2023-23.json" '{"id": "student123", "level": 9, "finished": 1, "scores": {"$NS": [80, 40]}}'

HEDY='{"username":"hedy","created":1681239902406,"email":"hedy@hedy.org"}'
F09='{"id#level":"felienne#3","week":"2022-09","finished":1,"id":"felienne","level":3,"scores":{"$NS":[95]}}'
ITEMS="$Q/felienne#3/2022-08.json
$Q/felienne#3/2022-09.json
$Q/felienne#3/2022-10.json
$Q/hedy#1/2023-31.json
$Q/student123#9/2023-23.json
$U/felienne.json
$U/hedy.json
$U/student123.json"

section "items read back canonical, key attributes from the path"
expect_item "hedy" "$U/hedy.json" "$HEDY" username
expect_item "felienne" "$U/felienne.json" \
	'{"username":"felienne","created":1637851898173,"email":"felienne@felienne.com"}' username
expect_item "felienne#3/2022-08" "$Q/felienne#3/2022-08.json" \
	'{"id#level":"felienne#3","week":"2022-08","finished":0,"id":"felienne","level":3}' "${QK[@]}"
expect_item "felienne#3/2022-09" "$Q/felienne#3/2022-09.json" "$F09" "${QK[@]}"
expect_item "student123#9/2023-23 (set elements sorted)" "$Q/student123#9/2023-23.json" \
	'{"id#level":"student123#9","week":"2023-23","finished":1,"id":"student123","level":9,"scores":{"$NS":[40,80]}}' "${QK[@]}"

section "ls -U lists in key order"
expect_key_order "ls -U users" "$(listing "$U" | tr '\n' ' ')" "felienne.json hedy.json student123.json "
expect_eq "ls -U quiz-stats" "$(listing "$Q" | tr '\n' ' ')" "felienne#3 hedy#1 student123#9 "
expect_eq "ls -U felienne#3" "$(listing "$Q/felienne#3" | tr '\n' ' ')" "2022-08.json 2022-09.json 2022-10.json "
make_table nums '{"partition_key":{"name":"n","type":"N"},"indexes":[]}'
for n in 10 9 100 -1.5 0.25; do
	put "$MNT/nums/$n.json" '{"x": true}'
done
expect_key_order "ls -U on an N key (numeric order)" "$(listing "$MNT/nums" | tr '\n' ' ')" \
	"-1.5.json 0.25.json 9.json 10.json 100.json "
expect_item "N key item" "$MNT/nums/0.25.json" '{"n":0.25,"x":true}' n

section "names: UTF-8, upper case, percent-encoded"
put "$U/café.json" '{"email": "cafe@example.org"}'
put "$U/Zed.json" '{}'
put "$U/a%2Fb.json" '{}'
expect_item "UTF-8 name" "$U/café.json" '{"username":"café","email":"cafe@example.org"}' username
expect_item "percent-encoded name" "$U/a%2Fb.json" '{"username":"a/b"}' username
expect_key_order "ls -U: byte order" "$(listing "$U" | tr '\n' ' ')" \
	"Zed.json a%2Fb.json café.json felienne.json hedy.json student123.json "
expect_ok "rm the name tests" rm "$U/café.json" "$U/Zed.json" "$U/a%2Fb.json"

section "wc -c equals st_size"
while read -r f; do
	expect_eq "wc -c vs stat -c %s of $f" "$(wc -c <"$f")" "$(stat -c %s "$f")"
done <<<"$ITEMS"

section "find -name, find -type, find -newer"
expect_lines "find -name '*.json'" "$(find "$MNT/users" "$MNT/quiz-stats" -name '*.json' ! -name '_*' | sort)" \
	"$(sort <<<"$ITEMS")"
expect_eq "find -type d" "$(find "$Q" -mindepth 1 -type d ! -name '_*' | sort | tr '\n' ' ')" \
	"$Q/felienne#3 $Q/hedy#1 $Q/student123#9 "
sleep 1.1
touch "$T/ref"
sleep 1.1
put "$Q/felienne#3/2022-10.json" '{"id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [100, 90]}}'
expect_eq "find -newer" "$(find "$MNT/users" "$MNT/quiz-stats" -newer "$T/ref" -name '*.json' ! -name '_*')" \
	"$Q/felienne#3/2022-10.json"

section "grep -r, grep -rl"
if ! grep -r felienne@felienne.com "$U" >"$T/out" 2>"$T/err"; then
	fail "grep -r over a table: exit status $?, stderr: $(cat "$T/err")"
fi
expect_eq "grep -r stderr" "$(cat "$T/err")" ""
expect_eq "grep -r output" "$(cat "$T/out")" "$U/felienne.json:  \"email\": \"felienne@felienne.com\""
expect_lines "grep -rl over a table" "$(grep -rl '"finished": 1' "$Q" 2>&1 | sort)" \
	"$(printf '%s\n' "$Q/felienne#3/2022-09.json" "$Q/felienne#3/2022-10.json" \
		"$Q/hedy#1/2023-31.json" "$Q/student123#9/2023-23.json")"
expect_eq "grep -c in an item" "$(grep -c '"level": 3' "$Q/felienne#3/2022-09.json")" 1

section "jq pipelines"
expect_eq "jq -r .email" "$(jq -r .email "$U/hedy.json")" "hedy@hedy.org"
expect_eq "jq -s over a partition" "$(jq -s 'map(.scores["$NS"] // [] | length) | add' "$Q/felienne#3"/*.json)" 3
jq '.level = 5' "$Q/felienne#3/2022-09.json" >"$Q/felienne#3/2022-09.json"
expect_item "jq '.level = 5' x > x updates from the old content" "$Q/felienne#3/2022-09.json" \
	"${F09/\"level\":3/\"level\":5}" "${QK[@]}"
jq '.level = 3' "$Q/felienne#3/2022-09.json" >"$Q/felienne#3/.2022-09.json.tmp" &&
	mv "$Q/felienne#3/.2022-09.json.tmp" "$Q/felienne#3/2022-09.json"
expect_item "jq > scratch in the partition && mv" "$Q/felienne#3/2022-09.json" "$F09" "${QK[@]}"
jq '.email = "hedy@example.org"' "$U/hedy.json" >"$T/hedy.tmp" && mv "$T/hedy.tmp" "$U/hedy.json"
expect_item "jq > /tmp file && mv (across file systems)" "$U/hedy.json" \
	"${HEDY/hedy@hedy.org/hedy@example.org}" username
jq '.email = "hedy@hedy.org"' "$U/hedy.json" >"$T/hedy.tmp" && cat "$T/hedy.tmp" >"$U/hedy.json"
expect_item "jq > tmp; cat tmp > item" "$U/hedy.json" "$HEDY" username
expect_no_scratch "jq" "$U"
expect_no_scratch "jq" "$Q/felienne#3"

section "sort x.json > x.json fails validation and leaves the item alone"
errors_mark
expect_fail "sort hedy.json > hedy.json" "Invalid argument" bash -c 'sort "$1" >"$1"' _ "$U/hedy.json"
expect_item "after sort > item" "$U/hedy.json" "$HEDY" username
expect_error_line "sort > item" hedy.json

section "an empty write to an existing item is rejected"
errors_mark
: >"$U/hedy.json"
expect_item "after : > item" "$U/hedy.json" "$HEDY" username
expect_error_line ": > item" hedy.json

section "an append (two JSON documents) is rejected"
errors_mark
echo '{"email": "x@y.z"}' >>"$U/hedy.json"
expect_item "after >> item" "$U/hedy.json" "$HEDY" username
expect_error_line ">> item" hedy.json

section "truncate -s 0 is rejected"
errors_mark
expect_fail "truncate -s 0 item" "Invalid argument" truncate -s 0 "$U/hedy.json"
expect_item "after truncate -s 0" "$U/hedy.json" "$HEDY" username

section "a key attribute that disagrees with the path is rejected"
errors_mark
expect_fail "cp of a file naming another key" "Invalid argument" \
	bash -c 'echo "{\"username\": \"other\", \"email\": \"o@x\"}" >"$T/other.json" && cp "$T/other.json" "$1"' _ "$U/hedy.json"
expect_item "after a disagreeing key" "$U/hedy.json" "$HEDY" username
expect_error_line "disagreeing key" hedy.json
expect_fail "disagreeing sort key" "Invalid argument" \
	cp <(echo '{"week": "1999-01"}') "$Q/felienne#3/2022-09.json"
expect_item "after a disagreeing sort key" "$Q/felienne#3/2022-09.json" "$F09" "${QK[@]}"

section "an item over 400 KB is rejected with EFBIG"
perl -e 'print "{\"big\": \"", "x" x 420000, "\"}\n"' >"$T/big.json"
errors_mark
expect_fail "cp a 420 KB item" "File too large" cp "$T/big.json" "$U/hedy.json"
expect_item "after a too large write" "$U/hedy.json" "$HEDY" username
expect_error_line "too large" hedy.json
expect_fail "cp a 420 KB new item" "File too large" cp "$T/big.json" "$U/big.json"
expect_eq "no item after a too large create" "$(listing "$U" | grep -c '^big')" 0

section "noclobber and O_EXCL"
expect_fail "noclobber > existing item" "cannot overwrite existing file" \
	bash -c 'set -o noclobber; echo "{}" >"$1"' _ "$U/hedy.json"
expect_item "after noclobber" "$U/hedy.json" "$HEDY" username
expect_fail "O_EXCL create of an existing item" "File exists" \
	perl -e 'use Fcntl; sysopen(F, $ARGV[0], O_WRONLY|O_CREAT|O_EXCL) or die "$!\n"' "$U/hedy.json"
expect_item "after O_EXCL" "$U/hedy.json" "$HEDY" username
expect_ok "noclobber > new item" bash -c 'set -o noclobber; echo "{\"email\": \"a@b.c\"}" >"$1"' _ "$U/newbie.json"
expect_item "noclobber new item" "$U/newbie.json" '{"username":"newbie","email":"a@b.c"}' username

section "touch"
expect_ok "touch new item" touch "$U/zed.json"
expect_item "touch creates a key-only item" "$U/zed.json" '{"username":"zed"}' username
expect_ok "touch new item in a partition" touch "$Q/hedy#1/2023-32.json"
expect_item "touch creates a key-only item (sort key)" "$Q/hedy#1/2023-32.json" \
	'{"id#level":"hedy#1","week":"2023-32"}' "${QK[@]}"
expect_ok "touch existing item" touch "$U/hedy.json"
expect_item "touch leaves an existing item alone" "$U/hedy.json" "$HEDY" username

section "cp in and out"
printf '{"email": "ada@example.org"}\n' >"$T/ada.json"
expect_ok "cp into a table" cp "$T/ada.json" "$U/ada.json"
expect_item "cp in" "$U/ada.json" '{"username":"ada","email":"ada@example.org"}' username
printf '{"email": "grace@example.org", "created": 1}\n' >"$T/grace.json"
touch -d '2021-02-03 04:05:06' "$T/grace.json"
expect_ok "cp -p into a table" cp -p "$T/grace.json" "$U/grace.json"
expect_item "cp -p in" "$U/grace.json" '{"username":"grace","created":1,"email":"grace@example.org"}' username
printf '{"email": "ada@ada.org"}\n' >"$T/ada2.json"
expect_ok "cp onto an existing item" cp "$T/ada2.json" "$U/ada.json"
expect_item "cp over" "$U/ada.json" '{"username":"ada","email":"ada@ada.org"}' username
expect_ok "cp out" cp "$U/hedy.json" "$T/hedy.out"
expect_ok "cp out is what cat shows" cmp "$T/hedy.out" <(cat "$U/hedy.json")
expect_ok "cp -p out" cp -p "$U/hedy.json" "$T/hedy.p"
expect_ok "cp -p out is what cat shows" cmp "$T/hedy.p" <(cat "$U/hedy.json")
expect_eq "cp -p out keeps mtime" "$(stat -c %Y "$T/hedy.p")" "$(stat -c %Y "$U/hedy.json")"
expect_ok "cp -r a partition out" cp -r "$Q/felienne#3" "$T/f3"
expect_ok "cp -r out: diff -r" diff -r "$Q/felienne#3" "$T/f3"
expect_no_scratch "cp" "$U"

# the copies state their keys (id#level felienne#3), so they cannot go
# into another partition; files without key attributes can
expect_fail "cp -r items of one partition into another" "Invalid argument" cp -r "$T/f3" "$Q/copy#3"
expect_eq "cp -r with disagreeing keys: no items" "$(listing "$Q/copy#3" 2>&1 | tr '\n' ' ')" ""
mkdir "$T/keyless"
printf '{"finished": 1}\n' >"$T/keyless/2024-01.json"
printf '{"finished": 0}\n' >"$T/keyless/2024-02.json"
expect_ok "cp -r a directory in as a new partition" cp -r "$T/keyless" "$Q/copy#4"
expect_eq "cp -r in: items" "$(listing "$Q/copy#4" | tr '\n' ' ')" "2024-01.json 2024-02.json "
expect_item "cp -r in: item" "$Q/copy#4/2024-02.json" '{"id#level":"copy#4","week":"2024-02","finished":0}' "${QK[@]}"
expect_ok "rm -r the copied partitions" rm -r "$Q/copy#3" "$Q/copy#4"

section "mv renames items (the key follows the name)"
if lacks tx "mv of items (the key follows the name)"; then
	# the state those renames leave, made without them
	put "$Q/hedy#1/2022-11.json" '{"finished":1,"id":"felienne","level":3,"scores":{"$NS":[90,100]}}'
	put "$Q/hedy#1/2020-01.json" '{"email":"ada@ada.org","username":"grace"}'
	expect_ok "the items the renames remove" rm "$U/ada.json" "$U/grace.json" "$Q/felienne#3/2022-10.json"
else
	expect_ok "mv item" mv "$U/ada.json" "$U/ada2.json"
	expect_fail "old name gone after mv" "No such file" cat "$U/ada.json"
	expect_item "mv within a table" "$U/ada2.json" '{"username":"ada2","email":"ada@ada.org"}' username
	expect_ok "mv item in a partition" mv "$Q/felienne#3/2022-10.json" "$Q/felienne#3/2022-11.json"
	expect_item "mv changes the sort key" "$Q/felienne#3/2022-11.json" \
		'{"id#level":"felienne#3","week":"2022-11","finished":1,"id":"felienne","level":3,"scores":{"$NS":[90,100]}}' "${QK[@]}"
	expect_ok "mv item to another partition" mv "$Q/felienne#3/2022-11.json" "$Q/hedy#1/2022-11.json"
	expect_item "mv changes the partition key" "$Q/hedy#1/2022-11.json" \
		'{"id#level":"hedy#1","week":"2022-11","finished":1,"id":"felienne","level":3,"scores":{"$NS":[90,100]}}' "${QK[@]}"
	expect_eq "felienne#3 after mv out" "$(listing "$Q/felienne#3" | tr '\n' ' ')" "2022-08.json 2022-09.json "
	expect_ok "mv onto an existing item" mv "$U/ada2.json" "$U/grace.json"
	expect_item "mv over an item" "$U/grace.json" '{"username":"grace","email":"ada@ada.org"}' username
	expect_eq "ada2 gone after mv over" "$(listing "$U" | grep -c '^ada')" 0
	expect_ok "mv item to another table" mv "$U/grace.json" "$Q/hedy#1/2020-01.json"
	expect_item "mv across tables (copy fallback)" "$Q/hedy#1/2020-01.json" \
		'{"id#level":"hedy#1","week":"2020-01","email":"ada@ada.org","username":"grace"}' "${QK[@]}"
	expect_eq "grace gone after mv across tables" "$(listing "$U" | grep -c '^grace')" 0
fi

printf '{"email": "bob@example.org"}\n' >"$U/.bob.tmp"
expect_ok "mv scratch onto an item name" mv "$U/.bob.tmp" "$U/bob.json"
expect_item "scratch renamed to an item" "$U/bob.json" '{"username":"bob","email":"bob@example.org"}' username
expect_fail "rename(2) of an item onto a scratch name" "Invalid cross-device link" \
	perl -e 'rename($ARGV[0], $ARGV[1]) or die "$!\n"' "$U/bob.json" "$U/bob.json.bak"
expect_item "item after a refused rename" "$U/bob.json" '{"username":"bob","email":"bob@example.org"}' username
expect_fail "rename(2) of an item into another table" "Invalid cross-device link" \
	perl -e 'rename($ARGV[0], $ARGV[1]) or die "$!\n"' "$U/bob.json" "$MNT/nums/7.json"
expect_item "item after a refused cross-table rename" "$U/bob.json" '{"username":"bob","email":"bob@example.org"}' username
errors_mark
printf '{"email": \n' >"$U/.bad.tmp"
expect_fail "rename(2) of invalid scratch onto an item" "Invalid argument" \
	perl -e 'rename($ARGV[0], $ARGV[1]) or die "$!\n"' "$U/.bad.tmp" "$U/bob.json"
expect_item "item after a rejected rename" "$U/bob.json" '{"username":"bob","email":"bob@example.org"}' username
expect_error_line "rejected rename" bob.json
# mv reports rename's EINVAL as "cannot move ... to a subdirectory of itself"
expect_fail "mv invalid scratch onto an item" "cannot move" mv "$U/.bad.tmp" "$U/bob.json"
expect_item "item after a rejected mv" "$U/bob.json" '{"username":"bob","email":"bob@example.org"}' username
rm -f "$U/.bad.tmp"

section "rm"
expect_ok "rm item" rm "$U/student123.json"
expect_fail "cat after rm" "No such file" cat "$U/student123.json"
expect_fail "rm of a missing item" "No such file" rm "$U/student123.json"
expect_key_order "users after rm" "$(listing "$U" | tr '\n' ' ')" \
	"bob.json felienne.json hedy.json newbie.json zed.json "

section "mkdir -p, rmdir, rm -r"
expect_ok "mkdir -p partition" mkdir -p "$Q/ada#1"
expect_ok "mkdir -p existing partition" mkdir -p "$Q/ada#1"
put "$Q/ada#1/2024-01.json" '{"finished": 1}'
put "$Q/ada#1/2024-02.json" '{"finished": 0}'
expect_item "item in mkdir'd partition" "$Q/ada#1/2024-01.json" \
	'{"id#level":"ada#1","week":"2024-01","finished":1}' "${QK[@]}"
expect_ok "mkdir -p partition and write" bash -c 'mkdir -p "$1" && echo "{}" >"$1/2024-05.json"' _ "$Q/new#7"
expect_item "mkdir -p + echo" "$Q/new#7/2024-05.json" '{"id#level":"new#7","week":"2024-05"}' "${QK[@]}"
expect_fail "mkdir existing table" "File exists" mkdir "$U"
expect_ok "mkdir empty partition" mkdir "$Q/empty#1"
expect_ok "rmdir empty partition" rmdir "$Q/empty#1"
expect_fail "stat after rmdir" "No such file" stat "$Q/empty#1"
expect_fail "rmdir non-empty partition" "Directory not empty" rmdir "$Q/ada#1"
expect_fail "rmdir non-empty table" "Directory not empty" rmdir "$U"
expect_ok "rm -r partition" rm -r "$Q/ada#1"
expect_fail "partition after rm -r" "No such file" stat "$Q/ada#1"
expect_ok "mkdir empty table" mkdir "$MNT/scratch-table"
expect_ok "rmdir empty table" rmdir "$MNT/scratch-table"
expect_eq "tables" "$(ls "$MNT" | grep -v '^_' | tr '\n' ' ')" "nums quiz-stats users "

section "sed -i and perl -pi"
f="$Q/felienne#3/2022-08.json"
expect_ok "sed -i" sed -i 's/"level": 3/"level": 7/' "$f"
expect_item "sed -i" "$f" '{"id#level":"felienne#3","week":"2022-08","finished":0,"id":"felienne","level":7}' "${QK[@]}"
expect_ok "perl -pi" perl -pi -e 's/"finished": 0/"finished": 1/' "$f"
expect_item "perl -pi" "$f" '{"id#level":"felienne#3","week":"2022-08","finished":1,"id":"felienne","level":7}' "${QK[@]}"
expect_ok "sed -i on a table without sort key" sed -i 's/hedy@hedy.org/hedy@hedy.nl/' "$U/hedy.json"
expect_item "sed -i users" "$U/hedy.json" "${HEDY/hedy@hedy.org/hedy@hedy.nl}" username
errors_mark
if sed -i 's/^{/[/' "$U/hedy.json" 2>"$T/err"; then
	fail "sed -i producing invalid JSON succeeded"
fi
expect_item "item after a rejected sed -i" "$U/hedy.json" "${HEDY/hedy@hedy.org/hedy@hedy.nl}" username
expect_error_line "rejected sed -i" hedy.json
rm -f "$U"/sed* 2>/dev/null
expect_no_scratch "sed/perl" "$Q/felienne#3"

section "rsync -a into a partition and out of it"
mkdir -p "$T/src"
for i in 1 2 3 4 5; do
	printf '{"finished": 1, "scores": {"$NS": [%d]}}\n' "$((i * 10))" >"$T/src/2023-0$i.json"
done
expect_ok "rsync -a in" rsync -a "$T/src/" "$Q/rs#2/"
for i in 1 2 3 4 5; do
	expect_item "rsync in, item $i" "$Q/rs#2/2023-0$i.json" \
		"{\"id#level\":\"rs#2\",\"week\":\"2023-0$i\",\"finished\":1,\"scores\":{\"\$NS\":[$((i * 10))]}}" "${QK[@]}"
done
expect_eq "rsync in: items" "$(listing "$Q/rs#2" | tr '\n' ' ')" \
	"2023-01.json 2023-02.json 2023-03.json 2023-04.json 2023-05.json "
expect_ok "rsync -a in again" rsync -a "$T/src/" "$Q/rs#2/"
put "$Q/rs#2/2099-01.json" '{"extra": true}'
expect_ok "rsync -a --delete in" rsync -a --delete "$T/src/" "$Q/rs#2/"
expect_eq "rsync --delete removed the extra item" "$(listing "$Q/rs#2" | tr '\n' ' ')" \
	"2023-01.json 2023-02.json 2023-03.json 2023-04.json 2023-05.json "
expect_ok "rsync -a out" rsync -a "$Q/rs#2/" "$T/rsout/"
expect_ok "rsync out: diff -r" diff -r "$Q/rs#2" "$T/rsout"
expect_no_scratch "rsync" "$Q/rs#2"

section "tar -x into a partition"
expect_ok "tar -c" tar -cf "$T/items.tar" -C "$T/src" .
expect_ok "mkdir partition for tar" mkdir "$Q/tar#1"
expect_ok "tar -x" tar -xf "$T/items.tar" -C "$Q/tar#1"
for i in 1 2 3 4 5; do
	expect_item "tar -x, item $i" "$Q/tar#1/2023-0$i.json" \
		"{\"id#level\":\"tar#1\",\"week\":\"2023-0$i\",\"finished\":1,\"scores\":{\"\$NS\":[$((i * 10))]}}" "${QK[@]}"
done
expect_ok "tar -x again over existing items" tar -xf "$T/items.tar" -C "$Q/tar#1"
expect_eq "tar -x: items" "$(listing "$Q/tar#1" | tr '\n' ' ')" \
	"2023-01.json 2023-02.json 2023-03.json 2023-04.json 2023-05.json "
expect_ok "tar -c of a partition" tar -cf "$T/out.tar" -C "$Q/tar#1" .
expect_eq "tar -c of a partition: members" "$(tar -tf "$T/out.tar" | sort | tr '\n' ' ')" \
	"./ ./2023-01.json ./2023-02.json ./2023-03.json ./2023-04.json ./2023-05.json "

section "xargs"
expect_eq "ls | xargs -n1 cat | jq -s length" \
	"$(cd "$Q/tar#1" && ls | xargs -n1 cat | jq -s length)" 5
expect_eq "find -print0 | xargs -0 jq" \
	"$(find "$Q" -name '*.json' ! -name '_*' -print0 | xargs -0 jq -r '.["id#level"]' | sort -u | tr '\n' ' ')" \
	"felienne#3 hedy#1 new#7 rs#2 student123#9 tar#1 "

section "walking the whole tree: find, ls -laR, du, grep -r"
for cmd in "find $MNT" "ls -laR $MNT" "du -s $MNT" "grep -r no-such-text $MNT"; do
	$cmd >"$T/out" 2>"$T/err"
	rc=$?
	[ "$cmd" != "grep -r no-such-text $MNT" ] || rc=$((rc == 1 ? 0 : rc))
	[ "$rc" -eq 0 ] || fail "$cmd: exit status $rc"
	expect_eq "$cmd: stderr" "$(head -5 "$T/err")" ""
done

section "every item is canonical and wc -c equals st_size"
find "$MNT/users" "$MNT/quiz-stats" -name '*.json' ! -name '_*' >"$T/all"
while read -r f; do
	case $f in
	"$U"/*) expect_canonical "final" "$f" username ;;
	*) expect_canonical "final" "$f" "${QK[@]}" ;;
	esac
	expect_eq "wc -c vs stat -c %s of $f" "$(wc -c <"$f")" "$(stat -c %s "$f")"
done <"$T/all"

section "scratch files: chmod, symlinks, xattrs (-o xattr), like tmpfs"
S="$Q/felienne#3"
printf 'not json\n' >"$S/.scratch.tmp" || fail "creating a scratch file failed"
expect_ok "chmod scratch" chmod 600 "$S/.scratch.tmp"
expect_eq "scratch mode" "$(stat -c %a "$S/.scratch.tmp")" 600
expect_ok "chown scratch" chown 1:1 "$S/.scratch.tmp"
expect_eq "scratch owner" "$(stat -c %u:%g "$S/.scratch.tmp")" 1:1
expect_ok "symlink scratch (emacs lock style)" ln -s "root@host.1234:1700000000" "$S/.#2022-09.json"
expect_eq "readlink scratch" "$(readlink "$S/.#2022-09.json")" "root@host.1234:1700000000"
expect_ok "setxattr on scratch" python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.test", b"v1")' "$S/.scratch.tmp"
expect_eq "getxattr on scratch" "$(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.test").decode())' "$S/.scratch.tmp" 2>&1)" v1
expect_eq "scratch content" "$(cat "$S/.scratch.tmp")" "not json"

section "after a remount: every item as it was, scratch files gone"
sort "$T/all" | while read -r f; do
	echo "== $f"
	cat "$f"
done >"$T/before" 2>&1
unmount
mount_store
sort "$T/all" | while read -r f; do
	echo "== $f"
	cat "$f"
done >"$T/after" 2>&1
expect_ok "items after remount" diff "$T/before" "$T/after"
expect_eq "scratch files after remount" "$(ls -A "$S" | grep -v '\.json$')" ""
expect_eq "tables after remount" "$(ls "$MNT" | grep -v '^_' | tr '\n' ' ')" "nums quiz-stats users "

done_test
