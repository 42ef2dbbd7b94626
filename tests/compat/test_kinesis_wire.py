"""The bytes AWS sends at the edges, pinned with raw HTTP/1.1 requests (no SDK in between):
SerializationException bodies, requests that are no Kinesis call, CORS, the structure checks
of request authentication, and the request-id headers. The expected answers are AWS's as
recorded by kinesalite's connection tests (see docs/api.md for the deliberate differences)."""

from __future__ import annotations

import base64
import http.client
import json
import re

import pytest

import harness
from harness import JSON_CT, CBOR_CT, TARGET_PREFIX

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACCESS_DENIED_XML = (b"<AccessDeniedException>\n"
                     b"  <Message>Unable to determine service/operation name to be authorized"
                     b"</Message>\n"
                     b"</AccessDeniedException>\n")
DATE = {"X-Amz-Date": "20250101T000000Z"}


def send(port: int, method: str = "POST", path: str = "/", body: bytes = b"",
         headers: dict | None = None) -> harness.RawResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body or method in ("POST", "PUT"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return harness.RawResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def kinesis_call(port, op: str, body: bytes, **headers) -> harness.RawResponse:
    h = {"Content-Type": JSON_CT, "X-Amz-Target": f"{TARGET_PREFIX}.{op}",
         "Authorization": harness.FAKE_AUTH, **DATE}
    h.update(headers)
    return send(port, body=body, headers={k: v for k, v in h.items() if v is not None})


def assert_ids(r: harness.RawResponse, id2: bool = True):
    assert UUID.match(r.headers["x-amzn-requestid"]), r.headers
    if id2:
        assert len(base64.b64decode(r.headers["x-amz-id-2"])) == 72
    else:
        assert "x-amz-id-2" not in r.headers


# ------------------------------------------------------------------ SerializationException

def test_serialization_exception_bodies(server):
    r = kinesis_call(server.port, "DescribeStream", b'{"StreamName": 5}')
    assert r.status == 400
    assert json.loads(r.body) == {
        "__type": "SerializationException",
        "Message": "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
                   "converted to an String"}
    r = kinesis_call(server.port, "ListStreams", b'{"Limit": 1,')
    assert (r.status, json.loads(r.body)) == (400, {"__type": "SerializationException"})
    r = kinesis_call(server.port, "ListStreams", b"[]")
    assert json.loads(r.body) == {"__type": "SerializationException",
                                  "Message": "Start of list found where not expected"}
    assert r.headers["x-amzn-errortype"] == "SerializationException"
    assert_ids(r)


# ------------------------------------------------------------------ not a Kinesis call

@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_access_denied_xml(server, method):
    # With X-Amz-Target: without it, freshet serve's S3 API claims the request first.
    r = send(server.port, method, "/", headers={"Authorization": harness.FAKE_AUTH, **DATE,
                                                "X-Amz-Target": f"{TARGET_PREFIX}.ListStreams"})
    assert r.status == 403
    assert r.body == ACCESS_DENIED_XML
    assert "content-type" not in r.headers
    assert r.headers["content-length"] == str(len(ACCESS_DENIED_XML))
    assert_ids(r)


def test_get_routes_still_answer(server):
    assert send(server.port, "GET", "/health").status == 200


def test_empty_bodies(server):
    r = kinesis_call(server.port, "ListStreams", b"")
    assert (r.status, r.headers["content-type"]) == (400, JSON_CT)
    assert json.loads(r.body) == {"__type": "SerializationException"}
    r = kinesis_call(server.port, "ListStream", b"")
    assert json.loads(r.body) == {"__type": "UnknownOperationException"}
    # Not a JSON content type: AWS answers in CBOR.
    r = send(server.port, body=b"", headers={"X-Amz-Target": f"{TARGET_PREFIX}.ListStreams"})
    assert (r.status, r.headers["content-type"]) == (400, CBOR_CT)
    assert r.body == bytes.fromhex("a1") + b"\x66__type" + b"\x76SerializationException"
    r = send(server.port, body=b"")
    assert r.headers["content-type"] == CBOR_CT
    assert r.body == bytes.fromhex("a1") + b"\x66__type" + b"\x78\x19UnknownOperationException"


def test_unknown_content_types(server):
    r = send(server.port, body=b"{}", headers={"Content-Type": "text/plain"})
    assert (r.status, r.body) == (403, ACCESS_DENIED_XML)
    r = send(server.port, body=b"{}", headers={"Content-Type": "text/plain",
                                               "X-Amz-Target": f"{TARGET_PREFIX}.ListStreams"})
    assert (r.status, r.body) == (404, b"<UnknownOperationException/>\n")
    assert "content-type" not in r.headers
    assert_ids(r)


def test_unknown_targets(server):
    for target in (f"{TARGET_PREFIX}.FlyToTheMoon", "NotAService_20131202.ListStreams", None):
        r = kinesis_call(server.port, "x", b"{}", **{"X-Amz-Target": target})
        assert (r.status, r.headers["content-type"]) == (400, JSON_CT), target
        assert json.loads(r.body) == {"__type": "UnknownOperationException"}
        assert r.headers["x-amzn-errortype"] == "UnknownOperationException"
    # The body's syntax is checked first.
    r = kinesis_call(server.port, "FlyToTheMoon", b"{nope")
    assert json.loads(r.body) == {"__type": "SerializationException"}
    r = kinesis_call(server.port, "FlyToTheMoon", b"\xa0", **{"Content-Type": CBOR_CT})
    assert (r.status, r.headers["content-type"]) == (400, CBOR_CT)
    assert r.body == bytes.fromhex("a1") + b"\x66__type" + b"\x78\x19UnknownOperationException"


def test_plain_json_content_type_gets_the_coral_envelope(server):
    r = kinesis_call(server.port, "ListStreams", b"{}", **{"Content-Type": "application/json"})
    assert (r.status, r.headers["content-type"]) == (200, "application/json")
    assert json.loads(r.body) == {
        "Output": {"__type": "com.amazon.coral.service#UnknownOperationException",
                   "message": None}, "Version": "1.0"}
    r = kinesis_call(server.port, "ListStreams", b"hello", **{"Content-Type": "application/json"})
    assert json.loads(r.body) == {
        "Output": {"__type": "com.amazon.coral.service#SerializationException",
                   "Message": None}, "Version": "1.0"}


# ------------------------------------------------------------------ CORS

EXPOSE = "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date"


# A browser's preflight for a Kinesis call names X-Amz-Target among the headers it will send
# (without it, freshet serve's S3 API answers the preflight).
@pytest.mark.parametrize("extra,want", [
    ({"Access-Control-Request-Headers": "x-amz-target"},
     {"access-control-allow-headers": "x-amz-target"}),
    ({"Access-Control-Request-Headers": "X-Amz-Target, content-type, x-amz-date",
      "Access-Control-Request-Method": "POST"},
     {"access-control-allow-headers": "X-Amz-Target, content-type, x-amz-date",
      "access-control-allow-methods": "POST"}),
])
def test_cors_preflight(server, extra, want):
    r = send(server.port, "OPTIONS", "/", headers={"Origin": "http://example.com", **extra})
    assert (r.status, r.body) == (200, b"")
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-max-age"] == "172800"
    assert r.headers["content-length"] == "0"
    assert "content-type" not in r.headers
    for k, v in want.items():
        assert r.headers[k] == v
    for k in ("access-control-allow-headers", "access-control-allow-methods"):
        if k not in want:
            assert k not in r.headers
    assert_ids(r, id2=False)


def test_cors_on_answers_to_requests_with_origin(server, kinesis):
    r = kinesis_call(server.port, "ListStreams", b"{}", Origin="http://example.com")
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-expose-headers"] == EXPOSE
    r = kinesis_call(server.port, "DescribeStream", b'{"StreamName":"nope-cors"}',
                     Origin="http://example.com")
    assert r.status == 400
    assert r.headers["access-control-allow-origin"] == "*"
    r = send(server.port, "GET", "/", headers={"Origin": "x",
                                              "X-Amz-Target": f"{TARGET_PREFIX}.ListStreams"})
    assert (r.status, r.headers["access-control-allow-origin"]) == (403, "*")
    r = kinesis_call(server.port, "ListStreams", b"{}")
    assert "access-control-allow-origin" not in r.headers


# ------------------------------------------------------------------ authentication structure

def incomplete(r, message):
    assert (r.status, r.headers["x-amzn-errortype"]) == (400, "IncompleteSignatureException")
    assert json.loads(r.body) == {"__type": "IncompleteSignatureException", "message": message}


def test_authorization_header_structure(server):
    r = kinesis_call(server.port, "ListStreams", b"{}", Authorization="X",
                     **{"X-Amz-Date": None})
    incomplete(r, "Authorization header requires 'Credential' parameter. "
                  "Authorization header requires 'Signature' parameter. "
                  "Authorization header requires 'SignedHeaders' parameter. "
                  "Authorization header requires existence of either a 'X-Amz-Date' or a "
                  "'Date' header. Authorization=X")
    for header in ("AWS4- Signature=b Credential=a", "AWS4- Signature=b,Credential=a",
                   "AWS4- Signature=b, Credential=a"):
        r = kinesis_call(server.port, "ListStreams", b"{}", Authorization=header,
                         **{"X-Amz-Date": None, "Date": "a"})
        incomplete(r, "Authorization header requires 'SignedHeaders' parameter. "
                      f"Authorization={header}")


def test_query_string_authentication_structure(server):
    r = kinesis_call(server.port, "ListStreams", b"{}", Authorization=None)
    r = send(server.port, path="/?X-Amz-Algorithm", body=b"{}", headers={
        "Content-Type": JSON_CT, "X-Amz-Target": f"{TARGET_PREFIX}.ListStreams"})
    incomplete(r, "AWS query-string parameters must include 'X-Amz-Algorithm'. "
                  "AWS query-string parameters must include 'X-Amz-Credential'. "
                  "AWS query-string parameters must include 'X-Amz-Signature'. "
                  "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
                  "AWS query-string parameters must include 'X-Amz-Date'. "
                  "Re-examine the query-string parameters.")
    r = send(server.port, path="/?X-Amz-Algorithm=a&X-Amz-Credential=b&X-Amz-Signature=c"
                               "&X-Amz-Date=d", body=b"{}", headers={
        "Content-Type": JSON_CT, "X-Amz-Target": f"{TARGET_PREFIX}.ListStreams"})
    incomplete(r, "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
                  "Re-examine the query-string parameters.")


def test_both_or_no_authentication(server):
    r = send(server.port, path="/?X-Amz-Algorithm", body=b"{}", headers={
        "Content-Type": JSON_CT, "X-Amz-Target": f"{TARGET_PREFIX}.ListStreams",
        "Authorization": "X"})
    assert r.status == 400
    assert json.loads(r.body) == {
        "__type": "InvalidSignatureException",
        "message": "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' "
                   "as HTTP header."}
    # Every query parameter but X-Amz-Algorithm: no authentication at all.
    r = send(server.port, path="/?X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-SignedHeaders=c"
                               "&X-Amz-Date=d", body=b"{}", headers={
        "Content-Type": JSON_CT, "X-Amz-Target": f"{TARGET_PREFIX}.ListStreams"})
    assert (r.status, r.headers["content-type"]) == (400, JSON_CT)
    assert json.loads(r.body) == {"__type": "MissingAuthenticationTokenException",
                                  "message": "Missing Authentication Token"}
