# t_batch.sh - /<table>/_batch (SPEC §6): JSON Lines of puts, updates and
# deletes, with real tools.
#
#  - bulk import: `cat dump.jsonl > _batch` of a few thousand users, then
#    `ls | wc -l`, an index, a remount;
#  - every envelope form through printf and jq pipelines; conditions;
#  - a bad line in the middle: the write stops there (short count), the
#    next write fails with EINVAL, the good lines before it are applied,
#    /_errors names the line; a writer that goes on gets the lines after
#    it applied, each once;
#  - the write protocol (batch.c): one write() of 2 MB (several FUSE
#    requests) with a failing condition after the first MiB, through dd
#    and a POSIX writer that resends after short writes and errors: no
#    line applied twice, the count exactly the bytes consumed;
#  - lines split across writes (dd bs=7), a last line without newline;
#  - the summary read back on the same descriptor (exec 3<>_batch);
#  - a table with a sort key (quiz-stats of the design notes).

export LC_ALL=C
# to FILE CMD...: run CMD with stdout redirected to FILE.  Use external
# commands (env printf): bash ignores errors of close() after a builtin.
to() { local f=$1; shift; "$@" >"$f"; }

mount_fresh
U=$MNT/users
mkdir "$U" || fail "mkdir users"
echo '{"partition_key": {"name": "username", "type": "S"}, "indexes": []}' >"$U/_schema.json" ||
	fail "users schema"
# an index, where _schema.json can add one (checked below if it exists)
echo '{"partition_key": {"name": "username", "type": "S"}, "indexes": [{"name": "email-index",
 "partition_key": {"name": "email", "type": "S"}, "projection": "ALL"}]}' >"$U/_schema.json" 2>/dev/null

section "the file"
expect_eq "_batch is listed" "$(ls -a "$U" | grep -c '^_batch$')" 1
expect_eq "_batch is a regular file of size 0" "$(stat -c '%F %s' "$U/_batch")" "regular empty file 0"
expect_eq "_batch prefers writes of 1 MiB (st_blksize)" "$(stat -c %o "$U/_batch")" 1048576
expect_eq "reading an unused descriptor" "$(cat "$U/_batch")" \
	'{"applied": 0, "failed": 0, "errors": []}'

section "bulk import"
N=3000
awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++)
	printf "{\"username\": \"u%05d\", \"email\": \"u%05d@school.com\", \"level\": %d, \"scores\": [%d, %d], \"tags\": {\"$SS\": [\"student\"]}, \"score\": 0.1}\n", i, i, i % 12, i % 100, i % 7 }' \
	>"$T/dump.jsonl"
expect_ok "cat dump.jsonl > _batch" sh -c 'cat "$1" > "$2"' _ "$T/dump.jsonl" "$U/_batch"
expect_eq "ls | wc -l" "$(ls "$U" | grep -v '^_' | wc -l)" $N
expect_eq "an imported item" "$(jq -c . "$U/u00042.json")" \
	'{"username":"u00042","email":"u00042@school.com","level":6,"score":0.1,"scores":[42,0],"tags":{"$SS":["student"]}}'
expect_eq "exact numbers" "$(grep -c '"score": 0.1,' "$U/u00007.json")" 1
if [ -d "$U/_index/email-index" ]; then
	expect_eq "the index has the imported items" \
		"$(ls "$U/_index/email-index" | wc -l)" $N
