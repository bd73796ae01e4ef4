# t_api.sh - the DynamoDB API beside the mount (SPEC §9): boto3 and the
# AWS CLI write and read the design notes' tables while the same data is
# checked through the mount with ls, cat and jq, and a write through the
# mount is seen by boto3 at once.
#
#  - create `users` (username, email-index) and `quiz-stats` (id#level +
#    week, id-week-index) with boto3; put, get, query an index, paginate,
#    batch, transact, conditional failures with their error codes;
#  - the mount lists the tables, items are JSON files, index views see
#    API writes, an update through the API is visible to cat at once;
#  - an item written with echo > file is read back by boto3 and the CLI;
#  - a rejected API write is a line in /_errors.
need_local "the DynamoDB API server beside a mount (-o api) serves the local store"

source ./api_lib.sh
PORT=$(free_port)
ENDPOINT=http://127.0.0.1:$PORT
mount_fresh -o api=127.0.0.1:$PORT
wait_port "$PORT" || { fail "API not listening"; done_test; }

cat >"$T/setup.py" <<'PYEOF'
import os, boto3
from boto3.dynamodb.conditions import Key, Attr
ddb = boto3.resource('dynamodb', endpoint_url=os.environ['ENDPOINT'])
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
users = ddb.create_table(TableName='users', BillingMode='PAY_PER_REQUEST',
    KeySchema=[{'AttributeName': 'username', 'KeyType': 'HASH'}],
    AttributeDefinitions=[{'AttributeName': 'username', 'AttributeType': 'S'},
                          {'AttributeName': 'email', 'AttributeType': 'S'}],
    GlobalSecondaryIndexes=[{'IndexName': 'email-index',
        'KeySchema': [{'AttributeName': 'email', 'KeyType': 'HASH'}],
        'Projection': {'ProjectionType': 'ALL'}}])
users.wait_until_exists()
quiz = ddb.create_table(TableName='quiz-stats', BillingMode='PAY_PER_REQUEST',
    KeySchema=[{'AttributeName': 'id#level', 'KeyType': 'HASH'},
               {'AttributeName': 'week', 'KeyType': 'RANGE'}],
    AttributeDefinitions=[{'AttributeName': 'id#level', 'AttributeType': 'S'},
                          {'AttributeName': 'week', 'AttributeType': 'S'},
                          {'AttributeName': 'id', 'AttributeType': 'S'}],
    GlobalSecondaryIndexes=[{'IndexName': 'id-week-index',
        'KeySchema': [{'AttributeName': 'id', 'KeyType': 'HASH'},
                      {'AttributeName': 'week', 'KeyType': 'RANGE'}],
        'Projection': {'ProjectionType': 'ALL'}}])
users.put_item(Item={'username': 'hedy', 'email': 'hedy@hedy.org', 'level': 3,
                     'tags': {'a', 'b'}, 'profile': {'langs': ['nl', 'en']}})
users.put_item(Item={'username': 'felienne', 'email': 'f@hedy.org', 'level': 18})
with quiz.batch_writer() as b:
    for w in range(1, 31):
        b.put_item(Item={'id#level': 'felienne#3', 'week': '2022-%02d' % w, 'id': 'felienne',
                         'scores': [w, w + 1], 'finished': w % 2})
assert users.get_item(Key={'username': 'hedy'})['Item']['email'] == 'hedy@hedy.org'
r = users.query(IndexName='email-index', KeyConditionExpression=Key('email').eq('f@hedy.org'))
assert [i['username'] for i in r['Items']] == ['felienne'], r
# paginate a query three items at a time
p = c.get_paginator('query')
pages = list(p.paginate(TableName='quiz-stats', KeyConditionExpression='#k = :k',
    ExpressionAttributeNames={'#k': 'id#level'},
    ExpressionAttributeValues={':k': {'S': 'felienne#3'}}, PaginationConfig={'PageSize': 7}))
assert sum(pg['Count'] for pg in pages) == 30 and len(pages) >= 5, [pg['Count'] for pg in pages]
r = quiz.query(KeyConditionExpression=Key('id#level').eq('felienne#3') & Key('week').begins_with('2022-1'),
               FilterExpression=Attr('finished').eq(1), ScanIndexForward=False)
