# t_api_streams.sh - DynamoDB Streams and TTL over the API (issues 13, 15):
# the `dynamodbstreams` boto3 client on the same endpoint as `dynamodb`.
#
#  - CreateTable with StreamSpecification NEW_AND_OLD_IMAGES: DescribeTable
#    has LatestStreamArn/Label, ListStreams and DescribeStream see it;
#  - writes through the API (put, update, delete), through the mount
#    (echo > item file, _batch) and a transaction: GetRecords from
#    TRIM_HORIZON returns them in order, INSERT/MODIFY/REMOVE, the right
#    images; AT/AFTER_SEQUENCE_NUMBER and LATEST iterators; a KEYS_ONLY
#    stream (UpdateTable) carries keys only; a put that changes nothing
#    writes no record;
#  - UpdateTimeToLive enables the engine's TTL (_schema.json says
#    ttl_attribute), "already enabled" is DynamoDB's error, an expired
#    item disappears and is a REMOVE with the service's userIdentity;
#  - a bad iterator is a ValidationException;
#  - `dynfs serve` runs the sweeper too, and the TTL setting survives a
#    restart.
need_local "streams of the API server over a local store"

source ./api_lib.sh
PORT=$(free_port)
ENDPOINT=http://127.0.0.1:$PORT
mount_fresh -o api=127.0.0.1:$PORT
wait_port "$PORT" || { fail "API not listening"; done_test; }

cat >"$T/s1.py" <<'PYEOF'
import os, sys, json, time, boto3
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
s = boto3.client('dynamodbstreams', endpoint_url=os.environ['ENDPOINT'])
d = c.create_table(TableName='sessions', BillingMode='PAY_PER_REQUEST',
    KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}],
    AttributeDefinitions=[{'AttributeName': 'id', 'AttributeType': 'S'}],
    StreamSpecification={'StreamEnabled': True, 'StreamViewType': 'NEW_AND_OLD_IMAGES'})['TableDescription']
arn = d['LatestStreamArn']
assert d['StreamSpecification'] == {'StreamEnabled': True, 'StreamViewType': 'NEW_AND_OLD_IMAGES'}, d
assert c.describe_table(TableName='sessions')['Table']['LatestStreamArn'] == arn
ls = s.list_streams()['Streams']
assert [x['StreamArn'] for x in ls] == [arn] and ls[0]['TableName'] == 'sessions', ls
sd = s.describe_stream(StreamArn=arn)['StreamDescription']
assert sd['StreamStatus'] == 'ENABLED' and sd['StreamViewType'] == 'NEW_AND_OLD_IMAGES', sd
assert sd['KeySchema'] == [{'AttributeName': 'id', 'KeyType': 'HASH'}], sd
assert len(sd['Shards']) == 1
c.put_item(TableName='sessions', Item={'id': {'S': 'a'}, 'v': {'N': '1'}})
c.put_item(TableName='sessions', Item={'id': {'S': 'a'}, 'v': {'N': '1'}})  # no change: no record
c.update_item(TableName='sessions', Key={'id': {'S': 'a'}}, UpdateExpression='SET v = :v',
              ExpressionAttributeValues={':v': {'N': '2'}})
json.dump({'arn': arn, 'shard': sd['Shards'][0]['ShardId']}, open(sys.argv[1], 'w'))
PYEOF
expect_ok "create a table with a stream, write" py "$T/s1.py" "$T/stream.json"
echo '{"v": 3}' >"$MNT/sessions/b.json" || fail "echo > item file"
printf '{"id": "c", "v": 4}\n{"delete": {"id": "b"}}\n' >"$MNT/sessions/_batch" || fail "_batch"

cat >"$T/s2.py" <<'PYEOF'
import os, sys, json, time, boto3
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
s = boto3.client('dynamodbstreams', endpoint_url=os.environ['ENDPOINT'])
st = json.load(open(sys.argv[1]))
arn, shard = st['arn'], st['shard']
c.delete_item(TableName='sessions', Key={'id': {'S': 'a'}})
c.transact_write_items(TransactItems=[
    {'Put': {'TableName': 'sessions', 'Item': {'id': {'S': 't1'}}}},
    {'Put': {'TableName': 'sessions', 'Item': {'id': {'S': 't2'}}}}])