fi
if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then
	# cat writes in pieces of st_blksize: the whole dump (under 1 MiB) at once
	expect_ok "cat dump.jsonl > _batch again, traced" strace -f -e trace=write \
		-o "$T/cat.trace" sh -c 'cat "$1" > "$2"' _ "$T/dump.jsonl" "$U/_batch"
	expect_eq "cat wrote the dump in one write()" \
		"$(grep -c "^[0-9]* *write(1, .* = $(wc -c <"$T/dump.jsonl")\$" "$T/cat.trace")" 1
	expect_eq "ls | wc -l after the same import again" "$(ls "$U" | grep -v '^_' | wc -l)" $N
fi

section "puts, updates, deletes through printf"
expect_ok "update: add (sugar)" to "$U/_batch" env printf '{"update": {"username": "u00001"}, "add": {"visits": 1}}\n'
expect_ok "update again" to "$U/_batch" env printf '{"update": {"username": "u00001"}, "add": {"visits": 1}}\n'
expect_eq "visits counted" "$(jq .visits "$U/u00001.json")" 2
expect_ok "update of a missing item creates it" to "$U/_batch" \
	env printf '{"update": {"username": "newbie"}, "expr": "ADD visits :one SET #l = :l", "values": {":one": 1, ":l": 3}, "names": {"#l": "level"}}\n'
expect_eq "created by update" "$(jq -c . "$U/newbie.json")" '{"username":"newbie","level":3,"visits":1}'
expect_ok "set/remove/delete_from" to "$U/_batch" \
	env printf '{"update": {"username": "u00003"}, "set": {"email": "three@x"}, "remove": ["scores"], "delete_from": {"tags": {"$SS": ["student"]}}}\n'
expect_eq "updated" "$(jq -c . "$U/u00003.json")" '{"username":"u00003","email":"three@x","level":3,"score":0.1}'
expect_ok "delete" to "$U/_batch" env printf '{"delete": {"username": "u00002"}}\n'
expect_fail "deleted" "No such file" cat "$U/u00002.json"
expect_ok "explicit put" to "$U/_batch" env printf '{"put": {"username": "u00002", "put": true}}\n'
expect_eq "an item with an attribute named put" "$(jq -c . "$U/u00002.json")" '{"username":"u00002","put":true}'

section "conditions"
errors_mark
expect_fail "put if absent of an existing item" "Invalid argument" to "$U/_batch" \
	env printf '{"put": {"username": "u00004", "level": 99}, "if": "attribute_not_exists(username)"}\n'
expect_eq "item unchanged" "$(jq .level "$U/u00004.json")" 4
expect_eq "/_errors says why" "$(new_errors | grep -c '/users/_batch: line 1: condition failed: attribute_not_exists(username)')" 1
expect_ok "conditional update that holds" to "$U/_batch" \
	env printf '{"update": {"username": "u00004"}, "set": {"level": 5}, "if": "level = :l", "values": {":l": 4}}\n'
expect_eq "level 5" "$(jq .level "$U/u00004.json")" 5
expect_fail "conditional delete that does not hold" "Invalid argument" to "$U/_batch" \
	env printf '{"delete": {"username": "u00004"}, "if": "level > 10"}\n'
expect_eq "not deleted" "$(jq .level "$U/u00004.json")" 5
expect_fail "update of a key attribute" "Invalid argument" to "$U/_batch" \
	env printf '{"update": {"username": "u00004"}, "set": {"username": "x"}}\n'
expect_eq "/_errors: key attribute" "$(tail -1 "$MNT/_errors" | grep -c 'Cannot update attribute username')" 1

section "jq pipelines"
expect_ok "jq -c | _batch" sh -c 'jq -c "select(.level == 7) | {update: {username}, set: {level: 8, promoted: true}}" "$1" > "$2"' \
	_ "$T/dump.jsonl" "$U/_batch"
expect_eq "promoted" "$(jq -s 'map(select(.promoted)) | length' "$U"/u0*.json)" "$(awk '/"level": 7,/' "$T/dump.jsonl" | wc -l)"
expect_ok "jq -c deletes" sh -c 'jq -c "select(.level == 11) | {delete: {username}}" "$1" > "$2"' \
	_ "$T/dump.jsonl" "$U/_batch"
expect_eq "deleted by jq" "$(ls "$U" | grep -v '^_' | wc -l)" $((N + 1 - $(grep -c '"level": 11,' "$T/dump.jsonl")))

section "a bad line in the middle"
{
	printf '{"username": "mid1", "n": 1}\n'
	printf '{"username": "mid2", "n": \n'
	printf '{"username": "mid3", "n": 3}\n'
} >"$T/mixed.jsonl"
errors_mark
expect_fail "the write fails" "Invalid argument" sh -c 'cat "$1" > "$2"' _ "$T/mixed.jsonl" "$U/_batch"
expect_eq "the line before is applied" "$(jq .n "$U/mid1.json")" 1
expect_fail "cat stops at the bad line: the line after is not applied" "No such file" \
	cat "$U/mid3.json"
expect_fail "the bad line is not" "No such file" cat "$U/mid2.json"
expect_eq "/_errors names line 2" "$(new_errors | grep -c '/users/_batch: line 2: ')" 1

# A POSIX writer: resend the rest after a short write, go on after an error.
cat >"$T/writer.py" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
data = open(sys.argv[2], "rb").read()
once = len(sys.argv) > 3
counts, errors = [], []
while data:
    try:
        n = os.write(fd, data)
    except OSError as e:
        errors.append(e.errno)
        if len(errors) > 3:
            break
        continue
    counts.append(n)
    data = data[n:]
    if once:
        break
try:
    os.close(fd)
except OSError as e:
    errors.append(e.errno)
print(" ".join(map(str, counts)), "|", " ".join(map(str, errors)))
EOF
errors_mark
expect_eq "a writer that goes on after the error: counts and errors" \
	"$(python3 "$T/writer.py" "$U/_batch" "$T/mixed.jsonl")" "56 29 | 22"
expect_eq "the line after it is applied" "$(jq .n "$U/mid3.json")" 3
expect_eq "/_errors names line 2 once" "$(new_errors | grep -c '/users/_batch: line 2: ')" 1

printf '{"username": "nl", "n": }\n{"username": "nl2"}\n' >"$T/nl.jsonl"
head -1 "$T/nl.jsonl" >"$T/nl1.jsonl"
errors_mark
expect_eq "a bad line ending a write: counted short of its newline, then EINVAL, then the newline" \
	"$(python3 "$T/writer.py" "$U/_batch" "$T/nl1.jsonl")" "25 1 | 22"
expect_eq "/_errors names line 1 once" "$(new_errors | grep -c '/users/_batch: line 1: ')" 1
expect_eq "a bad line with a line after it: counted through its newline" \
	"$(python3 "$T/writer.py" "$U/_batch" "$T/nl.jsonl")" "26 20 | 22"
expect_eq "the line after it" "$(jq -r .username "$U/nl2.json")" nl2
expect_fail "echo of one bad line fails" "Invalid argument" to "$U/_batch" env printf '{"username": "nl3", "n": }\n'

section "the write protocol: one big write, one failing condition after the first MiB"
C=$MNT/counters
mkdir "$C" || fail "mkdir counters"
echo '{"partition_key": {"name": "id", "type": "S"}, "indexes": []}' >"$C/_schema.json" ||
	fail "counters schema"
# 25,000 lines of 80 bytes over 100 items (so lines are grouped); line
# 15,000 (byte 1.2 MB) has a condition that fails: the item exists.
awk 'BEGIN { for (i = 1; i <= 25000; i++) {
	l = sprintf("{\"update\": {\"id\": \"k%02d\"}, \"add\": {\"n\": 1}%s}", i % 100,
		i == 15000 ? ", \"if\": \"attribute_not_exists(id)\"" : "")
	while (length(l) < 79) l = l " "
	print l } }' >"$T/adds.jsonl"
