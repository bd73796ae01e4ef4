# t_api_hedy.sh - Hedy's production code path against the endpoint
# (issue 16): boto3 code shaped like the AWS storage layer of Hedy's
# website/dynamo.py (written for this test from its description, no Hedy
# code) runs against `dynfs STORE MNT -o api=` over a store imported from
# a generated Hedy dev_database.json (tests/e2e/hedy_file.py), with the
# tables, keys and indexes of schemas/hedy.json; what it writes is checked
# through the mount, and what is written through the mount is what it
# reads.
#
# The layer's calls: get_item; put_item (with a condition, as a sign-up
# does); update_item with legacy AttributeUpdates (plain values, a None
# that removes, ADD to a number, to a string set and to a list, DELETE
# from a set)
# and ReturnValues ALL_NEW; query on a table and on an index with
# "#field = :field" key conditions, a sort-key range, ScanIndexForward,
# Limit and ExclusiveStartKey paging, a filter; scan paged with Limit;
# batch_get_item; delete_item; describe_table's ItemCount; and TTL on
# Hedy's tokens table (UpdateTimeToLive on "ttl", as its production
# tables have), which removes the expired token.
need_local "the API server over a local store (-o api)"

source ./api_lib.sh
export LC_ALL=C.UTF-8
H=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/hedy_file.py
mkdir -p "$STORE" "$MNT"
$PY "$H" quirks "$T/dev_database.json" >/dev/null || fail "generating the Hedy file"
"$DYNFS" import "$STORE" "$T/dev_database.json" --format hedy >"$T/out" 2>"$T/err" ||
	fail "import: $(cat "$T/err")"
PORT=$(free_port)
ENDPOINT=http://127.0.0.1:$PORT
mount_store -o api=127.0.0.1:$PORT
wait_port "$PORT" || { fail "API not listening"; done_test; }
echo '{"username": "u3", "email": "u3@example.org", "created": 1667490000000, "epoch": 1}' \
	>"$MNT/users/_batch" || fail "_batch through the mount"

cat >"$T/hedy_aws.py" <<'PYEOF'
import os, sys, time, boto3
from boto3.dynamodb.types import TypeSerializer, TypeDeserializer
from decimal import Decimal

SER, DES = TypeSerializer(), TypeDeserializer()

def plain(v):
    if isinstance(v, Decimal):
        return int(v) if v == int(v) else float(v)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, set):
        return {plain(x) for x in v}
    return v

class Increment:
    def __init__(self, d=1): self.d = d
    def wire(self): return {'Action': 'ADD', 'Value': {'N': str(self.d)}}

class AddStrings:
    def __init__(self, *e): self.e = e
    def wire(self): return {'Action': 'ADD', 'Value': {'SS': list(self.e)}}

class AddToList:
    def __init__(self, *e): self.e = e
    def wire(self): return {'Action': 'ADD', 'Value': {'L': [SER.serialize(x) for x in self.e]}}

class RemoveStrings:
    def __init__(self, *e): self.e = e
    def wire(self): return {'Action': 'DELETE', 'Value': {'SS': list(self.e)}}

