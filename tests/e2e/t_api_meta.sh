# t_api_meta.sh - what DescribeTable reports survives a restart of
# `dynfs serve`, and UpdateItem's UPDATED_OLD / UPDATED_NEW return only
# the updated nested parts (SPEC §9, docs/api.md).
#
#  - boto3 creates a provisioned table with a local and a global index
#    (its own throughput), a stream and tags, and an on-demand table whose
#    billing mode, stream and tags UpdateTable / TagResource change later;
#  - DescribeTable, ListTagsOfResource and ListStreams answer the same
#    after SIGTERM (snapshot) and after SIGKILL (journal replay) and a
#    restart; the stream keeps its ARN and serves records written after
#    the restart;
#  - a table made through the mount (no saved metadata, as every table of
#    an older store) is described with the defaults, and editing its
#    _schema.json through the mount keeps the API's metadata;
#  - SET a.b / REMOVE l[0] / ADD a.n with UPDATED_OLD and UPDATED_NEW
#    answer {a: {b: ...}}, not the whole map.
need_local "the API server over a local store"

source ./api_lib.sh
mkdir -p "$STORE" "$MNT"

start_serve() {
	PORT=$(free_port)
	ENDPOINT=http://127.0.0.1:$PORT
	"$DYNFS" serve "$STORE" --listen "127.0.0.1:$PORT" 2>>"$T/serve.log" &
	SERVE_PID=$!
	wait_port "$PORT" || fail "serve did not listen: $(cat "$T/serve.log")"
}

cat >"$T/describe.py" <<'PYEOF'
# describe.py OUT: every table's description (what may not change), tags, streams
import json, os, sys, boto3
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
s = boto3.client('dynamodbstreams', endpoint_url=os.environ['ENDPOINT'])
drop = {'ItemCount', 'TableSizeBytes', 'IndexSizeBytes'}
def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items() if k not in drop}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x.isoformat() if hasattr(x, 'isoformat') else x
out = {}
for name in c.list_tables()['TableNames']:
    d = c.describe_table(TableName=name)['Table']
    out[name] = {'table': clean(d),
                 'tags': c.list_tags_of_resource(ResourceArn=d['TableArn'])['Tags']}
out['streams'] = sorted(x['StreamArn'] for x in s.list_streams()['Streams'])
json.dump(out, open(sys.argv[1], 'w'), indent=1, sort_keys=True)
PYEOF

start_serve
cat >"$T/create.py" <<'PYEOF'
import os, boto3
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
c.create_table(TableName='quiz-stats',
    KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}, {'AttributeName': 'week', 'KeyType': 'RANGE'}],
    AttributeDefinitions=[{'AttributeName': a, 'AttributeType': 'S'} for a in ('id', 'week', 'level')] +
                         [{'AttributeName': 'score', 'AttributeType': 'N'}],
    ProvisionedThroughput={'ReadCapacityUnits': 7, 'WriteCapacityUnits': 3},
    LocalSecondaryIndexes=[{'IndexName': 'by-score', 'Projection': {'ProjectionType': 'KEYS_ONLY'},
        'KeySchema': [{'AttributeName': 'id', 'KeyType': 'HASH'}, {'AttributeName': 'score', 'KeyType': 'RANGE'}]}],
    GlobalSecondaryIndexes=[{'IndexName': 'by-level', 'Projection': {'ProjectionType': 'ALL'},
        'KeySchema': [{'AttributeName': 'level', 'KeyType': 'HASH'}],
        'ProvisionedThroughput': {'ReadCapacityUnits': 2, 'WriteCapacityUnits': 1}}],
    StreamSpecification={'StreamEnabled': True, 'StreamViewType': 'NEW_IMAGE'},
    Tags=[{'Key': 'team', 'Value': 'hedy'}])
c.create_table(TableName='users', BillingMode='PAY_PER_REQUEST',
    KeySchema=[{'AttributeName': 'username', 'KeyType': 'HASH'}],
    AttributeDefinitions=[{'AttributeName': 'username', 'AttributeType': 'S'}])
arn = c.describe_table(TableName='users')['Table']['TableArn']
c.tag_resource(ResourceArn=arn, Tags=[{'Key': 'env', 'Value': 'dev'}, {'Key': 'x', 'Value': 'y'}])
c.untag_resource(ResourceArn=arn, TagKeys=['x'])
c.update_table(TableName='users', BillingMode='PROVISIONED',
               ProvisionedThroughput={'ReadCapacityUnits': 4, 'WriteCapacityUnits': 4},
               StreamSpecification={'StreamEnabled': True, 'StreamViewType': 'KEYS_ONLY'})
c.put_item(TableName='quiz-stats', Item={'id': {'S': 'a'}, 'week': {'S': '1'}, 'level': {'S': '3'},
                                         'score': {'N': '9'}})
d = c.describe_table(TableName='quiz-stats')['Table']
assert [i['IndexName'] for i in d['LocalSecondaryIndexes']] == ['by-score'], d
assert d['ProvisionedThroughput']['ReadCapacityUnits'] == 7, d
tags = c.list_tags_of_resource(ResourceArn=d['TableArn'])['Tags']
assert tags == [{'Key': 'team', 'Value': 'hedy'}], tags
print('ok')
PYEOF
expect_ok "boto3 creates tables with metadata" py "$T/create.py"
expect_ok "describe before" py "$T/describe.py" "$T/before.json"

# SIGTERM: a snapshot holds the metadata
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
start_serve
expect_ok "describe after SIGTERM" py "$T/describe.py" "$T/after-term.json"
expect_eq "DescribeTable, tags and streams after a clean restart" \
	"$(diff "$T/before.json" "$T/after-term.json" && echo same)" "same"