sum() { cat "$C"/k*.json | jq -s 'map(.n) | add'; }
expect_fail "dd bs=4M: one write() of 2 MB" "Invalid argument" \
	dd if="$T/adds.jsonl" of="$C/_batch" bs=4M status=none
expect_eq "dd: every line before the bad one applied once, none after" "$(sum)" 14999
rm -f "$C"/k*.json
expect_eq "one os.write(): the count is the bytes up to the bad line's end" \
	"$(python3 "$T/writer.py" "$C/_batch" "$T/adds.jsonl" once)" "$((15000 * 80)) | 22"
expect_eq "those lines applied once" "$(sum)" 14999
rm -f "$C"/k*.json
errors_mark
expect_eq "a writer that goes on: one short write, one error, the rest" \
	"$(python3 "$T/writer.py" "$C/_batch" "$T/adds.jsonl")" "$((15000 * 80)) $((10000 * 80)) | 22"
expect_eq "every good line applied exactly once" "$(sum)" 24999
expect_eq "/_errors names line 15000 once" "$(new_errors | grep -c '/counters/_batch: line 15000: ')" 1
expect_eq "and no other line" "$(new_errors | grep -c '/counters/_batch: ')" 1

section "lines split across writes"
{
	printf '{"username": "split1", "s": "caf\xc3\xa9 \\u00e9"}\n'
	printf '{"update": {"username": "split1"}, "add": {"n": 5}}\n'
	printf '\n\n{"username": "split2", "list": [1, 2, {"a": [3]}]}\n'
} >"$T/split.jsonl"
expect_ok "dd bs=7" dd if="$T/split.jsonl" of="$U/_batch" bs=7 status=none
expect_eq "split1" "$(jq -c . "$U/split1.json")" '{"username":"split1","n":5,"s":"café é"}'
expect_eq "split2" "$(jq -c .list "$U/split2.json")" '[1,2,{"a":[3]}]'
expect_ok "dd bs=1 with CRLF" sh -c 'printf "{\"username\": \"crlf\"}\r\n" | dd of="$1" bs=1 status=none' _ "$U/_batch"
expect_eq "crlf" "$(jq -r .username "$U/crlf.json")" crlf