it = s.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType='TRIM_HORIZON')['ShardIterator']
recs = []
while True:
    r = s.get_records(ShardIterator=it, Limit=3)
    recs += r['Records']
    it = r['NextShardIterator']
    if not r['Records']:
        break
got = [(x['eventName'], x['dynamodb']['Keys']['id']['S'],
        x['dynamodb'].get('OldImage', {}).get('v', {}).get('N'),
        x['dynamodb'].get('NewImage', {}).get('v', {}).get('N')) for x in recs]
# echo > new file: the shell's open(O_CREAT) stores the item with its key
# alone, the write then fills it (the mount's _changes shows the same two)
want = [('INSERT', 'a', None, '1'), ('MODIFY', 'a', '1', '2'), ('INSERT', 'b', None, None),
        ('MODIFY', 'b', None, '3'),
        ('INSERT', 'c', None, '4'), ('REMOVE', 'b', '3', None), ('REMOVE', 'a', '2', None),
        ('INSERT', 't1', None, None), ('INSERT', 't2', None, None)]
assert got == want, got
seqs = [int(x['dynamodb']['SequenceNumber']) for x in recs]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
for x in recs:
    assert x['eventSource'] == 'aws:dynamodb' and x['dynamodb']['StreamViewType'] == 'NEW_AND_OLD_IMAGES'
    assert x['dynamodb']['SizeBytes'] > 0 and 'userIdentity' not in x
    assert abs(x['dynamodb']['ApproximateCreationDateTime'].timestamp() - time.time()) < 120
# AT / AFTER a sequence number
sn = recs[2]['dynamodb']['SequenceNumber']
it = s.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType='AT_SEQUENCE_NUMBER', SequenceNumber=sn)['ShardIterator']
assert s.get_records(ShardIterator=it, Limit=1)['Records'][0]['dynamodb']['SequenceNumber'] == sn
it = s.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType='AFTER_SEQUENCE_NUMBER', SequenceNumber=sn)['ShardIterator']
assert s.get_records(ShardIterator=it, Limit=1)['Records'][0]['dynamodb']['SequenceNumber'] == recs[3]['dynamodb']['SequenceNumber']
# LATEST sees only what comes after; KEYS_ONLY after re-enabling
latest = s.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType='LATEST')['ShardIterator']
assert s.get_records(ShardIterator=latest)['Records'] == []
try:
    c.update_table(TableName='sessions', StreamSpecification={'StreamEnabled': True, 'StreamViewType': 'KEYS_ONLY'})
    raise SystemExit('enabling an enabled stream succeeded')
except c.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'ValidationException', e
c.update_table(TableName='sessions', StreamSpecification={'StreamEnabled': False})
c.put_item(TableName='sessions', Item={'id': {'S': 'off'}})
r = s.get_records(ShardIterator=latest)
assert r['Records'] == [] and 'NextShardIterator' not in r, r
assert s.describe_stream(StreamArn=arn)['StreamDescription']['StreamStatus'] == 'DISABLED'
d = c.update_table(TableName='sessions', StreamSpecification={'StreamEnabled': True, 'StreamViewType': 'KEYS_ONLY'})['TableDescription']
arn2 = d['LatestStreamArn']
assert arn2 != arn
c.put_item(TableName='sessions', Item={'id': {'S': 'k'}, 'v': {'N': '5'}})
shard2 = s.describe_stream(StreamArn=arn2)['StreamDescription']['Shards'][0]['ShardId']
it = s.get_shard_iterator(StreamArn=arn2, ShardId=shard2, ShardIteratorType='TRIM_HORIZON')['ShardIterator']
r = s.get_records(ShardIterator=it)['Records']
assert len(r) == 1 and r[0]['dynamodb']['Keys'] == {'id': {'S': 'k'}} and 'NewImage' not in r[0]['dynamodb'], r
# a bad iterator
try:
    s.get_records(ShardIterator='x' * 40)
    raise SystemExit('a bad iterator was accepted')
except s.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'ValidationException', e
# TTL on the engine's attribute
assert c.describe_time_to_live(TableName='sessions')['TimeToLiveDescription']['TimeToLiveStatus'] == 'DISABLED'
c.update_time_to_live(TableName='sessions', TimeToLiveSpecification={'Enabled': True, 'AttributeName': 'exp'})
try:
    c.update_time_to_live(TableName='sessions', TimeToLiveSpecification={'Enabled': True, 'AttributeName': 'exp'})
    raise SystemExit('enabling TTL twice succeeded')
