# t_api_serve.sh - `dynfs serve` (SPEC §9): the API without a mount.
#
#  - serve a store, write with boto3, SIGTERM: the process exits 0 after
#    a snapshot, and a mount of the store shows the items;
#  - --auth FILE: SigV4-signed requests with a listed key pass, a wrong
#    secret gets InvalidSignatureException, an unknown key
#    UnrecognizedClientException;
#  - a non-loopback address without --auth is refused;
#  - a body over the limit is answered 413 without being read;
#  - connections beyond --max-connections get no service while the
#    others keep working (one worker thread: libmicrohttpd splits the cap
#    among its workers); a client that sends half a request and stalls
#    is disconnected after --timeout, and others are served meanwhile;
#  - the store is locked while served (a mount refuses it).
need_local "dynfs serve beside a mount of the same store"

source ./api_lib.sh
mkdir -p "$STORE" "$MNT"

start_serve() { # start_serve ARGS...: serve $STORE in the background on $PORT
	PORT=$(free_port)
	ENDPOINT=http://127.0.0.1:$PORT
	"$DYNFS" serve "$STORE" --listen "127.0.0.1:$PORT" "$@" 2>>"$T/serve.log" &
	SERVE_PID=$!
	wait_port "$PORT" || fail "serve did not listen: $(cat "$T/serve.log")"
}
stop_serve() {
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
	expect_eq "serve exit status after SIGTERM" "$?" "0"
}

start_serve
cat >"$T/w.py" <<'PYEOF'
import os, boto3
ddb = boto3.resource('dynamodb', endpoint_url=os.environ['ENDPOINT'])
t = ddb.create_table(TableName='users', BillingMode='PAY_PER_REQUEST',
    KeySchema=[{'AttributeName': 'username', 'KeyType': 'HASH'}],
    AttributeDefinitions=[{'AttributeName': 'username', 'AttributeType': 'S'}])
for i in range(50):
    t.put_item(Item={'username': 'u%02d' % i, 'n': i})
print('ok')
PYEOF
expect_ok "boto3 writes" py "$T/w.py"
expect_fail "a mount while served" "in use" "$DYNFS" "$STORE" "$MNT" -f
stop_serve
grep -q "snapshot" <(ls "$STORE") || fail "no snapshot after SIGTERM: $(ls "$STORE")"
mount_store
expect_eq "items through the mount" "$(ls "$MNT/users" | grep -c "^u.*\.json$")" "50"
expect_eq "an item" "$(jq -c . "$MNT/users/u07.json")" '{"username":"u07","n":7}'
unmount

# --auth
printf '# keys\nAKIDTEST secret-one\n' >"$T/keys"
start_serve --auth "$T/keys"
cat >"$T/auth.py" <<'PYEOF'
import os, sys, boto3, botocore
def client(key, secret):
    return boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'], aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name='eu-west-1')
assert client('AKIDTEST', 'secret-one').list_tables()['TableNames'] == ['users']
for key, secret, want in [('AKIDTEST', 'wrong', 'InvalidSignatureException'),
                          ('NOBODY', 'secret-one', 'UnrecognizedClientException')]:
    try:
        client(key, secret).list_tables()
        sys.exit('accepted a bad signature')
    except botocore.exceptions.ClientError as e:
        assert e.response['Error']['Code'] == want, e.response
print('ok')
PYEOF
expect_ok "SigV4" py "$T/auth.py"
expect_ok "cli with the key" env AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret-one \
	"$AWS" dynamodb describe-table --endpoint-url "$ENDPOINT" --table-name users --output json
expect_eq "cli item count" "$(jq .Table.ItemCount "$T/out")" "50"
stop_serve

# refusals
expect_fail "non-loopback without --auth" "needs --auth" "$DYNFS" serve "$STORE" --listen 0.0.0.0:1
start_serve
expect_eq "oversized body" "$(head -c 17000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' \
	-H 'X-Amz-Target: DynamoDB_20120810.ListTables' --data-binary @- "$ENDPOINT/")" "413"
expect_eq "still serving" "$(curl -s -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
	-H 'Content-Type: application/x-amz-json-1.0' -d '{}' "$ENDPOINT/")" '{"TableNames":["users"]}'
stop_serve

# the connection cap, then a slow client
start_serve --timeout 2 --max-connections 4 --threads 1
cat >"$T/slow.py" <<'PYEOF'
import os, socket, time, urllib.request
port = int(os.environ['ENDPOINT'].rsplit(':', 1)[1])
def list_tables(timeout=5):
    r = urllib.request.Request(os.environ['ENDPOINT'] + '/', data=b'{}', headers={
        'X-Amz-Target': 'DynamoDB_20120810.ListTables', 'Content-Type': 'application/x-amz-json-1.0'})
    return urllib.request.urlopen(r, timeout=timeout).read()
# (the held connections are idle: after --timeout 2 s they would be closed
# and the waiting request served, so the check waits less than that)
held = [socket.create_connection(('127.0.0.1', port)) for _ in range(4)]
time.sleep(0.3)
try:
    list_tables(timeout=1)
    raise SystemExit('a connection beyond the cap was served')
except OSError:
    pass
for s in held:
    s.close()
time.sleep(0.5)
assert list_tables() == b'{"TableNames":["users"]}'
slow = socket.create_connection(('127.0.0.1', port))
slow.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"Lim')
assert list_tables() == b'{"TableNames":["users"]}'     # others are served meanwhile
slow.settimeout(10)
t = time.time()
assert slow.recv(100) == b'', 'the stalled connection got an answer'
assert time.time() - t < 8, 'the stalled connection was not closed by the timeout'
print('ok')
PYEOF
expect_ok "connection cap and slow client" py "$T/slow.py"
stop_serve
done_test
