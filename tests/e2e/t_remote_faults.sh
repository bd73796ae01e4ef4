# t_remote_faults.sh - a remote mount through the fault-injecting proxy
# (tests/remote/faultproxy.py): the mount retries what is safe to
# retry, never loses or duplicates a write, and reports what the retries
# could not save as an errno and an /_errors line (docs/remote.md,
# "Retries").  The proxy's faults are switched between steps through its
# control file; boto3 (ddb_client.py) checks the service directly,
# behind the proxy.
#
#  1. throttling, 503, expired tokens, slow answers on every call: all
#     retried; a _batch of 30 `ADD n 1` lines and 10 puts lands exactly.
#  2. faults whose outcome is unknown (500 or a dropped connection,
#     before or after the service applied it) on UpdateItem, which is
#     not idempotent: a _batch of 30 `ADD n 1` lines, every third call
#     faulted.  No line may be applied twice: the count is exactly 30 minus the
#     requests the proxy refused before forwarding, and every faulted
#     line is in /_errors as "outcome unknown" (EIO to the writer).
#  3. every fault on TransactWriteItems (every other request): 12 /_tx
#     writes of `ADD n 1` and 6 renames all succeed, each applied once
#     (ClientRequestToken).
#  4. every fault on every call (30%): puts and rms by file all land.
#  5. a call throttled on every attempt: the write fails, the item is
#     not there, /_errors says so.
#  6. reads under _index/ and of _query? names that fail (500s after the
#     retries, an access denied): the errno and one /_errors line each.
#  7. a lookup refused while vim has an item open makes the kernel forget
#     the item's inode (as memory pressure does): vim's save after
#     another writer's change still fails, and that change is kept
#     (fs/commit.c, "Forgotten nodes"); nano's next save does not ask
#     "File was modified since you opened it" (the inode keeps its number).
# Runs over `dynfs serve` (E2E_TARGET=local or serve) or DynamoDB Local
# (ddblocal); dynalite has no transactions (step 3 is then skipped).
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

[ "$E2E_TARGET" = local ] && E2E_TARGET=serve
need_target serve dynalite ddblocal "a DynamoDB-API service behind the proxy"
# (lib.sh set these for remote targets only)
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKE2E$$} AWS_SECRET_ACCESS_KEY=secret \
	AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$T/none \
	AWS_SHARED_CREDENTIALS_FILE=$T/none
unset AWS_PROFILE AWS_SESSION_TOKEN
target_start
UP=$E2E_EP
CTL=$T/faults.ctl
echo '{"rate": 0}' >"$CTL"
FPORT=$(e2e_free_port)
python3 "$E2E_HERE/../remote/faultproxy.py" "$FPORT" "$UP" --rate 0 --unprocessed 0 --seed 7 \
	--control "$CTL" 2>"$T/proxy.log" &
PROXY=$!
e2e_wait_port "$FPORT" || die "proxy"
coproc DDB { exec python3 -u "$E2E_HERE/ddb_client.py" "$UP" 2>>"$T/ddb.log"; }
exec {DDW}>&"${DDB[1]}" {DDR}<&"${DDB[0]}"
faults_cleanup() {
	kill "$PROXY" "$DDB_PID" 2>/dev/null
	tools_cleanup
	cleanup
}
trap faults_cleanup EXIT

ddb() {
	local out
	echo "$1 ${2//$'\n'/ }" >&"$DDW"
	IFS= read -r -t 60 out <&"$DDR" || die "boto3: no answer to $1: $(tail -3 "$T/ddb.log")"
	printf '%s\n' "$out"
}
# n_of ID: attribute n of cnt/ID on the service (behind the proxy)
n_of() {
	ddb get_item "{\"TableName\": \"cnt\", \"Key\": {\"id\": {\"S\": \"$1\"}}, \"ConsistentRead\": true}" |
		jq -r '.Item.n.N // "none"'
}
has() {
	ddb get_item "{\"TableName\": \"cnt\", \"Key\": {\"id\": {\"S\": \"$1\"}}, \"ConsistentRead\": true}" |
		jq -r 'if .Item then "yes" else "no" end'
}
new_errors() { tail -n +$((ERRORS_AT + 1)) "$MNT/_errors"; }
# feed FILE: write FILE to cnt/_batch as a writer that goes on after an
# error does (lib: fs/batch.c's write protocol: the failed write consumed
# nothing; write the rest again); prints the errnos it got, one a line
feed() {
	python3 - "$1" "$C/_batch" <<'PYEOF'
import os, sys
buf = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY)
while buf:
    try:
        buf = buf[os.write(fd, buf):]
    except OSError as e:
        print(os.strerror(e.errno))
