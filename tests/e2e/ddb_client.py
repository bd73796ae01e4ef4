#!/usr/bin/env python3
"""ddb_client.py ENDPOINT - boto3's DynamoDB client as a line server for
tests/e2e/t_remote.sh (one client for the whole test: boto3 takes seconds
to start on a loaded machine).  Each input line is `METHOD JSON-KWARGS`;
the answer is one line: the response as JSON, or {"error": CODE}."""
import json
import os
import sys

import boto3
import botocore

client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "AKE2E"),
                      aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "secret"))
for line in sys.stdin:
    method, _, args = line.strip().partition(" ")
    try:
        out = getattr(client, method)(**json.loads(args or "{}"))
        out.pop("ResponseMetadata", None)
    except botocore.exceptions.ClientError as e:
        out = {"error": e.response["Error"]["Code"]}
    except Exception as e:  # pylint: disable=broad-except
        out = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(out, default=str), flush=True)