section "a last line without newline"
expect_ok "no trailing newline" to "$U/_batch" env printf '{"username": "tail", "n": 1}'
expect_eq "applied at close" "$(jq .n "$U/tail.json")" 1
expect_fail "a bad last line fails the close" "Invalid argument" to "$U/_batch" env printf '{"username": "tail2", "x": tru}'
expect_fail "not applied" "No such file" cat "$U/tail2.json"
# bash closes a copy of fd 3 after each builtin: an unfinished line waits
exec 3>"$U/_batch"
printf '{"username": "pie' >&3
printf 'ce", "parts": [1, ' >&3
printf '2]}\n{"username": "last"' >&3
printf '}' >&3
exec 3>&-
expect_eq "a line written in pieces through an fd" "$(jq -c .parts "$U/piece.json")" "[1,2]"
expect_eq "its unterminated last line at the last close" "$(jq -r .username "$U/last.json")" last

section "the summary on the same descriptor"
exec 3<>"$U/_batch"
printf '{"username": "s1"}\nnot json\n{"username": "s2"}\n' >&3 2>/dev/null
printf '{"delete": {"username": "s1"}, "if": "attribute_exists(nothing)"}\n' >&3 2>/dev/null
printf '{"username": "s3"}' >&3
cat <&3 >"$T/summary" 2>&1
exec 3>&-
# printf gets a short write at the bad line, then EINVAL for the rest,
# which stdio keeps and writes with the next printf: each line once
expect_eq "summary counts" "$(jq -c '[.applied, .failed, [.errors[].line]]' "$T/summary")" '[3,2,[2,4]]'
if is_remote; then
	# a service's failed condition also shows what it kept (docs/remote.md)
	expect_eq "summary reasons" "$(jq -r '.errors[1].error' "$T/summary")" \
		"condition failed: attribute_exists(nothing); the service's version was kept: {\"username\":\"s1\"}"
else
	expect_eq "summary reasons" "$(jq -r '.errors[1].error' "$T/summary")" 'condition failed: attribute_exists(nothing)'
fi
expect_eq "the unterminated line was applied" "$(jq -r .username "$U/s3.json")" s3

section "a table with a sort key"
Q=$MNT/quiz-stats
mkdir "$Q" || fail "mkdir quiz-stats"
echo '{"partition_key":{"name":"id#level","type":"S"},"sort_key":{"name":"week","type":"S"},"indexes":[]}' \
	>"$Q/_schema.json" || fail "quiz-stats schema"
cat >"$T/quiz.jsonl" <<'EOF'
{"id#level": "hedy#1", "week": "2023-31", "id": "hedy", "level": 1, "finished": 1, "scores": {"$NS": [60]}}
{"id#level": "felienne#3", "week": "2022-08", "id": "felienne", "level": 3, "finished": 0}
{"id#level": "felienne#3", "week": "2022-09", "id": "felienne", "level": 3, "finished": 1, "scores": {"$NS": [95]}}
{"update": {"id#level": "felienne#3", "week": "2022-10"}, "set": {"id": "felienne", "level": 3, "finished": 1}, "add": {"scores": {"$NS": [100]}}}
{"update": {"id#level": "hedy#1", "week": "2023-31"}, "add": {"scores": {"$NS": [80, 60]}}}
EOF
expect_ok "quiz-stats import" sh -c 'cat "$1" > "$2"' _ "$T/quiz.jsonl" "$Q/_batch"
expect_eq "partitions" "$(ls "$Q" | grep -v '^_' | tr '\n' ' ')" "felienne#3 hedy#1 "
expect_eq "weeks" "$(ls "$Q/felienne#3" | tr '\n' ' ')" "2022-08.json 2022-09.json 2022-10.json "
expect_eq "set union" "$(jq -c .scores "$Q/hedy#1/2023-31.json")" '{"$NS":[60,80]}'
expect_fail "a key without its sort key" "Invalid argument" to "$Q/_batch" \
	env printf '{"delete": {"id#level": "hedy#1"}}\n'
expect_eq "/_errors: missing sort key" "$(tail -1 "$MNT/_errors" | grep -c 'missing key attribute week')" 1

section "after a remount"
unmount
mount_store
expect_eq "ls | wc -l after remount" "$(ls "$U" | grep -v '^_' | wc -l)" "$(( N + 2 - $(grep -c '"level": 11,' "$T/dump.jsonl") + 11 ))"
expect_eq "visits survive" "$(jq .visits "$U/u00001.json")" 2
unmount

section "a read-only mount"
mount_store -o ro
expect_fail "writing _batch" "Read-only file system" to "$U/_batch" env printf '{"username": "ro"}\n'
expect_eq "reading it" "$(cat "$U/_batch")" '{"applied": 0, "failed": 0, "errors": []}'
expect_fail "writing /_tx" "Read-only file system" to "$MNT/_tx" env printf '{"ops": []}'
unmount
done_test
