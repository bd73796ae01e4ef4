#!/usr/bin/python3
"""conformance.py - differential test of dynfs's DynamoDB API.

Sends the same seeded request sequences to dynfs and to reference
implementations (DynamoDB Local, dynalite) and compares the answers field
by field after normalising what must differ: time stamps, ARNs and ids,
ConsumedCapacity when it was not asked for, the order of Scan results,
index sizes and counts (DynamoDB Local refreshes them lazily).  Error
answers are compared by HTTP status and error type; messages are compared
separately and reported, since wording is where implementations differ
most.

Usage: conformance.py NAME=URL [NAME=URL...]   (the first is dynfs)
CONFORMANCE_MIN_<NAME>=P (NAME upper-cased, '-' as '_') fails the run when
the agreement with NAME falls below P percent.
Prints one line per reference:
  conformance: dynfs vs NAME: A/N responses agree (P%), M/N messages agree
and writes the differences to $CONFORMANCE_OUT (default /dev/stderr).
Requests are signed (SigV4, botocore) so every implementation accepts them.
"""
import json, os, random, sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDS = Credentials('AKIDCONFORMANCE', 'conformance-secret')
IGNORE = {'CreationDateTime', 'TableArn', 'IndexArn', 'TableId', 'LastUpdateToPayPerRequestDateTime',
          'LastIncreaseDateTime', 'LastDecreaseDateTime', 'NumberOfDecreasesToday',
          'IndexSizeBytes', 'TableSizeBytes', 'TableClassSummary', 'DeletionProtectionEnabled',
          'WarmThroughput', 'OnDemandThroughput', 'LatestStreamArn',
          'LatestStreamLabel', 'TableThroughputModeSummary',
          # Streams: names and positions each implementation picks
          'StreamArn', 'StreamLabel', 'ShardId', 'ShardIterator', 'NextShardIterator',
          'SequenceNumber', 'StartingSequenceNumber', 'EndingSequenceNumber', 'eventID',
          'ApproximateCreationDateTime', 'CreationRequestDateTime', 'LastEvaluatedStreamArn',
          'awsRegion'}
STREAMS_OPS = {'ListStreams', 'DescribeStream', 'GetShardIterator', 'GetRecords'}


def call(url, op, body):
    data = json.dumps(body).encode()
    req = AWSRequest(method='POST', url=url + '/', data=data, headers={
        'X-Amz-Target': ('DynamoDBStreams_20120810.' if op in STREAMS_OPS else 'DynamoDB_20120810.') + op,
        'Content-Type': 'application/x-amz-json-1.0'})
    SigV4Auth(CREDS, 'dynamodb', 'us-east-1').add_auth(req)
    r = urllib.request.Request(url + '/', data=data, headers=dict(req.headers.items()), method='POST')
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b'{}')
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b'{}')
        except ValueError:
            return e.code, {'raw': raw.decode('utf-8', 'replace')}


def norm(op, body, resp, asked_capacity):
    """What must agree: a canonical form of the answer."""
    def strip(x, depth=0):
        if isinstance(x, dict):
            out = {}
            for k, v in x.items():
                if k in IGNORE:
                    continue
                if k == 'ConsumedCapacity' and not asked_capacity:
                    continue
                if k == 'ItemCount' and depth > 2:   # index item counts refresh lazily
                    continue
                out[k] = strip(v, depth + 1)
            return out
        if isinstance(x, list):
            return [strip(v, depth + 1) for v in x]
        return x
    r = strip(resp)
    if op == 'Scan':
        if 'Items' in r:
            r['Items'] = sorted(r['Items'], key=lambda i: json.dumps(i, sort_keys=True))
        r.pop('LastEvaluatedKey', None)  # scan order is implementation-defined
    if 'ProvisionedThroughput' in r.get('Table', {}):
        pass
    for key in ('Table', 'TableDescription'):
        t = r.get(key)
        if isinstance(t, dict):
            if 'AttributeDefinitions' in t:
                t['AttributeDefinitions'] = sorted(t['AttributeDefinitions'], key=json.dumps)
            for ix in ('GlobalSecondaryIndexes', 'LocalSecondaryIndexes'):
                if ix in t:
                    t[ix] = sorted(t[ix], key=lambda i: i.get('IndexName', ''))
            if t.get('TableStatus') in ('CREATING', 'ACTIVE', 'UPDATING'):
                t['TableStatus'] = 'ACTIVE'
            for g in t.get('GlobalSecondaryIndexes', []):
                if g.get('IndexStatus') in ('CREATING', 'ACTIVE', 'UPDATING'):
                    g['IndexStatus'] = 'ACTIVE'
                g.pop('Backfilling', None)
    if 'Responses' in r and isinstance(r['Responses'], dict):
        r['Responses'] = {t: sorted(v, key=lambda i: json.dumps(i, sort_keys=True))
                          for t, v in r['Responses'].items()}
    msg = None
    if '__type' in r:
        msg = r.get('message', r.get('Message'))
        r = {'__type': r['__type'].split('#')[-1],
             'CancellationReasons': [{'Code': c.get('Code')} for c in r.get('CancellationReasons', [])],
             'Item': r.get('Item')}
    return r, msg


