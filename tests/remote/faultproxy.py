#!/usr/bin/env python3
"""faultproxy.py - a loopback HTTP proxy in front of a DynamoDB-API server
that injects faults on demand, for tests/remote/run.

    faultproxy.py LISTEN_PORT UPSTREAM_URL [--rate R] [--unprocessed U] [--seed S]
                  [--stats FILE] [--control FILE]

A batch call is cut (the "unprocessed" fault) with probability U (default
0.5); otherwise each request draws one fault with probability R (default
0.3), among:
  throttle      400 ProvisionedThroughputExceededException / ThrottlingException,
                not forwarded
  500-before    500 InternalServerError, not forwarded
  503           503 ServiceUnavailable, not forwarded
  500-after     forwarded (so applied), then answered 500: outcome unknown
  drop-before   connection closed before forwarding
  drop-after    forwarded (applied), then the connection is closed unanswered
  expired       400 ExpiredTokenException, not forwarded
  denied        400 AccessDeniedException, not forwarded (not retried: only
                drawn when named in --control's "faults")
  slow          forwarded after 0.3 s
  unprocessed   BatchWriteItem/BatchGetItem: about half the items or keys
                are left out of the forwarded request and returned as
                UnprocessedItems/UnprocessedKeys
Counts of injected faults are written to --stats as JSON on exit (SIGTERM).
--control FILE (tests/e2e/t_remote_faults.sh): a JSON object read again
before every request, if the file exists, that overrides the settings:
{"rate": R, "unprocessed": U, "faults": [names to draw from], "ops":
[operations that get faults; others pass], "every": N (instead of
"rate": every N-th request of those operations gets the next fault of
"faults", in turn)}; and the counts so far are
written to FILE.stats after every request.
Listens on 127.0.0.1 only; python3 standard library only.
"""
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ["throttle", "500-before", "503", "500-after", "drop-before", "drop-after",
          "expired", "slow", "unprocessed"]
EXTRA = ["denied"]  # not drawn unless named
lock = threading.Lock()
stats = {f: 0 for f in FAULTS + EXTRA}
stats["requests"] = 0


def split_batch(body, op):
    """Forward about half of a batch; return (forwarded body, left-out part)."""
    req = json.loads(body)
    items = req.get("RequestItems", {})
    fwd, left = {}, {}
    for table, v in items.items():
        if op == "BatchGetItem":
            keys = v["Keys"]
            cut = max(1, len(keys) // 2) if len(keys) > 1 else 0
            if cut:
                left[table] = dict(v, Keys=keys[:cut])
            if keys[cut:]:
                fwd[table] = dict(v, Keys=keys[cut:])
        else:
            cut = len(v) // 2
            if cut:
                left[table] = v[:cut]
            if v[cut:]:
                fwd[table] = v[cut:]
    if not fwd or not left:
        return None, None
    req["RequestItems"] = fwd
    return json.dumps(req).encode(), left


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, etype, msg):
        self.answer(status, {"__type": "com.amazonaws.dynamodb.v20120810#" + etype,
                             "message": msg})

    def forward(self, body):
        u = urllib.parse.urlparse(self.server.upstream)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("content-length", "connection")}
        conn.request("POST", "/", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, data

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        op = (self.headers.get("X-Amz-Target") or ".").split(".")[-1]
        rng = self.server.rng
        ctl = {}
        if self.server.control:
            try:
                with open(self.server.control) as f:
                    ctl = json.load(f)
            except (OSError, ValueError):
                ctl = {}
        rate = ctl.get("rate", self.server.rate)
        unprocessed = ctl.get("unprocessed", self.server.unprocessed)
        choices = ctl.get("faults", FAULTS[:-1])
        if "ops" in ctl and op not in ctl["ops"]:
            rate = unprocessed = 0
        with lock:
            stats["requests"] += 1
            fault = None
            if "every" in ctl:
                # deterministic: every N-th request that may get a fault
                # gets the next fault of the list, in turn
                if "ops" not in ctl or op in ctl["ops"]:
                    n = stats.setdefault("eligible", 0)
                    stats["eligible"] = n + 1
                    if n % int(ctl["every"]) == 0:
                        k = n // int(ctl["every"])
                        fault = choices[k % len(choices)]
            elif op.startswith("Batch") and rng.random() < unprocessed:
                fault = "unprocessed"
            elif choices and rng.random() < rate:
                fault = rng.choice(choices)
                if op in ("DescribeTable", "CreateTable", "DeleteTable", "UpdateTable",
                          "ListTables") and fault in ("500-after", "drop-after"):
                    fault = "throttle"
            # a real service does not say "expired" again to freshly
            # refreshed credentials: the client refreshes once per call
            if fault == "expired":
                h = hash(body)
                if h in self.server.expired_seen:
                    fault = "throttle"
                self.server.expired_seen.add(h)
        left = None
        if fault == "unprocessed":
            fbody, left = split_batch(body, op)
            if fbody is None:
                fault = None
            else:
                body = fbody
        if fault:
            with lock:
                stats[fault] += 1
                stats.setdefault(op + ":" + fault, 0)
                stats[op + ":" + fault] += 1
        if self.server.control:
            with lock:
                tmp = self.server.control + ".stats.tmp"
                with open(tmp, "w") as f:
                    json.dump(stats, f)
                os.replace(tmp, self.server.control + ".stats")
        if fault == "throttle":
            return self.error(400, rng.choice(["ProvisionedThroughputExceededException",
                                               "ThrottlingException"]), "Rate exceeded")
        if fault == "500-before":
            return self.error(500, "InternalServerError", "injected")
        if fault == "503":
            return self.error(503, "ServiceUnavailable", "injected")
        if fault == "expired":
            return self.error(400, "ExpiredTokenException",
                              "The security token included in the request is expired")
        if fault == "denied":
            return self.error(400, "AccessDeniedException", "injected: not authorized")
        if fault == "drop-before":
            return self.drop()
        if fault == "slow":
            time.sleep(0.3)
        status, data = self.forward(body)
        if fault == "drop-after":
            return self.drop()
        if fault == "500-after":
            return self.error(500, "InternalServerError", "injected after applying")
        if left is not None and status == 200:
            resp = json.loads(data)
            key = "UnprocessedKeys" if op == "BatchGetItem" else "UnprocessedItems"
            un = resp.get(key) or {}
            for t, v in left.items():
                if op == "BatchGetItem":
                    un.setdefault(t, dict(v, Keys=[]))["Keys"][:0] = v["Keys"]
                else:
                    un[t] = v + un.get(t, [])
            resp[key] = un
            return self.answer(200, resp)
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    port, upstream = int(sys.argv[1]), sys.argv[2]
    args = sys.argv[3:]
    opt = dict(zip(args[::2], args[1::2]))
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.upstream = upstream
    srv.rate = float(opt.get("--rate", "0.3"))
    srv.expired_seen = set()
    srv.unprocessed = float(opt.get("--unprocessed", "0.5"))
    srv.rng = random.Random(int(opt.get("--seed", "1")))
    srv.control = opt.get("--control")
    out = opt.get("--stats")

    def stop(*_):
        if out:
            with open(out, "w") as f:
                json.dump(stats, f)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        srv.serve_forever()
    finally:
        stop()


if __name__ == "__main__":
    main()