try:
    os.close(fd)
except OSError as e:
    print(os.strerror(e.errno))
PYEOF
}
# faults JSON: the proxy's settings from now on
faults() { echo "$1" >"$CTL"; }
# injected NAME...: how many of these faults the proxy injected so far
injected() {
	local q
	q=$(printf '(.["%s"] // 0) + ' "$@")
	jq "${q}0" "$CTL.stats"
}

# the mount goes through the proxy
E2E_EP=http://127.0.0.1:$FPORT
mount_fresh
mkdir "$MNT/cnt" || die "mkdir cnt"
C=$MNT/cnt
TX=yes
[ "$(ls "$MNT")" = "$(printf '_errors\n_tx\ncnt')" ] || die "ls: $(ls "$MNT")"
remote_is dynalite && TX=no

section "throttling, 503, expired tokens, slow answers: retried, exact"
: >"$T/b1"
for i in $(seq 30); do
	echo '{"update": {"id": "a"}, "add": {"n": 1}}' >>"$T/b1"
	[ "$i" -le 10 ] && echo "{\"put\": {\"id\": \"p$i\", \"v\": $i}}" >>"$T/b1"
done
faults '{"rate": 0.5, "faults": ["throttle", "503", "expired", "slow"]}'
errors_mark
run "_batch through throttling" bash -c "cat '$T/b1' > '$C/_batch'"
faults '{"rate": 0}'
expect_eq "30 ADD lines, each applied once" "$(n_of a)" 30
expect_eq "the 10 puts" "$(for i in $(seq 10); do has "p$i"; done | sort | uniq -c | tr -s ' ')" " 10 yes"
expect_eq "no errors" "$(new_errors)" ""
[ "$(injected throttle 503 expired slow)" -ge 5 ] || fail "too few faults injected: $(cat "$CTL.stats")"

section "unknown outcomes on UpdateItem (not idempotent): never applied twice"
for i in $(seq 30); do echo '{"update": {"id": "b"}, "add": {"n": 1}}'; done >"$T/b2"
# every third UpdateItem: each of the four in turn
faults '{"every": 3, "faults": ["drop-after", "500-before", "500-after", "drop-before"], "ops": ["UpdateItem"]}'
before0=$(injected UpdateItem:drop-before UpdateItem:500-before)
after0=$(injected UpdateItem:drop-after UpdateItem:500-after)
errors_mark
feed "$T/b2" >"$T/err"
faults '{"rate": 0}'
before=$(($(injected UpdateItem:drop-before UpdateItem:500-before) - before0))
after=$(($(injected UpdateItem:drop-after UpdateItem:500-after) - after0))
echo "# injected: $before refused before the service, $after after it applied"
[ "$before" -ge 2 ] && [ "$after" -ge 2 ] || fail "too few faults injected: $(cat "$CTL.stats")"
# a retried ADD after a dropped answer would count twice: n > 30 - before
expect_eq "each ADD applied at most once" "$(n_of b)" $((30 - before))
expect_eq "each unknown outcome reported in /_errors" \
	"$(new_errors | grep -c 'outcome unknown')" $((before + after))
expect_eq "the writer got EIO for each" "$(grep -c "Input/output error" "$T/err")" $((before + after))