# ---- the request sequences ----

def av(v):
    """A Python value as an AttributeValue."""
    if isinstance(v, bool):
        return {'BOOL': v}
    if v is None:
        return {'NULL': True}
    if isinstance(v, (int, float)):
        return {'N': str(v)}
    if isinstance(v, str):
        return {'S': v}
    if isinstance(v, bytes):
        import base64
        return {'B': base64.b64encode(v).decode()}
    if isinstance(v, list):
        return {'L': [av(x) for x in v]}
    if isinstance(v, dict):
        return {'M': {k: av(x) for k, x in v.items()}}
    raise TypeError(v)


def item(**kw):
    return {k: (v if isinstance(v, dict) and len(v) == 1 and list(v)[0] in
                ('S', 'N', 'B', 'SS', 'NS', 'BS', 'L', 'M', 'NULL', 'BOOL') else av(v))
            for k, v in kw.items()}


def sequences(seed):
    rnd = random.Random(seed)
    T, Q = 'conf-users', 'conf-quiz'
    s = []
    add = lambda op, body: s.append((op, body))
    # tables
    add('CreateTable', {'TableName': T, 'BillingMode': 'PAY_PER_REQUEST',
                        'KeySchema': [{'AttributeName': 'username', 'KeyType': 'HASH'}],
                        'AttributeDefinitions': [{'AttributeName': 'username', 'AttributeType': 'S'},
                                                 {'AttributeName': 'email', 'AttributeType': 'S'}],
                        'GlobalSecondaryIndexes': [{'IndexName': 'email-index', 'KeySchema': [
                            {'AttributeName': 'email', 'KeyType': 'HASH'}],
                            'Projection': {'ProjectionType': 'ALL'}}]})
    add('CreateTable', {'TableName': Q, 'ProvisionedThroughput': {'ReadCapacityUnits': 5, 'WriteCapacityUnits': 5},
                        'KeySchema': [{'AttributeName': 'id#level', 'KeyType': 'HASH'},
                                      {'AttributeName': 'week', 'KeyType': 'RANGE'}],
                        'AttributeDefinitions': [{'AttributeName': 'id#level', 'AttributeType': 'S'},
                                                 {'AttributeName': 'week', 'AttributeType': 'S'}]})
    add('CreateTable', {'TableName': T, 'BillingMode': 'PAY_PER_REQUEST',
                        'KeySchema': [{'AttributeName': 'username', 'KeyType': 'HASH'}],
                        'AttributeDefinitions': [{'AttributeName': 'username', 'AttributeType': 'S'}]})
    add('CreateTable', {'TableName': 'x', 'BillingMode': 'PAY_PER_REQUEST',
                        'KeySchema': [{'AttributeName': 'a', 'KeyType': 'HASH'}],
                        'AttributeDefinitions': [{'AttributeName': 'a', 'AttributeType': 'S'}]})
    add('CreateTable', {'TableName': 'conf-bad', 'BillingMode': 'PAY_PER_REQUEST',
                        'KeySchema': [{'AttributeName': 'a', 'KeyType': 'HASH'}],
                        'AttributeDefinitions': [{'AttributeName': 'a', 'AttributeType': 'S'},
                                                 {'AttributeName': 'b', 'AttributeType': 'S'}]})
    add('DescribeTable', {'TableName': T})
    add('DescribeTable', {'TableName': 'conf-nope'})
    add('ListTables', {})
    add('ListTables', {'Limit': 1})
    # items with edge values
    add('PutItem', {'TableName': T, 'Item': item(username='hedy', email='hedy@hedy.org', level=3,
        big={'N': '12345678901234567890123456789012345678'}, small={'N': '1E-130'},
        huge={'N': '9.9999999999999999999999999999999999999E+125'}, tiny={'N': '-0.000001'},
        tags={'SS': ['b', 'a']}, nums={'NS': ['3', '1.50', '2']}, bin=b'\x00\xff',
        bins={'BS': ['AAE=', 'AQA=']}, nested={'a': [1, {'b': None, 'c': True}], 'd': {}},
        empty='', lst=[])})
    add('GetItem', {'TableName': T, 'Key': item(username='hedy')})
    add('GetItem', {'TableName': T, 'Key': item(username='hedy'), 'ProjectionExpression': 'nested.a[1].c, tags, #b',
                    'ExpressionAttributeNames': {'#b': 'big'}})
    add('GetItem', {'TableName': T, 'Key': item(username='nobody')})
    add('GetItem', {'TableName': T, 'Key': item(username='hedy', email='x')})
    add('GetItem', {'TableName': T, 'Key': {'username': {'N': '1'}}})
    add('GetItem', {'TableName': 'conf-nope', 'Key': item(username='hedy')})
    add('PutItem', {'TableName': T, 'Item': {'username': {'S': 'e'}, 'tags': {'SS': []}}})
    add('PutItem', {'TableName': T, 'Item': {'username': {'S': 'e'}, 'n': {'N': 'abc'}}})
    add('PutItem', {'TableName': T, 'Item': {'username': {'S': ''}}})
    add('PutItem', {'TableName': T, 'Item': {'email': {'S': 'x'}}})
    add('PutItem', {'TableName': T, 'Item': {'username': {'S': 'e'}, 'email': {'N': '1'}}})
    add('PutItem', {'TableName': T, 'Item': {'username': {'S': 'e'}, 'x': {'S': 'a', 'N': '1'}}})
    add('PutItem', {'TableName': T, 'Item': item(username='big', pad='x' * 400000)})
    add('PutItem', {'TableName': T, 'Item': item(username='big2', pad='x' * 300000)})
    add('PutItem', {'TableName': T, 'Item': item(username='hedy'), 'ConditionExpression': 'attribute_not_exists(username)'})
    add('PutItem', {'TableName': T, 'Item': item(username='hedy', email='hedy@hedy.org', level=4),
                    'ConditionExpression': 'level = :l', 'ExpressionAttributeValues': {':l': {'N': '3'}},
                    'ReturnValues': 'ALL_OLD'})
    add('PutItem', {'TableName': T, 'Item': item(username='hedy2'), 'ReturnValues': 'ALL_NEW'})
    add('PutItem', {'TableName': T, 'Item': item(username='hedy2'), 'ConditionExpression': 'a = :a'})
    add('PutItem', {'TableName': T, 'Item': item(username='hedy2'), 'ConditionExpression': 'a = :a',
                    'ExpressionAttributeValues': {':a': {'S': 'x'}, ':b': {'S': 'y'}}})
    add('PutItem', {'TableName': T, 'Item': item(username='hedy2'), 'ConditionExpression': 'a = = :a',
                    'ExpressionAttributeValues': {':a': {'S': 'x'}}})
    add('PutItem', {'TableName': T, 'Item': item(username='hedy2'),
                    'ExpressionAttributeValues': {':a': {'S': 'x'}}})
    # updates
    upd = lambda key, expr, **kw: add('UpdateItem', dict({'TableName': T, 'Key': item(username=key),
                                                          'UpdateExpression': expr}, **kw))
    for rv in ('NONE', 'ALL_OLD', 'UPDATED_OLD', 'ALL_NEW', 'UPDATED_NEW'):
        upd('hedy', 'SET visits = if_not_exists(visits, :z) + :one, #l = :l REMOVE tiny',
            ExpressionAttributeValues={':z': {'N': '0'}, ':one': {'N': '1'}, ':l': {'N': '5'}},
            ExpressionAttributeNames={'#l': 'level'}, ReturnValues=rv)
    upd('newbie', 'ADD coins :c, tags :t', ExpressionAttributeValues={':c': {'N': '10'}, ':t': {'SS': ['x']}},
        ReturnValues='ALL_NEW')
    upd('newbie', 'DELETE tags :t', ExpressionAttributeValues={':t': {'SS': ['x']}}, ReturnValues='ALL_NEW')
    upd('newbie', 'SET lst = list_append(if_not_exists(lst, :e), :v)',
        ExpressionAttributeValues={':e': {'L': []}, ':v': {'L': [{'N': '1'}, {'S': 'two'}]}}, ReturnValues='UPDATED_NEW')
    upd('newbie', 'SET username = :u', ExpressionAttributeValues={':u': {'S': 'x'}})
    upd('newbie', 'SET a = :a', ExpressionAttributeValues={':a': {'N': '1'}}, ConditionExpression='coins > :big',
        ReturnValuesOnConditionCheckFailure='ALL_OLD')
    upd('newbie', 'SET a = :a, a = :a', ExpressionAttributeValues={':a': {'N': '1'}})
    upd('newbie', 'SET a.b = :a', ExpressionAttributeValues={':a': {'N': '1'}})
    upd('newbie', 'ADD coins :s', ExpressionAttributeValues={':s': {'S': 'x'}})
    upd('newbie', 'REMOVE coins', ReturnValues='UPDATED_OLD')
    add('DeleteItem', {'TableName': T, 'Key': item(username='newbie'), 'ReturnValues': 'ALL_OLD'})
    add('DeleteItem', {'TableName': T, 'Key': item(username='newbie'), 'ReturnValues': 'ALL_OLD'})
    add('DeleteItem', {'TableName': T, 'Key': item(username='hedy2'), 'ConditionExpression': 'attribute_exists(zz)'})
    # a partition of the quiz table, then queries and scans across page boundaries
    weeks = ['2022-%02d' % w for w in range(1, 41)]
    for w in weeks:
        add('PutItem', {'TableName': Q, 'Item': item(**{'id#level': 'felienne#3', 'week': w,
            'scores': [rnd.randint(0, 100) for _ in range(3)], 'finished': rnd.randint(0, 1)})})
    for i in range(12):
        add('PutItem', {'TableName': Q, 'Item': item(**{'id#level': 'p%d' % rnd.randint(0, 5), 'week': 'w%03d' % i,
                                                         'n': rnd.randint(-5, 5)})})
    K = {'#k': 'id#level'}
    q = lambda **kw: add('Query', dict({'TableName': Q}, **kw))
    q(KeyConditionExpression='#k = :k', ExpressionAttributeNames=K, ExpressionAttributeValues={':k': {'S': 'felienne#3'}})
    q(KeyConditionExpression='#k = :k AND week BETWEEN :a AND :b', ExpressionAttributeNames=K,
      ExpressionAttributeValues={':k': {'S': 'felienne#3'}, ':a': {'S': '2022-05'}, ':b': {'S': '2022-15'}},
      ScanIndexForward=False, Limit=4)
    q(KeyConditionExpression='#k = :k AND begins_with(week, :p)', FilterExpression='finished = :f',
      ExpressionAttributeNames=K, ExpressionAttributeValues={':k': {'S': 'felienne#3'}, ':p': {'S': '2022-1'}, ':f': {'N': '1'}},
      Limit=5)
    q(KeyConditionExpression='#k = :k AND week > :w', ExpressionAttributeNames=K,
      ExpressionAttributeValues={':k': {'S': 'felienne#3'}, ':w': {'S': '2022-30'}},
      ExclusiveStartKey=item(**{'id#level': 'felienne#3', 'week': '2022-33'}), Select='COUNT')
    q(KeyConditionExpression='#k = :k', ExpressionAttributeNames=K, ExpressionAttributeValues={':k': {'S': 'felienne#3'}},
      ProjectionExpression='week, scores[0]', Limit=3, ReturnConsumedCapacity='TOTAL')
    q(KeyConditionExpression='week = :w', ExpressionAttributeValues={':w': {'S': 'x'}})
    q(KeyConditionExpression='#k = :k OR week = :w', ExpressionAttributeNames=K,
      ExpressionAttributeValues={':k': {'S': 'x'}, ':w': {'S': 'x'}})
    q(KeyConditionExpression='#k < :k', ExpressionAttributeNames=K, ExpressionAttributeValues={':k': {'S': 'x'}})
    q(KeyConditionExpression='#k = :k', ExpressionAttributeNames=K, ExpressionAttributeValues={':k': {'N': '1'}})
    q(KeyConditionExpression='#k = :k', ExpressionAttributeNames=K, ExpressionAttributeValues={':k': {'S': 'x'}},
      Select='SPECIFIC_ATTRIBUTES')
    q(KeyConditionExpression='#k = :k', ExpressionAttributeNames=K, ExpressionAttributeValues={':k': {'S': 'x'}},
      Limit=0)
    add('Query', {'TableName': T, 'IndexName': 'email-index', 'KeyConditionExpression': 'email = :e',
                  'ExpressionAttributeValues': {':e': {'S': 'hedy@hedy.org'}}})
    add('Query', {'TableName': T, 'IndexName': 'email-index', 'KeyConditionExpression': 'email = :e',
                  'ExpressionAttributeValues': {':e': {'S': 'hedy@hedy.org'}}, 'ConsistentRead': True})
    add('Query', {'TableName': T, 'IndexName': 'nope-index', 'KeyConditionExpression': 'email = :e',
                  'ExpressionAttributeValues': {':e': {'S': 'hedy@hedy.org'}}})
    sc = lambda **kw: add('Scan', dict({'TableName': Q}, **kw))
    sc()
    sc(FilterExpression='n > :z', ExpressionAttributeValues={':z': {'N': '0'}})
    sc(Select='COUNT', FilterExpression='contains(scores, :s)', ExpressionAttributeValues={':s': {'N': '50'}})
    sc(Segment=0, TotalSegments=1)
    sc(Segment=2, TotalSegments=2)
    sc(Segment=1)
    add('Scan', {'TableName': T, 'Select': 'COUNT'})
    add('Scan', {'TableName': T, 'Limit': 1, 'Select': 'COUNT'})
    # batches and transactions
    add('BatchWriteItem', {'RequestItems': {Q: [{'PutRequest': {'Item': item(**{'id#level': 'b', 'week': str(i)})}}
                                                for i in range(25)]}})
    add('BatchWriteItem', {'RequestItems': {Q: [{'PutRequest': {'Item': item(**{'id#level': 'b', 'week': str(i)})}}
                                                for i in range(26)]}})
    add('BatchWriteItem', {'RequestItems': {Q: [{'DeleteRequest': {'Key': item(**{'id#level': 'b', 'week': '1'})}},
                                                {'DeleteRequest': {'Key': item(**{'id#level': 'b', 'week': '1'})}}]}})
    add('BatchGetItem', {'RequestItems': {Q: {'Keys': [item(**{'id#level': 'b', 'week': str(i)}) for i in range(0, 30, 3)]},
                                          T: {'Keys': [item(username='hedy')], 'ProjectionExpression': 'email'}}})
    add('BatchGetItem', {'RequestItems': {Q: {'Keys': [item(**{'id#level': 'b', 'week': '1'})] * 2}}})
    tw = lambda items, **kw: add('TransactWriteItems', dict({'TransactItems': items}, **kw))
    tw([{'Put': {'TableName': T, 'Item': item(username='t1', v=1)}},
        {'Update': {'TableName': Q, 'Key': item(**{'id#level': 'b', 'week': '2'}), 'UpdateExpression': 'SET x = :x',
                    'ExpressionAttributeValues': {':x': {'N': '1'}}}}])
    tw([{'Put': {'TableName': T, 'Item': item(username='t2')}},
        {'ConditionCheck': {'TableName': T, 'Key': item(username='t1'), 'ConditionExpression': 'v > :v',
                            'ExpressionAttributeValues': {':v': {'N': '5'}}}}])
    tw([{'Put': {'TableName': T, 'Item': item(username='t2')}},
        {'Delete': {'TableName': T, 'Key': item(username='t2')}}])
    tw([{'Put': {'TableName': T, 'Item': item(username='t3')}}], ClientRequestToken='conf-token-%d' % seed)
    tw([{'Put': {'TableName': T, 'Item': item(username='t3')}}], ClientRequestToken='conf-token-%d' % seed)
    tw([{'Put': {'TableName': T, 'Item': item(username='t4')}}], ClientRequestToken='conf-token-%d' % seed)
    add('TransactGetItems', {'TransactItems': [{'Get': {'TableName': T, 'Key': item(username='t1')}},
                                               {'Get': {'TableName': T, 'Key': item(username='zz')}}]})
    add('GetItem', {'TableName': T, 'Key': item(username='t2')})
    # the pre-2014 parameters
    add('PutItem', {'TableName': T, 'Item': item(username='old', v=1), 'Expected': {'v': {'Exists': False}}})
    add('PutItem', {'TableName': T, 'Item': item(username='old', v=2), 'Expected': {'v': {'Value': {'N': '5'}}}})
    add('PutItem', {'TableName': T, 'Item': item(username='old', v=2),
                    'Expected': {'v': {'ComparisonOperator': 'IN', 'AttributeValueList': [{'N': '0'}, {'N': '1'}]},
                                 'zz': {'ComparisonOperator': 'NULL'}}})
    add('UpdateItem', {'TableName': T, 'Key': item(username='old'), 'ReturnValues': 'ALL_NEW',
                       'AttributeUpdates': {'v': {'Action': 'ADD', 'Value': {'N': '5'}}, 'x': {'Value': {'S': 'y'}}}})
    add('UpdateItem', {'TableName': T, 'Key': item(username='old'), 'ReturnValues': 'ALL_NEW',
                       'AttributeUpdates': {'x': {'Action': 'DELETE'}}})
    for _ in range(2):  # legacy ADD of a list appends (Hedy's DynamoAddToList relies on it)
        add('UpdateItem', {'TableName': T, 'Key': item(username='old'), 'ReturnValues': 'UPDATED_NEW',
                           'AttributeUpdates': {'lst': {'Action': 'ADD', 'Value': {'L': [{'N': '1'}, {'S': 'a'}]}}}})
    add('Query', {'TableName': Q, 'KeyConditions': {'id#level': {'ComparisonOperator': 'EQ', 'AttributeValueList': [{'S': 'felienne#3'}]},
                                                    'week': {'ComparisonOperator': 'BEGINS_WITH', 'AttributeValueList': [{'S': '2022-2'}]}},
                  'QueryFilter': {'finished': {'ComparisonOperator': 'EQ', 'AttributeValueList': [{'N': '1'}]}},
                  'AttributesToGet': ['week', 'finished']})
    add('Scan', {'TableName': Q, 'Select': 'COUNT', 'ConditionalOperator': 'OR',
                 'ScanFilter': {'n': {'ComparisonOperator': 'GT', 'AttributeValueList': [{'N': '2'}]},
                                'finished': {'ComparisonOperator': 'NOT_NULL'}}})
    add('Query', {'TableName': Q, 'KeyConditions': {'id#level': {'ComparisonOperator': 'EQ', 'AttributeValueList': [{'S': 'x'}]}},
                  'KeyConditionExpression': '#k = :k', 'ExpressionAttributeNames': K,
                  'ExpressionAttributeValues': {':k': {'S': 'x'}}})
    # Streams over the change feed (bodies that name a stream, shard or
    # iterator are functions of what that implementation answered before)
    S = 'conf-stream'
    add('CreateTable', {'TableName': S, 'BillingMode': 'PAY_PER_REQUEST',
                        'KeySchema': [{'AttributeName': 'id', 'KeyType': 'HASH'}],
                        'AttributeDefinitions': [{'AttributeName': 'id', 'AttributeType': 'S'}],
                        'StreamSpecification': {'StreamEnabled': True, 'StreamViewType': 'NEW_AND_OLD_IMAGES'}})
    add('CreateTable', {'TableName': 'conf-stream-bad', 'BillingMode': 'PAY_PER_REQUEST',
                        'KeySchema': [{'AttributeName': 'id', 'KeyType': 'HASH'}],
                        'AttributeDefinitions': [{'AttributeName': 'id', 'AttributeType': 'S'}],
                        'StreamSpecification': {'StreamEnabled': True}})
    add('CreateTable', {'TableName': 'conf-stream-bad', 'BillingMode': 'PAY_PER_REQUEST',
                        'KeySchema': [{'AttributeName': 'id', 'KeyType': 'HASH'}],
                        'AttributeDefinitions': [{'AttributeName': 'id', 'AttributeType': 'S'}],
                        'StreamSpecification': {'StreamEnabled': True, 'StreamViewType': 'ALL'}})
    add('DescribeTable', {'TableName': S})
    add('UpdateTable', {'TableName': S, 'StreamSpecification': {'StreamEnabled': True, 'StreamViewType': 'KEYS_ONLY'}})
    add('ListStreams', {'TableName': S})
    arn = lambda c: c['DescribeTable']['Table']['LatestStreamArn']
    add('DescribeStream', lambda c: {'StreamArn': arn(c)})
    shard = lambda c: c['DescribeStream']['StreamDescription']['Shards'][0]['ShardId']
    add('GetShardIterator', lambda c: {'StreamArn': arn(c), 'ShardId': shard(c), 'ShardIteratorType': 'LATEST'})
    add('GetShardIterator', lambda c: {'StreamArn': arn(c), 'ShardId': shard(c), 'ShardIteratorType': 'BOGUS'})
    add('GetShardIterator', lambda c: {'StreamArn': arn(c), 'ShardId': shard(c),
                                       'ShardIteratorType': 'AT_SEQUENCE_NUMBER'})
    add('PutItem', {'TableName': S, 'Item': item(id='a', v=1, tags={'SS': ['x', 'y']})})
    add('PutItem', {'TableName': S, 'Item': item(id='a', v=1, tags={'SS': ['x', 'y']})})
    add('UpdateItem', {'TableName': S, 'Key': item(id='a'), 'UpdateExpression': 'SET v = v + :one',
                       'ExpressionAttributeValues': {':one': {'N': '1'}}})
    add('PutItem', {'TableName': S, 'Item': item(id='b', doc={'k': [1, 'two', None]})})
    add('DeleteItem', {'TableName': S, 'Key': item(id='a')})
    add('TransactWriteItems', {'TransactItems': [{'Put': {'TableName': S, 'Item': item(id='t1')}},
                                                 {'Delete': {'TableName': S, 'Key': item(id='b')}}]})
    add('GetShardIterator', lambda c: {'StreamArn': arn(c), 'ShardId': shard(c), 'ShardIteratorType': 'TRIM_HORIZON'})
    add('GetRecords', lambda c: {'ShardIterator': c['GetShardIterator']['ShardIterator'], 'Limit': 3})
    add('GetRecords', lambda c: {'ShardIterator': c['GetRecords']['NextShardIterator']})
    add('GetRecords', lambda c: {'ShardIterator': c['GetRecords']['NextShardIterator']})
    add('GetShardIterator', lambda c: {'StreamArn': arn(c), 'ShardId': shard(c), 'ShardIteratorType': 'TRIM_HORIZON'})
    add('GetRecords', lambda c: {'ShardIterator': c['GetShardIterator']['ShardIterator'], 'Limit': 0})
    add('GetRecords', {'ShardIterator': 'not-an-iterator-' + 'x' * 40})
    add('UpdateTable', {'TableName': S, 'StreamSpecification': {'StreamEnabled': False}})
    add('DescribeStream', lambda c: {'StreamArn': arn(c)})
    add('DescribeTable', {'TableName': S})
    add('UpdateTable', {'TableName': S, 'StreamSpecification': {'StreamEnabled': False}})
    add('UpdateTable', {'TableName': S, 'StreamSpecification': {'StreamEnabled': True, 'StreamViewType': 'KEYS_ONLY'}})
    add('DescribeStream', lambda c: {'StreamArn': c['UpdateTable']['TableDescription']['LatestStreamArn']})
    add('PutItem', {'TableName': S, 'Item': item(id='k', v=5)})
    add('GetShardIterator', lambda c: {'StreamArn': c['DescribeStream']['StreamDescription']['StreamArn'],
                                       'ShardId': shard(c), 'ShardIteratorType': 'TRIM_HORIZON'})
    add('GetRecords', lambda c: {'ShardIterator': c['GetShardIterator']['ShardIterator']})
    add('DescribeStream', {'StreamArn': 'arn:aws:dynamodb:ddblocal:000000000000:table/conf-nope/stream/2020-01-01T00:00:00.000'})
    add('DeleteTable', {'TableName': S})
    add('DeleteTable', {'TableName': 'conf-stream-bad'})  # DynamoDB Local accepted it (#3 above)
    # metadata DynamoDB reports: local and global indexes, throughput, tags, billing changes
    L = 'conf-meta'
    add('CreateTable', {'TableName': L, 'ProvisionedThroughput': {'ReadCapacityUnits': 7, 'WriteCapacityUnits': 3},
                        'KeySchema': [{'AttributeName': 'id', 'KeyType': 'HASH'},
                                      {'AttributeName': 'week', 'KeyType': 'RANGE'}],
                        'AttributeDefinitions': [{'AttributeName': a, 'AttributeType': 'S'}
                                                 for a in ('id', 'week', 'level')] +
                                                [{'AttributeName': 'score', 'AttributeType': 'N'}],
                        'LocalSecondaryIndexes': [{'IndexName': 'by-score', 'KeySchema': [
                            {'AttributeName': 'id', 'KeyType': 'HASH'}, {'AttributeName': 'score', 'KeyType': 'RANGE'}],
                            'Projection': {'ProjectionType': 'INCLUDE', 'NonKeyAttributes': ['level']}}],
                        'GlobalSecondaryIndexes': [{'IndexName': 'by-level', 'KeySchema': [
                            {'AttributeName': 'level', 'KeyType': 'HASH'}], 'Projection': {'ProjectionType': 'KEYS_ONLY'},
                            'ProvisionedThroughput': {'ReadCapacityUnits': 2, 'WriteCapacityUnits': 1}}]})
    add('PutItem', {'TableName': L, 'Item': item(id='a', week='1', level='3', score=9)})
    add('Query', {'TableName': L, 'IndexName': 'by-score', 'KeyConditionExpression': 'id = :i AND score > :s',
                  'ExpressionAttributeValues': {':i': {'S': 'a'}, ':s': {'N': '1'}}, 'ConsistentRead': True})
    add('DescribeTable', {'TableName': L})
    # (tags: DynamoDB Local answers UnknownOperationException to the tagging operations)
    add('UpdateTable', {'TableName': L, 'BillingMode': 'PAY_PER_REQUEST'})
    add('DescribeTable', {'TableName': L})
    upd('hedy', 'SET nested.d.e = :v, lst = :l', ExpressionAttributeValues={':v': {'N': '1'}, ':l': {'L': []}},
        ReturnValues='UPDATED_NEW')   # DynamoDB Local returns all of `nested` (docs/api.md)
    # TTL: the engine's attribute
    add('UpdateTimeToLive', {'TableName': Q, 'TimeToLiveSpecification': {'Enabled': False, 'AttributeName': 'exp'}})
    add('UpdateTimeToLive', {'TableName': Q, 'TimeToLiveSpecification': {'Enabled': True, 'AttributeName': ''}})
    add('UpdateTimeToLive', {'TableName': 'conf-nope', 'TimeToLiveSpecification': {'Enabled': True, 'AttributeName': 'exp'}})
    add('UpdateTimeToLive', {'TableName': Q, 'TimeToLiveSpecification': {'Enabled': True, 'AttributeName': 'exp'}})
    add('UpdateTimeToLive', {'TableName': Q, 'TimeToLiveSpecification': {'Enabled': True, 'AttributeName': 'exp'}})
    add('UpdateTimeToLive', {'TableName': Q, 'TimeToLiveSpecification': {'Enabled': True, 'AttributeName': 'other'}})
    add('DescribeTimeToLive', {'TableName': Q})
    add('UpdateTimeToLive', {'TableName': Q, 'TimeToLiveSpecification': {'Enabled': False, 'AttributeName': 'exp'}})
    add('DescribeTimeToLive', {'TableName': Q})
    # TTL, index changes, cleanup
    add('DescribeTimeToLive', {'TableName': T})
    add('UpdateTimeToLive', {'TableName': T, 'TimeToLiveSpecification': {'Enabled': True, 'AttributeName': 'exp'}})
    add('DescribeTimeToLive', {'TableName': T})
    add('UpdateTable', {'TableName': Q, 'AttributeDefinitions': [{'AttributeName': 'n', 'AttributeType': 'N'}],
                        'GlobalSecondaryIndexUpdates': [{'Create': {'IndexName': 'n-index', 'KeySchema': [
                            {'AttributeName': 'n', 'KeyType': 'HASH'}], 'Projection': {'ProjectionType': 'KEYS_ONLY'},
                            'ProvisionedThroughput': {'ReadCapacityUnits': 1, 'WriteCapacityUnits': 1}}}]})
    add('Unknown', {})
    add('DeleteTable', {'TableName': T})
    add('DeleteTable', {'TableName': Q})
    add('DeleteTable', {'TableName': T})
    return s