except c.exceptions.ClientError as e:
    assert e.response['Error']['Message'] == 'TimeToLive is already enabled', e.response
c.update_table(TableName='sessions', StreamSpecification={'StreamEnabled': False})
d = c.update_table(TableName='sessions', StreamSpecification={'StreamEnabled': True, 'StreamViewType': 'OLD_IMAGE'})['TableDescription']
arn3 = d['LatestStreamArn']
shard3 = s.describe_stream(StreamArn=arn3)['StreamDescription']['Shards'][0]['ShardId']
it = s.get_shard_iterator(StreamArn=arn3, ShardId=shard3, ShardIteratorType='LATEST')['ShardIterator']
c.put_item(TableName='sessions', Item={'id': {'S': 'old'}, 'exp': {'N': str(int(time.time()) - 10)}})
c.put_item(TableName='sessions', Item={'id': {'S': 'str'}, 'exp': {'S': 'never'}})
for _ in range(100):
    if 'Item' not in c.get_item(TableName='sessions', Key={'id': {'S': 'old'}}):
        break
    time.sleep(0.1)
else:
    raise SystemExit('the expired item is still there')
recs = []
for _ in range(5):
    r = s.get_records(ShardIterator=it)
    recs += r['Records']
    it = r['NextShardIterator']
got = [(x['eventName'], x['dynamodb']['Keys']['id']['S'], x.get('userIdentity')) for x in recs]
svc = {'Type': 'Service', 'PrincipalId': 'dynamodb.amazonaws.com'}
assert got == [('INSERT', 'old', None), ('INSERT', 'str', None), ('REMOVE', 'old', svc)], got
assert recs[2]['dynamodb']['OldImage']['id'] == {'S': 'old'} and 'NewImage' not in recs[2]['dynamodb']
PYEOF
expect_ok "stream records, TTL" py "$T/s2.py" "$T/stream.json"
expect_eq "ttl_attribute in _schema.json" "$(jq -r .ttl_attribute "$MNT/sessions/_schema.json")" "exp"
expect_eq "the string expiry stays" "$(jq -r .exp "$MNT/sessions/str.json")" "never"
[ -e "$MNT/sessions/old.json" ] && fail "the expired item is still a file"
unmount

# `dynfs serve`: the TTL setting survived, the sweeper runs
"$DYNFS" serve "$STORE" --listen "127.0.0.1:$PORT" 2>>"$T/serve.log" &
SERVE_PID=$!
wait_port "$PORT" || fail "serve did not listen: $(cat "$T/serve.log")"
cat >"$T/s3.py" <<'PYEOF'
import os, time, boto3
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
t = c.describe_time_to_live(TableName='sessions')['TimeToLiveDescription']
assert t == {'TimeToLiveStatus': 'ENABLED', 'AttributeName': 'exp'}, t
c.put_item(TableName='sessions', Item={'id': {'S': 'soon'}, 'exp': {'N': str(int(time.time()) - 1)}})
for _ in range(100):
    if 'Item' not in c.get_item(TableName='sessions', Key={'id': {'S': 'soon'}}):
        break
    time.sleep(0.1)
else:
    raise SystemExit('serve did not sweep the expired item')
c.update_time_to_live(TableName='sessions', TimeToLiveSpecification={'Enabled': False, 'AttributeName': 'exp'})
assert c.describe_time_to_live(TableName='sessions')['TimeToLiveDescription']['TimeToLiveStatus'] == 'DISABLED'
PYEOF
expect_ok "serve: TTL kept and swept" py "$T/s3.py"
seq1=$(cat "$STORE/changes.seq")
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "serve exit status" "$?" "0"
seq2=$(cat "$STORE/changes.seq")
[ "$seq2" -lt "$seq1" ] || fail "serve did not record the exact next seq at close ($seq1 -> $seq2)"
mount_store
expect_eq "TTL disabled through the API" "$(jq -r '.ttl_attribute // "none"' "$MNT/sessions/_schema.json")" "none"
unmount
done_test