section "every fault on TransactWriteItems: /_tx and mv, each applied once"
if [ "$TX" = yes ]; then
	for i in $(seq 6); do echo "{\"v\": $i}" >"$C/r$i.json" || fail "r$i.json"; done
	# every other transaction request (retries too): each fault in turn
	faults '{"every": 2, "faults": ["drop-after", "throttle", "500-after", "500-before", "drop-before", "503"], "ops": ["TransactWriteItems"]}'
	errors_mark
	for i in $(seq 12); do
		echo "{\"ops\": [{\"update\": {\"id\": \"t\"}, \"table\": \"cnt\", \"add\": {\"n\": 1}}, {\"put\": {\"id\": \"tx$i\"}, \"table\": \"cnt\"}]}" \
			>"$MNT/_tx" 2>>"$T/txerr" || fail "/_tx $i: $(tail -1 "$T/txerr")"
	done
	for i in $(seq 6); do
		mv "$C/r$i.json" "$C/s$i.json" 2>>"$T/txerr" || fail "mv r$i: $(tail -1 "$T/txerr")"
	done
	faults '{"rate": 0}'
	[ "$(injected TransactWriteItems:drop-after TransactWriteItems:500-after)" -ge 2 ] ||
		fail "no fault after a transaction applied: $(cat "$CTL.stats")"
	# a transaction repeated without its token would count twice
	expect_eq "12 transactions, each applied once" "$(n_of t)" 12
	expect_eq "their puts" "$(for i in $(seq 12); do has "tx$i"; done | sort | uniq -c | tr -s ' ')" " 12 yes"
	expect_eq "renamed: sources gone" "$(for i in $(seq 6); do has "r$i"; done | sort | uniq -c | tr -s ' ')" " 6 no"
	expect_eq "renamed: targets there" "$(for i in $(seq 6); do n=$(ddb get_item "{\"TableName\": \"cnt\", \"Key\": {\"id\": {\"S\": \"s$i\"}}, \"ConsistentRead\": true}" | jq -r .Item.v.N); [ "$n" = "$i" ] && echo ok; done | wc -l)" 6
	expect_eq "no errors" "$(new_errors)" ""
else
	# (two ops: an empty transaction is refused before any call, and
	# one op is a single conditional write, which needs no transaction)
	refuse "/_tx without transactions" "not supported" \
		bash -c "echo '{\"ops\": [{\"put\": {\"id\": \"tx0\"}, \"table\": \"cnt\"}, {\"put\": {\"id\": \"tx1\"}, \"table\": \"cnt\"}]}' > '$MNT/_tx'"
	expect_eq "nothing applied" "$(has tx0) $(has tx1)" "no no"
fi

section "every fault on every call: puts and rms by file"
faults '{"rate": 0.3}'
errors_mark
for i in $(seq 12); do echo "{\"v\": $i}" >"$C/f$i.json" 2>>"$T/ferr" || fail "f$i.json: $(tail -1 "$T/ferr")"; done
for i in $(seq 6); do rm "$C/f$i.json" 2>>"$T/ferr" || fail "rm f$i.json: $(tail -1 "$T/ferr")"; done
faults '{"rate": 0}'
expect_eq "rm'd items gone" "$(for i in $(seq 6); do has "f$i"; done | sort | uniq -c | tr -s ' ')" " 6 no"
expect_eq "the others there" "$(for i in $(seq 7 12); do has "f$i"; done | sort | uniq -c | tr -s ' ')" " 6 yes"
expect_eq "and readable" "$(jq -c . "$C/f9.json")" '{"id":"f9","v":9}'
expect_eq "no errors" "$(new_errors)" ""

section "throttled on every attempt: the write fails, /_errors says why"
faults '{"rate": 1, "faults": ["throttle"], "ops": ["PutItem"]}'
errors_mark
# (python, not echo: a save is committed at close, and bash ignores close's error)
if python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"{\"v\": 1}\n"); os.close(fd)' "$C/z.json" 2>"$T/err"; then
	fail "a write throttled on every attempt succeeded"
fi
faults '{"rate": 0}'
[ -s "$T/err" ] || fail "no error for the writer"
expect_eq "the item is not there" "$(has z)" no
new_errors | grep -q "/cnt/z.json: .*\(Rate exceeded\|Throttl\|ProvisionedThroughput\)" ||
	fail "/_errors: $(new_errors)"
section "reads of _index/ and _query? that fail: EIO and one /_errors line each"
# (made with boto3: dynalite's UpdateTable wants a provisioned throughput
# for a new index, which a _schema.json write does not give)
ddb create_table '{"TableName": "idx", "BillingMode": "PAY_PER_REQUEST",
	"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
	"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
	"GlobalSecondaryIndexes": [{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}]}' |
	grep -q error && die "create_table idx"