assert [i['week'] for i in r['Items']] == ['2022-19', '2022-17', '2022-15', '2022-13', '2022-11'], r['Items']
assert r['ScannedCount'] == 10
n = sum(pg['Count'] for pg in c.get_paginator('scan').paginate(TableName='quiz-stats',
        PaginationConfig={'PageSize': 4}))
assert n == 30, n
# conditional failures
try:
    users.put_item(Item={'username': 'hedy'}, ConditionExpression=Attr('username').not_exists())
    raise SystemExit('conditional put succeeded')
except c.exceptions.ConditionalCheckFailedException:
    pass
try:
    c.transact_write_items(TransactItems=[
        {'Update': {'TableName': 'users', 'Key': {'username': {'S': 'hedy'}},
                    'UpdateExpression': 'ADD coins :n', 'ExpressionAttributeValues': {':n': {'N': '5'}}}},
        {'ConditionCheck': {'TableName': 'users', 'Key': {'username': {'S': 'felienne'}},
                            'ConditionExpression': '#l > :l', 'ExpressionAttributeNames': {'#l': 'level'},
                            'ExpressionAttributeValues': {':l': {'N': '99'}}}}])
    raise SystemExit('transaction succeeded')
except c.exceptions.TransactionCanceledException as e:
    codes = [r['Code'] for r in e.response['CancellationReasons']]
    assert codes == ['None', 'ConditionalCheckFailed'], codes
# DynamoDB's reserved words are refused as bare names, as the service refuses them
try:
    users.get_item(Key={'username': 'hedy'}, ProjectionExpression='level')
    raise SystemExit('a reserved word was accepted')
except c.exceptions.ClientError as e:
    assert 'reserved keyword: level' in str(e), e
c.transact_write_items(TransactItems=[
    {'Update': {'TableName': 'users', 'Key': {'username': {'S': 'hedy'}},
                'UpdateExpression': 'ADD coins :n', 'ExpressionAttributeValues': {':n': {'N': '5'}}}},
    {'Put': {'TableName': 'quiz-stats', 'Item': {'id#level': {'S': 'hedy#1'}, 'week': {'S': '2023-01'},
             'id': {'S': 'hedy'}}}}])
r = c.batch_get_item(RequestItems={'users': {'Keys': [{'username': {'S': 'hedy'}},
                                                      {'username': {'S': 'felienne'}}]}})
assert len(r['Responses']['users']) == 2
print('setup ok')
PYEOF
expect_ok "boto3 setup" py "$T/setup.py"
cat "$T/err" >&2

# the same data through the mount
expect_eq "tables" "$(ls "$MNT" | grep -v '^_' | tr '\n' ' ')" "quiz-stats users "
expect_eq "hedy's email" "$(jq -r .email "$MNT/users/hedy.json")" "hedy@hedy.org"
expect_eq "hedy's coins (transaction)" "$(jq -r .coins "$MNT/users/hedy.json")" "5"
expect_eq "a set" "$(jq -c .tags "$MNT/users/hedy.json")" '{"$SS":["a","b"]}'
expect_eq "weeks" "$(ls "$MNT/quiz-stats/felienne#3" | wc -l)" "30"
expect_eq "index view" "$(ls "$MNT/users/_index/email-index/")" "f@hedy.org
hedy@hedy.org"
expect_eq "quiz schema" "$(jq -c '[.partition_key.name, .sort_key.name, .indexes[0].name]' \
	"$MNT/quiz-stats/_schema.json")" '["id#level","week","id-week-index"]'

# an API update is visible to cat at once (the kernel cache was invalidated)
cat "$MNT/users/felienne.json" >/dev/null
expect_ok "cli update" "$AWS" dynamodb update-item --endpoint-url "$ENDPOINT" --table-name users \
	--key '{"username": {"S": "felienne"}}' --update-expression 'SET #l = :l' \
	--expression-attribute-names '{"#l": "level"}' --expression-attribute-values '{":l": {"N": "19"}}'
