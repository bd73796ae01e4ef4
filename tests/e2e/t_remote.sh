# t_remote.sh - remote tables (SPEC §10): `dynfs http://HOST:PORT MNT`
# over `dynfs serve` and, when scripts/setup-api installed it, dynalite
# (no transactions); with E2E_TARGET=ddblocal over DynamoDB Local instead.  The data is set up and checked with boto3
# (ddb_client.py, one client kept for the whole test), the
# mount is driven with ls, cat, jq, echo, rm, mv, vim (under tmux), and
# the tree's _query?, _index/, _batch and /_tx; a save from vim while
# another writer changed the item must fail and lose nothing.  Also the
# options: tables=, max_list=, ro, cache=, allow_table_create,
# allow_schema_changes, allow_table_delete, and a wrong endpoint.
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NM=${NODE_MODULES:-$HERE/../api/node_modules}
export AWS_ACCESS_KEY_ID=AKE2E$$ AWS_SECRET_ACCESS_KEY=secret AWS_DEFAULT_REGION=us-east-1 \
	AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$T/none AWS_SHARED_CREDENTIALS_FILE=$T/none
unset AWS_PROFILE AWS_SESSION_TOKEN
SERVERS=()
remote_cleanup() {
	local p
	for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null; done
	tools_cleanup
	cleanup
}
trap remote_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done
	die "port $1 never opened"
}

# mount_remote URL [options...]: mount the service at $MNT in the background.
mount_remote() {
	mkdir -p "$MNT"
	"$DYNFS" "$@" "$MNT" -f 2>>"$T/dynfs.log" &
	DYNFS_PID=$!
	for _ in $(seq 200); do
		mountpoint -q "$MNT" && return 0
		kill -0 "$DYNFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	die "mount of $1 failed: $(tail -5 "$T/dynfs.log")"
}

# ddb_start: boto3's client for $EP, as a coprocess (ddb_client.py).
ddb_start() {
	coproc DDB { exec python3 -u "$HERE/ddb_client.py" "$EP" 2>>"$T/ddb.log"; }
	SERVERS+=($DDB_PID)
	# plain descriptors: a coprocess's are closed in subshells (pipelines, $(...))
	exec {DDW}>&"${DDB[1]}" {DDR}<&"${DDB[0]}"
}

# ddb METHOD JSON: one boto3 call; the response (JSON) on stdout.
ddb() {
	local out
	echo "$1 ${2//$'\n'/ }" >&"$DDW"
	IFS= read -r -t 60 out <&"$DDR" || die "boto3: no answer to $1: $(tail -3 "$T/ddb.log")"
	printf '%s\n' "$out"
}

# attr ID NAME: attribute NAME of users/ID as the service has it (DynamoDB JSON), or "none".
attr() {
	ddb get_item "{\"TableName\": \"users\", \"Key\": {\"id\": {\"S\": \"$1\"}}, \"ConsistentRead\": true}" |
		jq -c ".Item.$2 // \"none\""
}

# set_age ID N: another writer (boto3) sets users/ID's age.
set_age() {
	ddb update_item "{\"TableName\": \"users\", \"Key\": {\"id\": {\"S\": \"$1\"}}, \"UpdateExpression\": \"SET age = :a\", \"ExpressionAttributeValues\": {\":a\": {\"N\": \"$2\"}}}" >/dev/null
}

