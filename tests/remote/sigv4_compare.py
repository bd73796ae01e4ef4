#!/usr/bin/env python3
"""sigv4_compare.py DRIVER - sigv4/ against two independent SigV4 signers.

1. botocore: for several requests (DynamoDB POSTs with and without a
   session token, bodies with unicode, a GET with a query string), the
   Authorization header botocore.auth.SigV4Auth computes for a fixed time
   must equal the one `DRIVER sign` computes for the same request.
2. curl --aws-sigv4: curl signs a POST to a loopback listener that
   records what arrived; the driver signs those same headers and body,
   and the two signatures must agree.
Prints one "ok"/"not ok" line per comparison; exits 1 on any mismatch.
Only 127.0.0.1 is contacted.
"""
import datetime
import http.server
import subprocess
import sys
import threading
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

DRIVER = sys.argv[1]
fails = 0


def ours(method, path, query, region, service, amzdate, key, secret, headers, body):
    text = "\n".join([method, path, query, region, service, amzdate, key, secret]) + "\n"
    text += "".join("%s: %s\n" % h for h in headers) + "\n"
    out = subprocess.run([DRIVER, "sign"], input=text.encode() + body, capture_output=True,
                         check=True)
    return out.stdout.decode().strip()


def report(ok, what, a="", b=""):
    global fails
    print(("ok - " if ok else "not ok - ") + what)
    if not ok:
        fails += 1
        print("#  ours:  " + a + "\n#  other: " + b)


def botocore_case(name, method, url, headers, body, token=None, region="us-east-1"):
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    fixed = datetime.datetime(2026, 12, 6, 8, 0, 0)
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = fixed
        dt.datetime.now.return_value = fixed.replace(tzinfo=datetime.timezone.utc)
        SigV4Auth(creds, "dynamodb", region).add_auth(req)
    theirs = req.headers["Authorization"]
    # sign exactly the headers botocore signed (it adds host, x-amz-date, token)
    signed = theirs.split("SignedHeaders=")[1].split(",")[0].split(";")
    hdrs = []
    for h in signed:
        if h == "host":
            hdrs.append(("Host", url.split("/")[2]))
        else:
            hdrs.append((h, req.headers[h]))
    path = "/" + url.split("/", 3)[3].split("?")[0] if url.count("/") > 2 else "/"
    query = url.split("?", 1)[1] if "?" in url else ""
    mine = ours(method, path, query, region, "dynamodb", req.headers["X-Amz-Date"],
                "AKIDEXAMPLE", creds.secret_key, hdrs, body)
    report(mine == theirs, "botocore agrees: " + name, mine, theirs)


body = b'{"TableName":"t","Item":{"id":{"S":"\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"}}}'
botocore_case("PutItem", "POST", "http://127.0.0.1:8000/",
              [("X-Amz-Target", "DynamoDB_20120810.PutItem"),
               ("Content-Type", "application/x-amz-json-1.0")], body)
botocore_case("PutItem with a session token", "POST", "https://dynamodb.eu-west-1.amazonaws.com/",
              [("X-Amz-Target", "DynamoDB_20120810.PutItem"),
               ("Content-Type", "application/x-amz-json-1.0")], body, token="FQoG//token+/=",
              region="eu-west-1")
botocore_case("empty body", "POST", "http://localhost:4567/",
              [("X-Amz-Target", "DynamoDB_20120810.ListTables"),
               ("Content-Type", "application/x-amz-json-1.0")], b"")
botocore_case("GET with a query", "GET", "http://127.0.0.1:8000/a%20b/c?z=1&a=2&a=1&sp=x%20y",
              [], b"")

# curl --aws-sigv4 against a loopback recorder
seen = {}


class Rec(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        seen["body"] = self.rfile.read(n)
        seen["headers"] = list(self.headers.items())
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


srv = http.server.HTTPServer(("127.0.0.1", 0), Rec)
threading.Thread(target=srv.serve_forever, daemon=True).start()
port = srv.server_address[1]
cbody = b'{"TableName":"curl-table","Limit":3}'
subprocess.run(["curl", "-s", "-o", "/dev/null", "--noproxy", "*",
                "--aws-sigv4", "aws:amz:us-west-2:dynamodb",
                "--user", "AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "-H", "X-Amz-Target: DynamoDB_20120810.Scan",
                "-H", "Content-Type: application/x-amz-json-1.0",
                "--data-binary", cbody, "http://127.0.0.1:%d/" % port], check=True)
srv.shutdown()
h = dict((k.lower(), v) for k, v in seen["headers"])
auth = h["authorization"]
signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
mine = ours("POST", "/", "", "us-west-2", "dynamodb", h["x-amz-date"], "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", [(k, h[k]) for k in signed],
            seen["body"])
report(mine.split("Signature=")[1] == auth.split("Signature=")[1].strip(),
       "curl --aws-sigv4 agrees (signed: %s)" % ";".join(signed), mine, auth)
sys.exit(1 if fails else 0)
