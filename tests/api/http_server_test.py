#!/usr/bin/python3
"""Drives a running Freshet HttpServer (started by http_server_test.cc) with raw http.client
and cbor2. Usage: http_server_test.py PORT. Exits non-zero on the first failed check."""
import base64
import struct
import datetime
import http.client
import json
import socket
import sys
import time

import cbor2

PORT = int(sys.argv[1])
AUTH = ("AWS4-HMAC-SHA256 Credential=AKID/20250101/us-west-2/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=00")


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def headers(target, ctype, auth=True):
    h = {"Content-Type": ctype, "X-Amz-Target": target, "X-Amz-Date": "20250101T000000Z"}
    if auth:
        h["Authorization"] = AUTH
    return h


conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)

# JSON over one keep-alive connection.
for i in range(10):
    body = json.dumps({"Data": base64.b64encode(b"rec%d" % i).decode(), "I": i})
    conn.request("POST", "/", body, headers("Kinesis_20131202.Echo", "application/x-amz-json-1.1"))
    r = conn.getresponse()
    data = r.read()
    check(r.status == 200, "json status %d %r" % (r.status, data))
    out = json.loads(data)
    check(base64.b64decode(out["Data"]) == b"rec%d" % i, "json blob echo")
    check(out["Region"] == "us-west-2", "region")
    check(len(r.getheader("x-amzn-RequestId")) == 36, "request id")
    check(r.getheader("Content-Type") == "application/x-amz-json-1.1", "content type")

# CBOR with bytes and a tag-1 timestamp, on the same connection.
ts = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
body = cbor2.dumps({"Data": b"\x00\xffbin", "Timestamp": cbor2.CBORTag(1, ts.timestamp()),
                    "Records": [{"Data": b"a"}]})
conn.request("POST", "/", body, headers("Kinesis_20131202.Echo", "application/x-amz-cbor-1.1"))
r = conn.getresponse()
data = r.read()
check(r.status == 200, "cbor status %d %r" % (r.status, data))
check(r.getheader("Content-Type") == "application/x-amz-cbor-1.1", "cbor content type")
# AWS CBOR 1.1 answers timestamps as tag 1 around integer epoch milliseconds, which cbor2
# would read as seconds: check those bytes, then decode the rest with the tag neutralised.
ts_ms = round(ts.timestamp() * 1000)
raw_ts = b"\xc1\x1b" + struct.pack(">Q", ts_ms)
check(raw_ts in data, "cbor timestamp as tag 1 + uint64 ms: %r" % (data,))
out = cbor2.loads(data.replace(raw_ts, b"\x1b" + struct.pack(">Q", ts_ms)))
check(out["Data"] == b"\x00\xffbin", "cbor blob")
check(out["Records"][0]["Data"] == b"a", "cbor nested blob")
check(out["Timestamp"] == ts_ms, "cbor timestamp %r" % (out["Timestamp"],))

# CBOR error body.
conn.request("POST", "/", cbor2.dumps({"StreamName": "nope"}),
             headers("Kinesis_20131202.DescribeStream", "application/x-amz-cbor-1.1"))
r = conn.getresponse()
err = cbor2.loads(r.read())
check(r.status == 400 and err["__type"] == "ResourceNotFoundException", "cbor error %r" % err)
check(r.getheader("x-amzn-ErrorType") == "ResourceNotFoundException", "error header")

# Unknown target and missing auth.
conn.request("POST", "/", "{}", headers("Kinesis_20131202.Nope", "application/x-amz-json-1.1"))
r = conn.getresponse()
check(r.status == 400 and json.loads(r.read())["__type"] == "UnknownOperationException",
      "unknown op")
conn.request("POST", "/", "{}", headers("Kinesis_20131202.Echo", "application/x-amz-json-1.1",
                                        auth=False))
r = conn.getresponse()
check(r.status == 400 and json.loads(r.read()) == {
    "__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"},
    "missing auth")

# Metrics endpoint.
conn.request("GET", "/metrics")
r = conn.getresponse()
text = r.read().decode()
check(r.status == 200 and "# TYPE freshet_api_requests_total counter" in text, "metrics")
conn.close()

# Oversized Content-Length: 413 without the body being read.
s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n")
resp = s.recv(4096)
check(resp.startswith(b"HTTP/1.1 413"), "413 %r" % resp[:40])
s.close()

# Garbage.
s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
resp = s.recv(4096)
check(resp.startswith(b"HTTP/1.1 400"), "garbage %r" % resp[:40])
s.close()

# Slow client: the server (read timeout 1 s in the test) hangs up.
s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
s.sendall(b"POST / HTTP/1.1\r\n")
start = time.monotonic()
resp = s.recv(4096)
check(resp == b"" and time.monotonic() - start < 4.5, "slow client closed")
s.close()

print("python client: all checks passed")