for _ in $(seq 100); do
	[ "$(ddb describe_table '{"TableName": "idx"}' | jq -r .Table.TableStatus)" = ACTIVE ] && break
	sleep 0.1
done
echo '{"g": "x", "n": 1}' >"$MNT/idx/a.json" || die "idx/a.json"
echo '{"g": "y", "n": 2}' >"$MNT/idx/b.json" || die "idx/b.json"
# every Query and Scan answered 500 (retried, then given up: EIO)
faults '{"rate": 1, "faults": ["500-before"], "ops": ["Query", "Scan"]}'
errors_mark
# (nothing was listed before: no partition listing of the index is reused)
refuse "ls of an index" "Input/output error" ls "$MNT/idx/_index/by-g"
refuse "ls of an index partition" "Input/output error" ls "$MNT/idx/_index/by-g/x"
refuse "ls of a _query? directory" "Input/output error" ls "$MNT/idx/_query?filter=n > 0"
refuse "cat of a _query? file" "Input/output error" cat "$MNT/idx/_query?as=jsonl"
faults '{"rate": 1, "faults": ["500-before"], "ops": ["GetItem"]}'
refuse "cat through an index entry" "Input/output error" cat "$MNT/idx/_index/by-g/x/a.json"
# a refusal is not retried, and its errno is the service's reason's
faults '{"rate": 1, "faults": ["denied"], "ops": ["Scan"]}'
refuse "ls of an index, access denied" "Permission denied" ls "$MNT/idx/_index/by-g"
faults '{"rate": 0}'
new_errors >"$T/ixerr"
sed 's/^/# /' "$T/ixerr"
expect_eq "ls of an index: one line" \
	"$(grep ' /idx/_index/by-g: Scan: ' "$T/ixerr" | grep -vc AccessDenied)" 1
expect_eq "ls of an index partition: one line" "$(grep -c ' /idx/_index/by-g/x: Query: ' "$T/ixerr")" 1
expect_eq "ls of a _query? directory: one line" "$(grep -c ' /idx/_query?filter=n > 0: Scan: ' "$T/ixerr")" 1
expect_eq "cat of a _query? file: one line" "$(grep -c ' /idx/_query?as=jsonl: Scan: ' "$T/ixerr")" 1
expect_eq "cat through an index entry: one line" "$(grep -c ' /idx/_index/by-g/x/a.json: GetItem: ' "$T/ixerr")" 1
expect_eq "ls of an index, access denied: one line" \
	"$(grep -c ' /idx/_index/by-g: Scan: AccessDeniedException' "$T/ixerr")" 1
expect_eq "nothing else" "$(wc -l <"$T/ixerr")" 6
# and once the service answers, all of them read
expect_eq "ls of an index, answered" "$(ls "$MNT/idx/_index/by-g" | tr '\n' ' ')" "x y "
expect_eq "ls of a _query?, answered" "$(ls "$MNT/idx/_query?filter=n > 0" | tr '\n' ' ')" "a.json b.json "
expect_eq "cat through an index entry, answered" "$(jq -c .n "$MNT/idx/_index/by-g/x/a.json")" 1
expect_eq "cat of a _query? file, answered" "$(jq -c .id "$MNT/idx/_query?as=jsonl" | sort | tr '\n' ' ')" '"a" "b" '