# scenario NAME TX: the whole tree over the service at $EP (TX: yes|no).
scenario() {
	local name=$1 tx=$2 s="vim-$1" U
	section "$name: tables and items made with boto3"
	ddb create_table '{"TableName": "users", "BillingMode": "PAY_PER_REQUEST",
		"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "email", "AttributeType": "S"}],
		"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
		"GlobalSecondaryIndexes": [{"IndexName": "email-index", "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}]}' |
		grep -q error && die "create_table"
	for _ in $(seq 100); do
		[ "$(ddb describe_table '{"TableName": "users"}' | jq -r .Table.TableStatus)" = ACTIVE ] && break
		sleep 0.1
	done
	ddb put_item '{"TableName": "users", "Item": {"id": {"S": "ann"}, "email": {"S": "ann@example.org"}, "age": {"N": "30"}, "tags": {"L": [{"S": "a"}, {"M": {"x": {"N": "1"}}}]}}}' >/dev/null
	ddb put_item '{"TableName": "users", "Item": {"id": {"S": "bob"}, "email": {"S": "bob@example.org"}, "age": {"N": "41"}}}' >/dev/null

	mount_remote "$EP"
	U=$MNT/users
	section "$name: ls, cat, jq"
	expect_eq "$name: ls /" "$(ls "$MNT" | tr '\n' ' ')" "_errors _tx users "
	expect_eq "$name: ls users" "$(listing "$U" | sort | tr '\n' ' ')" "ann.json bob.json "
	run "$name: ls -l" ls -l "$U"
	grep -q ' ann.json$' "$T/out" || fail "$name: ls -l: $(cat "$T/out")"
	expect_eq "$name: jq" "$(jq -r .email "$U/ann.json")" "ann@example.org"
	expect_eq "$name: jq tags" "$(jq -c .tags "$U/ann.json")" '["a",{"x":1}]'
	expect_eq "$name: _schema.json" "$(jq -r '.partition_key.name, .indexes[0].name' "$U/_schema.json" | tr '\n' ' ')" "id email-index "
	expect_eq "$name: _stats.json says the figures are estimates" "$(jq -c .estimated "$U/_stats.json")" true

	section "$name: write, overwrite and rm; the service sees it"
	echo '{"id": "carl", "email": "carl@example.org", "age": 7}' >"$U/carl.json" || fail "$name: echo > carl.json"
	expect_eq "$name: carl on the service" "$(attr carl age)" '{"N":"7"}'
	jq '.age = 8' "$U/carl.json" >"$T/carl" && cat "$T/carl" >"$U/carl.json" || fail "$name: overwrite"
	expect_eq "$name: carl overwritten" "$(attr carl age)" '{"N":"8"}'
	run "$name: rm" rm "$U/carl.json"
	expect_eq "$name: carl gone" "$(attr carl age)" '"none"'
	refuse "$name: O_EXCL on an existing item" "File exists" \
		python3 -c "import os; os.open('$U/ann.json', os.O_WRONLY | os.O_CREAT | os.O_EXCL)"

	section "$name: another writer is seen after cache= (1 s)"
	set_age bob 42
	sleep 1.2
	expect_eq "$name: bob's new age" "$(jq .age "$U/bob.json")" 42

	section "$name: item times: a write through the mount dates the item, another writer's change when seen"
	# (DynamoDB keeps no modification time: fs/mtime.c dates each version)
	echo '{"id": "dan", "age": 1}' >"$U/dan.json" || fail "$name: echo > dan.json"
	ddb put_item '{"TableName": "users", "Item": {"id": {"S": "eve"}, "age": {"N": "1"}}}' >/dev/null
	sleep 1.2 # cache=: the kernel asks again
	run "$name: ls -l sees every item" ls -l "$U"
	local ann_t
	ann_t=$(stat -c %.9Y "$U/ann.json")
	sleep 1.1
	touch "$T/ref-$name"
	sleep 1.1
	expect_eq "$name: find -newer, nothing changed" "$(find "$U" -name '*.json' -newer "$T/ref-$name")" ""
	echo '{"id": "dan", "age": 2}' >"$U/dan.json" || fail "$name: overwrite dan.json"
	expect_eq "$name: find -newer after a write through the mount" \
		"$(find "$U" -name '*.json' -newer "$T/ref-$name")" "$U/dan.json"
	set_age eve 2
	sleep 1.2
	expect_eq "$name: eve re-read" "$(jq -c .age "$U/eve.json")" 2
	expect_eq "$name: find -newer after another writer's change" \
		"$(find "$U" -name '*.json' -newer "$T/ref-$name" | sort | tr '\n' ' ')" "$U/dan.json $U/eve.json "
	local eve_t
	eve_t=$(stat -c %.9Y "$U/eve.json")
	set_age eve 2 # the same content again: the same version
	sleep 1.2
	expect_eq "$name: eve rewritten unchanged keeps its time" "$(stat -c %.9Y "$U/eve.json")" "$eve_t"
	expect_eq "$name: ann unchanged keeps its time" "$(stat -c %.9Y "$U/ann.json")" "$ann_t"
	ddb delete_item '{"TableName": "users", "Key": {"id": {"S": "eve"}}}' >/dev/null
	run "$name: rm dan" rm "$U/dan.json"

	section "$name: _index/ and _query?"
	expect_eq "$name: _index" "$(cat "$U"/_index/email-index/bob@example.org/* | jq -r .id)" bob
	expect_eq "$name: _query filter" "$(ls "$U/_query?filter=age > 35")" bob.json

	section "$name: _batch"
	printf '%s\n' '{"id": "b1", "age": 1}' '{"id": "b2", "age": 2}' '{"update": {"id": "b1"}, "add": {"age": 10}}' \
		'{"delete": {"id": "b2"}}' >"$T/batch"
	# (without transactions, fs/batch.c applies the lines one at a time)
	run "$name: _batch" bash -c "cat '$T/batch' > '$U/_batch'"
	expect_eq "$name: b1 after _batch" "$(attr b1 age)" '{"N":"11"}'
	expect_eq "$name: b2 after _batch" "$(attr b2 age)" '"none"'

	section "$name: /_tx and mv"
	local doc='{"ops": [{"put": {"id": "t1", "age": 5}, "table": "users"}, {"update": {"id": "bob"}, "table": "users", "add": {"age": 1}, "if": "age = :a", "values": {":a": 42}}]}'
	if [ "$tx" = yes ]; then
		run "$name: /_tx" bash -c "echo '$doc' > '$MNT/_tx'"
		expect_eq "$name: t1 after /_tx" "$(attr t1 age)" '{"N":"5"}'
		expect_eq "$name: bob after /_tx" "$(attr bob age)" '{"N":"43"}'
		refuse "$name: /_tx whose condition fails" "cancel|Operation canceled" bash -c "echo '$doc' > '$MNT/_tx'"
		expect_eq "$name: bob unchanged" "$(attr bob age)" '{"N":"43"}'
		run "$name: mv" mv "$U/t1.json" "$U/t2.json"
		expect_eq "$name: t1 moved" "$(attr t1 age)" '"none"'
		expect_eq "$name: t2 there" "$(attr t2 age)" '{"N":"5"}'
	else
		refuse "$name: /_tx without transactions" "not supported" bash -c "echo '$doc' > '$MNT/_tx'"
		expect_eq "$name: nothing applied" "$(attr t1 age)" '"none"'
		# plain puts too: BatchWriteItem would apply them one by one
		refuse "$name: /_tx of puts without transactions" "not supported" \
			bash -c "echo '{\"ops\": [{\"put\": {\"id\": \"t1\"}, \"table\": \"users\"}, {\"put\": {\"id\": \"t2\"}, \"table\": \"users\"}]}' > '$MNT/_tx'"
		expect_eq "$name: neither applied" "$(attr t1 id) $(attr t2 id)" '"none" "none"'
	fi

	section "$name: vim saves; a concurrent change makes the save fail and loses nothing"
	ed_start "$s" "$U" vim -u DEFAULTS -i NONE ann.json
	pane_wait "$s" '"ann.json"' || return
	vim_cmd "$s" '%s/"age": 30/"age": 31/'
	vim_write "$s"
	grep -q written <<<"$VIM_MSG" || fail "$name: vim :w: $VIM_MSG"
	expect_eq "$name: vim's save" "$(attr ann age)" '{"N":"31"}'
	# another writer changes ann while vim has it open
	set_age ann 99
	sleep 1.2 # cache=: vim's look at the file before writing sees the new version
	errors_mark
	vim_cmd "$s" '%s/"age": 31/"age": 32/'
	vim_write "$s"
	# vim notices by the mtime (the version it had not seen is dated when
	# seen: fs/mtime.c); told to write anyway, the conditional save fails
	if grep -q 'changed since reading it' <<<"$VIM_MSG"; then
		ed_type "$s" y
		pane_wait "$s" 'E[0-9]+:' && VIM_MSG=$(pane "$s" | grep -E 'E[0-9]+:')
		pane "$s" | grep -q 'Press ENTER' && ed_keys "$s" Enter
	else
		fail "$name: vim did not see the file's new mtime: $VIM_MSG"
	fi
	grep -q 'E[0-9]*:' <<<"$VIM_MSG" || fail "$name: vim's stale save succeeded: $VIM_MSG"
	expect_eq "$name: the other writer's change kept" "$(attr ann age)" '{"N":"99"}'
	expect_error_line "$name: stale save" ann.json
	grep -q "changed on the service since it was read" "$MNT/_errors" ||
		fail "$name: /_errors: $(cat "$MNT/_errors")"
	ed_keys "$s" Escape
	ed_type "$s" ":qa!"
	ed_keys "$s" Enter
	ed_wait_exit "$s"
	expect_no_scratch "$name: vim" "$U"
	refuse "$name: mkdir without allow_table_create" "not permitted" mkdir "$MNT/tab1"
	grep -q "needs -o allow_table_create" "$MNT/_errors" || fail "$name: mkdir: /_errors: $(cat "$MNT/_errors")"
	unmount

	section "$name: -o tables=, max_list=, ro"
	ddb create_table '{"TableName": "other", "BillingMode": "PAY_PER_REQUEST", "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}]}' >/dev/null
	mount_remote "$EP" -o tables=users,max_list=2,ro
	expect_eq "$name: tables=" "$(ls "$MNT" | tr '\n' ' ')" "_errors _tx users "
	expect_eq "$name: max_list=2" "$(listing "$MNT/users" | wc -l)" 2
	grep -q "listing stopped after 2 items" "$MNT/_errors" ||
		fail "$name: no max_list line in /_errors: $(cat "$MNT/_errors")"
	refuse "$name: ro" "Read-only" bash -c "echo '{}' > '$MNT/users/zed.json'"
	unmount
	# SPEC §10's spelling: the names after tables= share the options' commas
	mount_remote "$EP" -o cache=1,tables=users,other,ro
	expect_eq "$name: tables=users,other,ro" "$(ls "$MNT" | tr '\n' ' ')" "_errors _tx other users "
	refuse "$name: ro after the names is the flag" "Read-only" bash -c "echo '{}' > '$MNT/other/k1.json'"
	unmount

	section "$name: an index added to a PROVISIONED table gets the table's capacity"
	# DynamoDB requires a ProvisionedThroughput on a new global index of
	# a table billed PROVISIONED (and refuses one on an on-demand table)
	ddb create_table '{"TableName": "prov", "BillingMode": "PROVISIONED", "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}, "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}' >/dev/null
	for _ in $(seq 100); do
		[ "$(ddb describe_table '{"TableName": "prov"}' | jq -r .Table.TableStatus)" = ACTIVE ] && break
		sleep 0.1
	done
	mount_remote "$EP" -o allow_schema_changes,tables=prov
	echo '{"partition_key": {"name": "id", "type": "S"}, "indexes": [{"name": "by-e", "partition_key": {"name": "e", "type": "S"}, "projection": "ALL"}]}' \
		>"$MNT/prov/_schema.json"
	if [ "$name" = dynalite ]; then
		# dynalite 4 takes the index (with the capacity it insists on)
		# and never makes it: the mount says so instead of waiting
		grep -q "accepted index by-e but does not show it" "$MNT/_errors" ||
			fail "$name: an index the service never makes: $(cat "$MNT/_errors")"
	else
		expect_eq "$name: the index has the table's capacity" \
			"$(ddb describe_table '{"TableName": "prov"}' | jq -c '.Table.GlobalSecondaryIndexes[0] | [.IndexName, .ProvisionedThroughput.ReadCapacityUnits, .ProvisionedThroughput.WriteCapacityUnits]')" \
			'["by-e",3,4]'
		expect_eq "$name: no error" "$(cat "$MNT/_errors")" ""
	fi
	unmount

	# (dynalite: no transactions, and no index added by UpdateTable)
	[ "$tx" = yes ] || return 0
	section "$name: allow_table_create, allow_schema_changes, allow_table_delete"
	mount_remote "$EP" -o allow_table_create,allow_table_delete,allow_schema_changes
	run "$name: mkdir" mkdir "$MNT/tab1"
	expect_eq "$name: the service has it" "$(ddb describe_table '{"TableName": "tab1"}' | jq -r .Table.TableStatus)" ACTIVE
	echo '{"partition_key": {"name": "id", "type": "S"}, "indexes": [{"name": "by-e", "partition_key": {"name": "e", "type": "S"}, "projection": "ALL"}]}' \
		>"$MNT/tab1/_schema.json" || fail "$name: writing _schema.json"
	expect_eq "$name: UpdateTable added the index" \
		"$(ddb describe_table '{"TableName": "tab1"}' | jq -r '.Table.GlobalSecondaryIndexes[0].IndexName')" by-e
	echo '{"e": "x"}' >"$MNT/tab1/a.json" || fail "$name: put into tab1"
	expect_eq "$name: _index of the new index" "$(ls "$MNT/tab1/_index/by-e/")" x
	# rmdir of a table the mount sees empty but the service does not
	# (another writer's item; the service's ItemCount is an estimate):
	# refused, nothing deleted
	rm "$MNT/tab1/a.json" || fail "$name: rm tab1/a.json"
	ddb put_item '{"TableName": "tab1", "Item": {"id": {"S": "late"}}}' >/dev/null
	refuse "$name: rmdir of a table with an item" "not empty" rmdir "$MNT/tab1"
	expect_eq "$name: the table is kept" "$(ddb describe_table '{"TableName": "tab1"}' | jq -r .Table.TableStatus)" ACTIVE
	expect_eq "$name: and its item" "$(ddb get_item '{"TableName": "tab1", "Key": {"id": {"S": "late"}}}' | jq -r .Item.id.S)" late
	run "$name: rm -r" rm -r "$MNT/tab1"
	expect_eq "$name: DeleteTable" "$(ddb describe_table '{"TableName": "tab1"}' | jq -r .error)" ResourceNotFoundException
	unmount
}

section "--help"
"$DYNFS" --help >"$T/help" 2>&1 || fail "--help exited non-zero"
for w in "dynamodb://REGION" "http://HOST:PORT" "region=" "tables=" "cache=SECONDS" "max_list=N" \
	allow_table_create allow_table_delete allow_schema_changes docs/remote.md; do
	grep -qF -- "$w" "$T/help" || fail "--help does not mention '$w'"
done

section "README's block, run as shown (on a free port)"
R=$T/readme
mkdir -p "$R/build"
ln -s "$DYNFS" "$R/build/dynfs"
RP=$(free_port)
awk '/t_remote.sh runs this block/ {on = 1; next} on && /^```bash/ {next} on && /^```/ {exit} on' \
	"$HERE/../../README.md" | sed "s/127.0.0.1:8000/127.0.0.1:$RP/g" >"$R/block.sh"
[ "$(wc -l <"$R/block.sh")" -gt 5 ] || fail "README: no remote block found"
(
	cd "$R" || exit 1
	set -e
	# the block's `serve &` must not outlive it
	source ./block.sh >"$R/out" 2>"$R/err" || { echo "README block failed: $(cat "$R/err")"; kill %1; exit 1; }
	kill %1
	wait
) || fail "README's remote block: $(tail -5 "$R/err")"
grep -q '"S": "hedy@hedy.org"' "$R/out" || fail "README block: get-item: $(cat "$R/out")"
grep -qx '"hedy@hedy.org"' "$R/out" || fail "README block: jq: $(cat "$R/out")"

section "a wrong endpoint fails the mount"
mkdir -p "$MNT"
refuse "no service" "cannot list its tables" timeout 60 "$DYNFS" "http://127.0.0.1:$(free_port)" "$MNT" -f
mkdir -p "$T/store"
refuse "a local-only option" "only for a remote mount" "$DYNFS" "$T/store" "$MNT" -f -o region=x
refuse "a bad target" "takes no path" "$DYNFS" "dynamodb://eu-west-1/x" "$MNT" -f

if remote_is ddblocal; then
	# E2E_TARGET=ddblocal (tests/e2e/run started DynamoDB Local in a
	# private network namespace): the whole scenario, transactions and
	# renames included, over DynamoDB Local itself
	EP=$E2E_ENDPOINT
	ddb_start
	scenario ddblocal yes
	done_test
fi

SP=$(free_port)
"$DYNFS" serve "$T/serve" --listen "127.0.0.1:$SP" --fsync off 2>"$T/serve.log" &
SERVERS+=($!)
wait_port "$SP"
EP=http://127.0.0.1:$SP
ddb_start
scenario serve yes

section "requests per cat and per write (DYNFS_REMOTE_DEBUG's attempt lines)"
# since MARK: the requests after the line count MARK
since() { tail -n +$(($1 + 1)) "$T/rq.log" >"$T/rq.part"; grep 'attempt 1:' "$T/rq.part" |
	awk '{ n[$2]++ } END { for (o in n) printf "%s %d\n", o, n[o] }' | sort | tr '\n' ' '; }
mark() { sleep 0.2; wc -l <"$T/rq.log"; } # a release's requests come after close returns
ms() { echo $(($(date +%s%N) / 1000000)); }
for k in rq1 rq2 rq3; do
	ddb put_item "{\"TableName\": \"users\", \"Item\": {\"id\": {\"S\": \"$k\"}, \"age\": {\"N\": \"1\"}}}" >/dev/null
done
mkdir -p "$MNT"
DYNFS_REMOTE_DEBUG=1 "$DYNFS" "$EP" "$MNT" -f 2>>"$T/rq.log" &
DYNFS_PID=$!
for _ in $(seq 200); do mountpoint -q "$MNT" && break; sleep 0.05; done
mountpoint -q "$MNT" || die "mount with DYNFS_REMOTE_DEBUG failed: $(tail -5 "$T/rq.log")"
U=$MNT/users
ls -d "$U" >/dev/null
m=$(mark)
expect_eq "requests: a cat is one GetItem" "$(cat "$U/rq1.json" >/dev/null && mark >/dev/null && since "$m")" "GetItem 1 "
# a cat within cache= (1 s) of a stat: the open reads the version the stat's lookup got
m=$(mark) t0=$(ms)
stat "$U/rq2.json" >/dev/null && sleep 0.3 && cat "$U/rq2.json" >/dev/null || fail "stat; cat"
t1=$(ms)
got=$(mark >/dev/null && since "$m")
if [ $((t1 - t0)) -lt 900 ]; then # else too slow to tell (load)
	expect_eq "requests: stat, then cat 0.3 s later: one GetItem" "$got" "GetItem 1 "
fi
# a write within cache= of a cat: the open's version from the cat's
# GetItem, the save's check of it (a GetItem) and the conditional PutItem
m=$(mark) t0=$(ms)
cat "$U/rq3.json" >/dev/null && sleep 0.3 && echo '{"age": 2}' >"$U/rq3.json" || fail "cat; echo >"
t1=$(ms)
got=$(mark >/dev/null && since "$m")
expect_eq "requests: the write is stored" "$(attr rq3 age)" '{"N":"2"}'
if [ $((t1 - t0)) -lt 900 ]; then
	expect_eq "requests: cat, then a write 0.3 s later: 2 GetItem + 1 PutItem" "$got" "GetItem 2 PutItem 1 "
fi
# a new item written by open, write, close: the lookup of its name and the PutItem
# (checked when open to close took under 90 ms: the lookup's answer is
# remembered for 100 ms, a loaded machine may take longer and ask again)
m=$(mark)
took=$(python3 -c "import os, time; t = time.monotonic(); fd = os.open('$U/rq4.json', os.O_WRONLY | os.O_CREAT | os.O_TRUNC); os.write(fd, b'{\"age\": 4}'); os.close(fd); print(int((time.monotonic() - t) * 1000))") ||
	fail "write of rq4.json"
got=$(mark >/dev/null && since "$m")
if [ "$took" -ge 90 ]; then
	echo "requests of a new item: not counted (open to close took $took ms, the lookup's memo lasts 100)"
else
	[ "$got" = "GetItem 1 PutItem 1 " ] ||
		fail "requests: a new item: the lookup's GetItem + 1 PutItem (in $took ms): got [$got]: $(grep 'attempt 1:' "$T/rq.part" | tr '\n' '|')"
fi
expect_eq "requests: rq4 stored" "$(attr rq4 age)" '{"N":"4"}'
unmount

section "_batch over a service: BatchWriteItem, 25 lines a call; a bad line named, the count exact"
# a local mount serving the API (its _stats.json counts the requests) under a remote mount
AP=$(free_port)
L=$T/local
mkdir -p "$L" "$T/lstore"
"$DYNFS" "$T/lstore" "$L" -f -o "api=127.0.0.1:$AP" 2>>"$T/local.log" &
LPID=$!
SERVERS+=($LPID)
wait_port "$AP"
run "bulk: mkdir" mkdir "$L/bulk"
echo '{"partition_key": {"name": "id", "type": "S"}, "indexes": [{"name": "by-g", "partition_key": {"name": "g", "type": "S"}, "projection": "ALL"}]}' >"$L/bulk/_schema.json" ||
	fail "bulk: _schema.json"
mount_remote "http://127.0.0.1:$AP"
for i in $(seq 1000); do echo "{\"id\": \"u$i\", \"n\": $i}"; done >"$T/bulk"
run "bulk: cat > _batch" bash -c "cat '$T/bulk' > '$MNT/bulk/_batch'"
expect_eq "bulk: 1,000 lines in 40 BatchWriteItem calls" \
	"$(jq -c '.api.operations | [.BatchWriteItem.requests, .PutItem.requests]' "$L/bulk/_stats.json")" '[40,null]'
expect_eq "bulk: every item" "$(ls "$L/bulk" | grep -c '^u[0-9]*\.json$')" 1000
expect_eq "bulk: u1000" "$(jq -c .n "$L/bulk/u1000.json")" 1000
# line 31's "g" is a number where the index wants a string: the parser cannot know, the
# service refuses its BatchWriteItem (lines 26..50) whole, so those lines go one call each:
# 26..30 land, 31 is named, nothing after it is applied
for i in $(seq 60); do
	if [ "$i" = 31 ]; then echo '{"id": "bad", "g": 5}'; else echo "{\"id\": \"v$i\"}"; fi
done >"$T/bulk2"
python3 - "$T/bulk2" "$MNT/bulk/_batch" >"$T/bulk2.out" <<'PY'
import os, sys
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY)
n = os.write(fd, data)
print(n, data[:n].count(b"\n"))
try:
    os.write(fd, data[n:])
    print("second write succeeded")
except OSError as e:
    print("second write:", e.strerror)
os.close(fd)
PY
expect_eq "bulk: the write() counts lines 1..31, as over a local store" "$(head -1 "$T/bulk2.out")" \
	"$(head -31 "$T/bulk2" | wc -c) 31"
expect_eq "bulk: the next write() gets the error" "$(sed -n 2p "$T/bulk2.out")" "second write: Invalid argument"
grep -q '/bulk/_batch: line 31: ' "$MNT/_errors" || fail "bulk: /_errors lacks line 31: $(cat "$MNT/_errors")"
expect_eq "bulk: lines before 31 applied, after it not" \
	"$(for k in v30 bad v32; do [ -e "$L/bulk/$k.json" ] && echo "$k"; done | tr '\n' ' ')" "v30 "
unmount
fusermount3 -u "$L"
wait "$LPID" 2>/dev/null

section "a service that stops answering: the reason in /_errors, once per failing call"
SP2=$(free_port)
"$DYNFS" serve "$T/serve2" --listen "127.0.0.1:$SP2" --fsync off 2>"$T/serve2.log" &
S2=$!
SERVERS+=($S2)
wait_port "$SP2"
mount_remote "http://127.0.0.1:$SP2" -o allow_table_create
run "stop: mkdir" mkdir "$MNT/stp"
echo '{"id": "a", "n": 1}' >"$MNT/stp/a.json" || fail "stop: echo > a.json"
expect_eq "stop: cat while it answers" "$(jq -c .n "$MNT/stp/a.json")" 1
kill "$S2"
wait "$S2" 2>/dev/null
sleep 1.2 # cache= (1 s): the kernel asks again
refuse "stop: cat" "a.json" cat "$MNT/stp/a.json"
refuse "stop: ls" "stp" ls "$MNT/stp"
cp "$MNT/_errors" "$T/errors2"
expect_eq "stop: one GetItem line for the cat" "$(grep -c ' /stp/a.json: GetItem: ' "$T/errors2")" 1
expect_eq "stop: one Scan line for the ls" "$(grep -c ' /stp: Scan: ' "$T/errors2")" 1
unmount

section "dynamodb://REGION through a profile's configured endpoint (docs/remote.md's block)"
# The docs' config block, its port made a free one, as the profile
# "local" of a temporary config file; that profile's keys in a temporary
# credentials file; a service that accepts only those keys (--auth).
A=$T/aws
mkdir -p "$A"
AP=$(free_port)
awk '/t_remote.sh mounts this profile/ {on = 1; next} on && /^```ini/ {next} on && /^```/ {exit} on' \
	"$HERE/../../docs/remote.md" | sed "s/127.0.0.1:8000/127.0.0.1:$AP/" >"$A/config"
grep -q "endpoint_url = http://127.0.0.1:$AP" "$A/config" || fail "docs/remote.md: no config block: $(cat "$A/config")"
printf '[local]\naws_access_key_id = AKLOCAL\naws_secret_access_key = local-secret\n' >"$A/credentials"
echo "AKLOCAL local-secret" >"$A/keys"
"$DYNFS" serve "$T/serve3" --listen "127.0.0.1:$AP" --fsync off --auth "$A/keys" 2>"$T/serve3.log" &
SERVERS+=($!)
wait_port "$AP"
cmd=$(awk '/t_remote.sh mounts this profile/ {on = 1} on && /^dynfs dynamodb:/ {print; exit}' "$HERE/../../docs/remote.md")
expect_eq "docs/remote.md: the mount command" "$cmd" "dynfs dynamodb:// mnt -o profile=local"
(
	# the environment's keys would win over the profile's (the chain's order)
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
	export AWS_CONFIG_FILE=$A/config AWS_SHARED_CREDENTIALS_FILE=$A/credentials
	set -- ${cmd#dynfs }
	[ "$2" = mnt ] || exit 1
	mount_remote "$1" "${@:3}" -o allow_table_create
	mkdir "$MNT/users" || exit 1
	echo '{"id": "ann", "age": 30}' >"$MNT/users/ann.json" || exit 1
	jq -c . "$MNT/users/ann.json"
	unmount
	# the service's own variable beats the profile's endpoint
	AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$SP mount_remote dynamodb://eu-west-1 -o profile=local
	[ -e "$MNT/users/rq1.json" ] && echo "rq1.json there"
	unmount
) >"$T/prof.out" 2>&1
# docs/remote.md's first block: its dynamodb:// mounts, each with keys
# of its profile only, reach the --auth service through the variable
awk '/t_remote.sh mounts the dynamodb:\/\/ lines of this block/ {on = 1; next} on && /^```sh/ {next} on && /^```/ {exit}
	on && /^dynfs dynamodb:/' "$HERE/../../docs/remote.md" | sed 's/ *#.*//' >"$A/first"
expect_eq "docs/remote.md: the first block's dynamodb:// lines" "$(wc -l <"$A/first")" 2
printf '[default]\naws_access_key_id = AKLOCAL\naws_secret_access_key = local-secret\n[prod]\naws_access_key_id = AKLOCAL\naws_secret_access_key = local-secret\n' \
	>"$A/credentials2"
while read -r -a w; do
	[ "${w[2]}" = mnt ] || fail "docs/remote.md: [${w[*]}] mounts elsewhere than mnt"
	(
		unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
		export AWS_CONFIG_FILE=$A/none AWS_SHARED_CREDENTIALS_FILE=$A/credentials2
		AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$AP mount_remote "${w[1]}" "${w[@]:3}"
		ls "$MNT"
		unmount
	) >"$T/first.out" 2>&1
	grep -qx users "$T/first.out" || fail "docs/remote.md: [${w[*]}]: $(cat "$T/first.out")"
done <"$A/first"
expect_eq "profile local: the item written and read back" "$(head -1 "$T/prof.out")" '{"id":"ann","age":30}'
expect_eq "AWS_ENDPOINT_URL_DYNAMODB: the other service's item" "$(sed -n 2p "$T/prof.out")" "rq1.json there"
grep -q "ExpiredToken\|Unrecognized\|InvalidSignature" "$T/serve3.log" && fail "the --auth service refused a request: $(cat "$T/serve3.log")"

if [ -f "$NM/dynalite/cli.js" ] && command -v node >/dev/null; then
	DP=$(free_port)
	node "$NM/dynalite/cli.js" --host 127.0.0.1 --port "$DP" --createTableMs 20 --deleteTableMs 20 \
		>"$T/dynalite.log" 2>&1 &
	SERVERS+=($!)
	wait_port "$DP"
	EP=http://127.0.0.1:$DP
	exec {DDW}>&- {DDR}<&- # the first client ends
	kill "$DDB_PID" 2>/dev/null
	wait "$DDB_PID" 2>/dev/null
	ddb_start
	scenario dynalite no
else
	echo "dynalite: skipped (scripts/setup-api installs it)"
fi
done_test