expect_eq "level after the CLI's update" "$(jq .level "$MNT/users/felienne.json")" "19"

# a write through the mount, read by boto3 and the CLI
echo '{"email": "new@hedy.org", "level": 1}' >"$MNT/users/newbie.json" || fail "echo > item"
cat >"$T/read.py" <<'PYEOF'
import os, boto3
t = boto3.resource('dynamodb', endpoint_url=os.environ['ENDPOINT']).Table('users')
i = t.get_item(Key={'username': 'newbie'})['Item']
assert i == {'username': 'newbie', 'email': 'new@hedy.org', 'level': 1}, i
print('read ok')
PYEOF
expect_ok "boto3 reads the mount's write" py "$T/read.py"
expect_ok "cli get-item" "$AWS" dynamodb get-item --endpoint-url "$ENDPOINT" --table-name users \
	--key '{"username": {"S": "newbie"}}' --output json
expect_eq "cli sees it" "$(jq -r .Item.email.S "$T/out")" "new@hedy.org"
rm "$MNT/users/newbie.json" || fail "rm"
expect_ok "cli get-item after rm" "$AWS" dynamodb get-item --endpoint-url "$ENDPOINT" \
	--table-name users --key '{"username": {"S": "newbie"}}' --output json
expect_eq "gone for the API too" "$(cat "$T/out")" ""

# a rejected API write goes to /_errors; a failed condition does not
expect_fail "put without key" "ValidationException" "$AWS" dynamodb put-item \
	--endpoint-url "$ENDPOINT" --table-name users --item '{"email": {"S": "x"}}'
grep -q "api PutItem users: .*username" "$MNT/_errors" || fail "/_errors: $(cat "$MNT/_errors")"

# the table's _stats.json counts the API's requests, per operation
cat >"$T/counted.py" <<'PYEOF'
import os, boto3, botocore
c = boto3.client('dynamodb', endpoint_url=os.environ['ENDPOINT'])
c.create_table(TableName='counted', BillingMode='PAY_PER_REQUEST',
    KeySchema=[{'AttributeName': 'k', 'KeyType': 'HASH'}],
    AttributeDefinitions=[{'AttributeName': 'k', 'AttributeType': 'S'}])
for i in range(3):
    c.put_item(TableName='counted', Item={'k': {'S': str(i)}})
for i in range(2):
    c.get_item(TableName='counted', Key={'k': {'S': str(i)}})
try:
    c.put_item(TableName='counted', Item={'x': {'S': 'no key'}})
    raise SystemExit('accepted an item without its key')
except botocore.exceptions.ClientError:
    pass
c.batch_write_item(RequestItems={'counted': [{'PutRequest': {'Item': {'k': {'S': 'b'}}}}],
                                 'users': [{'PutRequest': {'Item': {'username': {'S': 'b'}}}}]})
print('ok')
PYEOF
expect_ok "requests for _stats.json" py "$T/counted.py"
expect_eq "API counts in _stats.json" "$(jq -c '.api | [.requests, .errors,
	.operations.CreateTable.requests, .operations.PutItem.requests, .operations.PutItem.errors,
	.operations.GetItem.requests, .operations.BatchWriteItem.requests]' "$MNT/counted/_stats.json")" \
	"[8,1,1,4,1,2,1]"
expect_eq "a batch counts for each table" \
	"$(jq '.api.operations.BatchWriteItem.requests' "$MNT/users/_stats.json")" "1"
rm -r "$MNT/counted/" || fail "rm -r counted"
expect_ok "cli list-tables" "$AWS" dynamodb list-tables --endpoint-url "$ENDPOINT" --output json
expect_eq "cli tables" "$(jq -c .TableNames "$T/out")" '["quiz-stats","users"]'

# delete a table through the API: the directory goes
expect_ok "delete table" "$AWS" dynamodb delete-table --endpoint-url "$ENDPOINT" \
	--table-name quiz-stats
expect_eq "tables after delete" "$(ls "$MNT" | grep -v '^_')" "users"
unmount
done_test
