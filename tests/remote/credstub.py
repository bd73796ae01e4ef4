#!/usr/bin/env python3
"""credstub.py PORT_FILE [EXPIRES_IN_S] - loopback stand-ins for the EC2
instance metadata service (IMDSv2) and the ECS container credentials
endpoint, for tests/remote/run.  Never use the real addresses in tests.

IMDSv2: PUT /latest/api/token (needs X-aws-ec2-metadata-token-ttl-seconds)
gives a token; GET /latest/meta-data/iam/security-credentials/ (needs the
token) gives the role name; GET .../ROLE gives credentials whose
AccessKeyId counts the deliveries (IMDS-1, IMDS-2...) and which expire in
S seconds (default 3600).  Requests without the token get 401, as IMDSv2
does.  ECS: GET /ecs (needs Authorization: ecs-secret) gives ECS-n.
Writes its port to PORT_FILE; counts to PORT_FILE.hits on every request.
"""
import datetime
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "stub-token-123"
hits = {"token": 0, "role": 0, "creds": 0, "ecs": 0, "refused": 0}
expires_in = int(sys.argv[2]) if len(sys.argv) > 2 else 3600


def creds(prefix, n):
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expires_in)
    return {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "%s-%d" % (prefix, n),
            "SecretAccessKey": "stub-secret", "Token": "stub-session-token",
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, body):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(self.server.hitfile, "w") as f:
            json.dump(hits, f)

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get(
                "X-aws-ec2-metadata-token-ttl-seconds"):
            hits["token"] += 1
            return self.reply(200, TOKEN)
        hits["refused"] += 1
        self.reply(400, "")

    def do_GET(self):
        if self.path == "/ecs":
            if self.headers.get("Authorization") != "ecs-secret":
                hits["refused"] += 1
                return self.reply(403, "")
            hits["ecs"] += 1
            return self.reply(200, creds("ECS", hits["ecs"]))
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            hits["refused"] += 1
            return self.reply(401, "")
        if self.path == "/latest/meta-data/iam/security-credentials/":
            hits["role"] += 1
            return self.reply(200, "stub-role")
        if self.path == "/latest/meta-data/iam/security-credentials/stub-role":
            hits["creds"] += 1
            return self.reply(200, creds("IMDS", hits["creds"]))
        self.reply(404, "")


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.hitfile = sys.argv[1] + ".hits"
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