section "a forgotten inode keeps the version read: vim's stale save fails"
# vim holds no descriptor on ann.json between its saves: when a lookup
# fails, the kernel drops the dentry and forgets the inode, and the
# mount's node with it; the next save must still be compared with the
# version vim read, not with the other writer's version its open reads
faults '{"rate": 0}'
echo '{"id": "ann", "n": 30}' >"$C/ann.json" || fail "echo > ann.json"
s=vim-forget
ed_start "$s" "$C" vim -u DEFAULTS -i NONE ann.json
pane_wait "$s" '"ann.json"' || fail "vim did not start"
vim_cmd "$s" '%s/"n": 30/"n": 31/'
vim_write "$s"
expect_eq "vim's first save" "$(n_of ann)" 31
ddb update_item '{"TableName": "cnt", "Key": {"id": {"S": "ann"}}, "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "99"}}}' >/dev/null
sleep 1.2 # cache=: the kernel asks again
faults '{"rate": 1, "faults": ["denied"], "ops": ["GetItem"]}'
stat "$C/ann.json" >/dev/null 2>&1 && fail "stat succeeded although its GetItem was refused"
faults '{"rate": 0}'
ERRORS_AT=$(wc -l <"$MNT/_errors")
vim_cmd "$s" '%s/"n": 31/"n": 32/'
vim_write "$s"
if grep -q 'changed since reading it' <<<"$VIM_MSG"; then
	ed_type "$s" y # write anyway: the conditional save still fails
	pane_wait "$s" 'E[0-9]+:|written' && VIM_MSG=$(pane "$s" | grep -E 'E[0-9]+:|written')
	pane "$s" | grep -q 'Press ENTER' && ed_keys "$s" Enter
fi
grep -q 'E[0-9]*:' <<<"$VIM_MSG" || fail "vim's stale save succeeded: $VIM_MSG"
expect_eq "the other writer's change kept" "$(n_of ann)" 99
new_errors | grep -q "/cnt/ann.json: the item changed on the service since it was read" ||
	fail "/_errors: $(new_errors)"
ed_keys "$s" Escape
ed_type "$s" ":qa!"
ed_keys "$s" Enter
ed_wait_exit "$s"

section "a forgotten inode keeps its number: nano saves again without asking"
# nano compares the inode number and mtime it saw after its last save
# with the file's before saving again, and asks "File was modified since
# you opened it" if they differ; the kernel forgetting the inode between
# the saves (a refused lookup here, memory pressure or a drop_caches
# elsewhere) must not make the file look replaced (fs/inode.c)
echo '{"id": "bea", "n": 1}' >"$C/bea.json" || fail "echo > bea.json"
ino0=$(stat -c %i "$C/bea.json")
s=nano-forget
ed_start "$s" "$C" nano bea.json
if pane_wait "$s" 'GNU nano'; then
	nano_replace "$s" '"n": 1' '"n": 2'
	nano_save "$s" "$C/bea.json"
	grep -q Wrote <<<"$NANO_MSG" || fail "nano's first save: $NANO_MSG"
	NANO_STAT=$(nano_stat "$C/bea.json")
	sleep 1.2 # cache=: the kernel asks again
	faults '{"rate": 1, "faults": ["denied"], "ops": ["GetItem"]}'
	stat "$C/bea.json" >/dev/null 2>&1 && fail "stat succeeded although its GetItem was refused"
	faults '{"rate": 0}'
	expect_eq "inode number after the kernel forgot it" "$(stat -c %i "$C/bea.json")" "$ino0"
	nano_replace "$s" '"n": 2' '"n": 3'
	nano_save "$s" "$C/bea.json" # fails if nano asks
	grep -q Wrote <<<"$NANO_MSG" || fail "nano's save after the kernel forgot the inode: $NANO_MSG"
	expect_eq "nano's second save" "$(n_of bea)" 3
	ed_keys "$s" C-x
	ed_wait_exit "$s"
fi

section "a table that cannot be described now: listed, and its error said"
# `ls -l` of the root describes each table for its attributes (cached
# 60 s: a fresh mount); one that cannot be described (throttled past the
# retries, refused) is listed without them, so ls looks it up and says
# why, instead of leaving it out (fs/readdir.c)
unmount
faults '{"rate": 1, "faults": ["denied"], "ops": ["DescribeTable"]}'
mount_store
rc=0
ls -l "$MNT" >"$T/ls.out" 2>"$T/ls.err" || rc=$?
faults '{"rate": 0}'
grep -q ' cnt$' "$T/ls.out" || fail "cnt left out of ls -l: $(cat "$T/ls.out")"
[ "$rc" -ne 0 ] && grep -q "cnt.*Permission denied" "$T/ls.err" || fail "ls -l said nothing (rc $rc): $(cat "$T/ls.err")"
expect_eq "described again: cnt a directory" "$(ls -l "$MNT" | grep ' cnt$' | cut -c1)" d
unmount
kill "$PROXY"
done_test