def main():
    eps = [a.split('=', 1) for a in sys.argv[1:]]
    out = open(os.environ.get('CONFORMANCE_OUT', '/dev/stderr'), 'w')
    seq = sequences(int(os.environ.get('CONFORMANCE_SEED', '1')))
    agree = {n: [0, 0, 0] for n, _ in eps[1:]}
    last = {n: {} for n, _ in eps}   # per implementation: its last answer to each operation
    for i, (op, body0) in enumerate(seq):
        res = {}
        for name, url in eps:
            try:
                body = body0(last[name]) if callable(body0) else body0
            except (KeyError, IndexError, TypeError):
                body = {}  # an earlier answer lacked what this request names
            asked = body.get('ReturnConsumedCapacity', 'NONE') != 'NONE'
            st, r = call(url, op, body)
            if st == 200:
                last[name][op] = r
            res[name] = (st, norm(op, body, r, asked))
        mine_st, (mine, mine_msg) = res[eps[0][0]]
        for name, _ in eps[1:]:
            st, (ref, ref_msg) = res[name]
            a = agree[name]
            a[2] += 1
            if st == mine_st and ref == mine:
                a[0] += 1
                if ref_msg == mine_msg:
                    a[1] += 1
                elif ref_msg is not None:
                    print('#%d %s vs %s: message differs\n  dynfs: %s\n  %s: %s' % (i, op, name, mine_msg, name, ref_msg), file=out)
            else:
                print('#%d %s %s vs %s:\n  request: %s\n  dynfs (%d): %s\n  %s (%d): %s' % (
                    i, op, eps[0][0], name, json.dumps(body)[:300], mine_st, json.dumps(mine, sort_keys=True)[:600],
                    name, st, json.dumps(ref, sort_keys=True)[:600]), file=out)
    low = []
    for name, (ok, msgs, n) in agree.items():
        print('conformance: dynfs vs %s: %d/%d responses agree (%.0f%%), %d/%d messages agree' % (
            name, ok, n, 100.0 * ok / n, msgs, n))
        floor = float(os.environ.get('CONFORMANCE_MIN_' + name.replace('-', '_').upper(), '0'))
        if 100.0 * ok / n < floor:
            low.append('%s below %.0f%%' % (name, floor))
    if low:
        sys.exit('conformance: agreement fell: ' + ', '.join(low))


if __name__ == '__main__':
    main()