# a change after the snapshot, then SIGKILL: the journal holds it
cat >"$T/change.py" <<'PYEOF'
import os, boto3
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
c.update_table(TableName='users', BillingMode='PAY_PER_REQUEST',
               StreamSpecification={'StreamEnabled': False})
c.tag_resource(ResourceArn=c.describe_table(TableName='users')['Table']['TableArn'],
               Tags=[{'Key': 'after', 'Value': 'kill'}])
print('ok')
PYEOF
expect_ok "change after the snapshot" py "$T/change.py"
expect_ok "describe before kill" py "$T/describe.py" "$T/before-kill.json"
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
start_serve
expect_ok "describe after SIGKILL" py "$T/describe.py" "$T/after-kill.json"
expect_eq "DescribeTable, tags and streams after a crash" \
	"$(diff "$T/before-kill.json" "$T/after-kill.json" && echo same)" "same"
expect_eq "users is on demand again" \
	"$(jq -r '.users.table.BillingModeSummary.BillingMode' "$T/after-kill.json")" "PAY_PER_REQUEST"
expect_eq "the local index is still local" \
	"$(jq -r '."quiz-stats".table.LocalSecondaryIndexes[0].IndexName' "$T/after-kill.json")" "by-score"

# the stream goes on under its ARN after the restart
cat >"$T/stream.py" <<'PYEOF'
import os, boto3
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
s = boto3.client('dynamodbstreams', endpoint_url=os.environ['ENDPOINT'])
arn = c.describe_table(TableName='quiz-stats')['Table']['LatestStreamArn']
d = s.describe_stream(StreamArn=arn)['StreamDescription']
assert d['StreamViewType'] == 'NEW_IMAGE' and d['StreamStatus'] == 'ENABLED', d
it = s.get_shard_iterator(StreamArn=arn, ShardId=d['Shards'][0]['ShardId'],
                          ShardIteratorType='TRIM_HORIZON')['ShardIterator']
c.put_item(TableName='quiz-stats', Item={'id': {'S': 'b'}, 'week': {'S': '2'}})
recs = s.get_records(ShardIterator=it)['Records']
assert [r['dynamodb']['NewImage']['id']['S'] for r in recs] == ['b'], recs
print('ok')
PYEOF
expect_ok "the stream after a restart" py "$T/stream.py"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"

# a table from the mount: defaults; a schema edit through the mount keeps the metadata
mount_store
mkdir "$MNT/notes" || fail "mkdir notes"
jq '.indexes += [{"name": "by-x", "partition_key": {"name": "x", "type": "S"}}]' \
	"$MNT/quiz-stats/_schema.json" >"$T/schema.json"
cp "$T/schema.json" "$MNT/quiz-stats/_schema.json" || fail "schema edit through the mount"
unmount
start_serve
cat >"$T/defaults.py" <<'PYEOF'
import os, boto3
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
d = c.describe_table(TableName='notes')['Table']
assert d['BillingModeSummary']['BillingMode'] == 'PAY_PER_REQUEST', d
assert 'StreamSpecification' not in d and 'LocalSecondaryIndexes' not in d, d
d = c.describe_table(TableName='quiz-stats')['Table']
assert sorted(i['IndexName'] for i in d['GlobalSecondaryIndexes']) == ['by-level', 'by-x'], d
assert [i['IndexName'] for i in d['LocalSecondaryIndexes']] == ['by-score'], d
assert d['ProvisionedThroughput']['ReadCapacityUnits'] == 7, d
assert d['StreamSpecification']['StreamViewType'] == 'NEW_IMAGE', d
print('ok')
PYEOF
expect_ok "defaults for a mount table, metadata kept across a schema edit" py "$T/defaults.py"

# UPDATED_OLD / UPDATED_NEW of nested paths
cat >"$T/updated.py" <<'PYEOF'
import json, os, boto3
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
item = {'username': {'S': 'hedy'}, 'a': {'M': {'b': {'N': '1'}, 'n': {'N': '2'}, 'keep': {'S': 'k'}}},
        'l': {'L': [{'N': '0'}, {'N': '1'}, {'N': '2'}]}, 'top': {'S': 't'}}
cases = [
    ('SET a.b = :v', 'UPDATED_OLD', {'a': {'M': {'b': {'N': '1'}}}}),
    ('SET a.b = :v', 'UPDATED_NEW', {'a': {'M': {'b': {'N': '9'}}}}),
    ('SET a.c = :v', 'UPDATED_OLD', None),
    ('SET a.c = :v', 'UPDATED_NEW', {'a': {'M': {'c': {'N': '9'}}}}),
    ('ADD a.n :v', 'UPDATED_NEW', {'a': {'M': {'n': {'N': '11'}}}}),
    ('SET l[1] = :v', 'UPDATED_OLD', {'l': {'L': [{'N': '1'}]}}),
    ('REMOVE a.b', 'UPDATED_OLD', {'a': {'M': {'b': {'N': '1'}}}}),
    ('REMOVE a.b', 'UPDATED_NEW', None),
    ('SET a.b = :v, top = :v', 'UPDATED_NEW', {'a': {'M': {'b': {'N': '9'}}}, 'top': {'N': '9'}}),
]
for expr, rv, want in cases:
    c.put_item(TableName='users', Item=item)
    kw = {':v': {'N': '9'}} if ':v' in expr else {}
    r = c.update_item(TableName='users', Key={'username': {'S': 'hedy'}}, UpdateExpression=expr,
                      ReturnValues=rv, **({'ExpressionAttributeValues': kw} if kw else {}))
    assert r.get('Attributes') == want, (expr, rv, r.get('Attributes'), want)
print('ok')
PYEOF
expect_ok "UPDATED_OLD / UPDATED_NEW of nested paths" py "$T/updated.py"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
done_test