class AwsStore:
    """The shape of a Hedy-style storage layer over the low-level client."""
    def __init__(self, endpoint):
        self.db = boto3.client('dynamodb', region_name='eu-west-1', endpoint_url=endpoint)

    enc = staticmethod(lambda d: {k: SER.serialize(v) for k, v in d.items()})
    dec = staticmethod(lambda d: None if d is None else {k: plain(DES.deserialize(v)) for k, v in d.items()})

    def get(self, table, key):
        return self.dec(self.db.get_item(TableName=table, Key=self.enc(key)).get('Item'))

    def put(self, table, data, unique=None):
        kw = {}
        if unique:
            kw = dict(ConditionExpression='attribute_not_exists(#k)', ExpressionAttributeNames={'#k': unique})
        self.db.put_item(TableName=table, Item=self.enc(data), **kw)

    def update(self, table, key, updates):
        au = {}
        for k, v in updates.items():
            if hasattr(v, 'wire'):
                au[k] = v.wire()
            elif v is None:
                au[k] = {'Action': 'DELETE'}
            else:
                au[k] = {'Value': SER.serialize(v)}
        r = self.db.update_item(TableName=table, Key=self.enc(key), AttributeUpdates=au, ReturnValues='ALL_NEW')
        return self.dec(r.get('Attributes', {}))

    def query(self, table, key, index=None, sort_range=None, reverse=False, limit=None, token=None, filter=None):
        cond = ' AND '.join('#%s = :%s' % (f, f) for f in key)
        names = {'#' + f: f for f in key}
        values = {':' + f: SER.serialize(v) for f, v in key.items()}
        if sort_range:
            f, lo, hi = sort_range
            cond += ' AND #%s BETWEEN :lo AND :hi' % f
            names['#' + f] = f
            values[':lo'], values[':hi'] = SER.serialize(lo), SER.serialize(hi)
        kw = dict(TableName=table, KeyConditionExpression=cond, ScanIndexForward=not reverse)
        if filter:
            fexp = ' AND '.join('#f_%s = :f_%s' % (f, f) for f in filter)
            kw['FilterExpression'] = fexp
            names.update({'#f_' + f: f for f in filter})
            values.update({':f_' + f: SER.serialize(v) for f, v in filter.items()})
        kw.update(ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        if index: kw['IndexName'] = index
        if limit: kw['Limit'] = limit
        if token: kw['ExclusiveStartKey'] = self.enc(token)
        r = self.db.query(**kw)
        return [self.dec(x) for x in r['Items']], self.dec(r.get('LastEvaluatedKey'))

    def scan(self, table, limit=None, token=None):
        kw = dict(TableName=table)
        if limit: kw['Limit'] = limit
        if token: kw['ExclusiveStartKey'] = self.enc(token)
        r = self.db.scan(**kw)
        return [self.dec(x) for x in r['Items']], self.dec(r.get('LastEvaluatedKey'))

    def batch_get(self, table, keys):
        r = self.db.batch_get_item(RequestItems={table: {'Keys': [self.enc(k) for k in keys]}})
        return [self.dec(x) for x in r['Responses'][table]]

    def delete(self, table, key):
        self.db.delete_item(TableName=table, Key=self.enc(key))

    def item_count(self, table):
        return self.db.describe_table(TableName=table)['Table']['ItemCount']

s = AwsStore(os.environ['ENDPOINT'])
# what the import stored, read the way the app reads it
u1 = s.get('users', {'username': 'u1'})
assert u1['keyword_language'] == 'nl' and u1['classes'] == {'c1', 'c2'}, u1
assert u1['ratio'] == 100 and u1['big'] == 12345678901234567890123, u1
assert s.get('users', {'username': 'u3'})['email'] == 'u3@example.org'   # written through the mount
# sign-up: a conditional put, and the second one fails as on AWS
s.put('users', {'username': 'u4', 'email': 'u4@example.org', 'created': 1667490001000, 'epoch': 1},
      unique='username')
try:
    s.put('users', {'username': 'u4'}, unique='username')
    raise SystemExit('a second sign-up of u4 succeeded')
except s.db.exceptions.ConditionalCheckFailedException:
    pass
# updates as the app sends them
n = s.update('users', {'username': 'u4'}, {'last_login': 1667490002000, 'logins': Increment(),
                                            'classes': AddStrings('c1', 'c9'), 'email': None})
assert n['logins'] == 1 and n['classes'] == {'c1', 'c9'} and 'email' not in n, n
n = s.update('users', {'username': 'u4'}, {'logins': Increment(2), 'classes': RemoveStrings('c9')})
assert n['logins'] == 3 and n['classes'] == {'c1'}, n
# achievements: lists grow by the legacy ADD of a list (appends, creating it)
n = s.update('achievements', {'username': 'u1'}, {'achieved': AddToList('first_program'),
                                                  'new_list': AddToList(1, 2)})
assert n['achieved'] == ['first_program'] and n['new_list'] == [1, 2], n
n = s.update('achievements', {'username': 'u1'}, {'achieved': AddToList('level_2')})
assert n['achieved'] == ['first_program', 'level_2'], n
# the email index, the epoch-created index with a range, KEYS_ONLY epoch-username index
assert [x['username'] for x in s.query('users', {'email': 'u2@example.org'}, index='email-index')[0]] == ['u2']
rows, _ = s.query('users', {'epoch': 1}, index='epoch-created-index',
                  sort_range=('created', 1667487426140, 1667490000000), reverse=True)
assert [x['username'] for x in rows] == ['u3', 'u2'], rows
rows, _ = s.query('users', {'epoch': 1}, index='epoch-username-index')
assert [sorted(x) for x in rows] == [['epoch', 'username']] * len(rows), rows
# programs: many for a user through username-index, paged by 2, newest first
for i in range(7):
    s.put('programs', {'id': 'q%d' % i, 'username': 'u4', 'date': 1667500000000 + i, 'level': i % 3 + 1,
                       'public': i % 2, 'code': 'print %d' % i, 'name': 'prog %d' % i})
got, token = [], None
while True:
    rows, token = s.query('programs', {'username': 'u4'}, index='username-index', reverse=True, limit=2, token=token)
    got += [r['id'] for r in rows]
    if not token:
        break
assert got == ['q6', 'q5', 'q4', 'q3', 'q2', 'q1', 'q0'], got
rows, _ = s.query('programs', {'username': 'u4'}, index='username-index', filter={'level': 1})
assert sorted(r['id'] for r in rows) == ['q0', 'q3', 'q6'], rows
rows, _ = s.query('programs', {'public': 1}, index='public-date-index')
assert {'q1', 'q3', 'q5', 'p1'} <= {r['id'] for r in rows}, rows
# a table scan, paged as the admin pages do
seen, token = [], None
while True:
    rows, token = s.scan('programs', limit=3, token=token)
    seen += [r['id'] for r in rows]
    if not token:
        break
assert sorted(seen) == sorted(['p1', 'p2'] + ['q%d' % i for i in range(7)]), seen
assert s.item_count('programs') == 9
assert sorted(x['id'] for x in s.batch_get('programs', [{'id': 'p1'}, {'id': 'q0'}, {'id': 'nope'}])) == ['p1', 'q0']
s.delete('programs', {'id': 'q0'})
assert s.get('programs', {'id': 'q0'}) is None
# quiz stats: a table with a sort key
s.update('quiz-stats', {'id#level': 'u1#1', 'week': '2022-44'}, {'finished': Increment()})
rows, _ = s.query('quiz-stats', {'id': 'u1'}, index='id-week-index')
assert rows[0]['finished'] == 2, rows
# tokens expire the way Hedy's production table makes them expire
assert s.get('tokens', {'id': 't1'}) is not None
s.db.update_time_to_live(TableName='tokens', TimeToLiveSpecification={'Enabled': True, 'AttributeName': 'ttl'})
s.put('tokens', {'id': 't2', 'username': 'u4', 'ttl': int(time.time()) + 3600})
for _ in range(100):
    if s.get('tokens', {'id': 't1'}) is None:
        break
    time.sleep(0.1)
else:
    raise SystemExit('the expired token was not removed')
assert s.get('tokens', {'id': 't2'}) is not None
PYEOF
expect_ok "Hedy-shaped boto3 storage layer" py "$T/hedy_aws.py"
expect_eq "u4 through the mount" "$(jq -c '[.logins, .classes["$SS"], has("email")]' "$MNT/users/u4.json")" '[3,["c1"],false]'
expect_eq "a list grown by ADD, through the mount" "$(jq -c .achieved "$MNT/achievements/u1.json")" '["first_program","level_2"]'
expect_eq "a program through the mount" "$(jq -r .code "$MNT/programs/q6.json")" "print 6"
[ -e "$MNT/programs/q0.json" ] && fail "the deleted program is still a file"
expect_eq "u4's programs through the index view" "$(ls "$MNT/programs/_index/username-index/u4" 2>/dev/null | wc -l)" "6"
expect_eq "tokens' TTL in _schema.json" "$(jq -r .ttl_attribute "$MNT/tokens/_schema.json")" "ttl"
[ -e "$MNT/tokens/t1.json" ] && fail "the expired token is still a file"
unmount
done_test
