"""The AWS CBOR protocol (application/x-amz-cbor-1.1, the AWS SDK for Java's default for
Kinesis) over raw HTTP, encoded with Debian's python3-cbor2.

AWS's CBOR protocol carries timestamps as tag 1 around an integer of epoch *milliseconds*
(not the RFC 8949 seconds): the AWS SDKs for Java v1/v2 write and read them that way."""

from __future__ import annotations

import struct
import time

import cbor2

import harness
from harness import CBOR_CT, TARGET_PREFIX, shard_id


def call(server, op, payload) -> harness.RawResponse:
    return server.raw(f"{TARGET_PREFIX}.{op}", cbor2.dumps(payload), content_type=CBOR_CT)


def tagged_timestamp_after(body: bytes, member: str) -> tuple[int, int]:
    """Reads the raw CBOR value after the text key `member`: returns (tag, integer)."""
    key = cbor2.dumps(member)
    i = body.index(key) + len(key)
    assert body[i] == 0xC1, f"{member} is not tag 1: {body[i:i + 10].hex()}"
    head = body[i + 1]
    major, info = head >> 5, head & 0x1F
    assert major == 0, f"{member}: tag 1 content is not an unsigned integer: {head:#x}"
    if info < 24:
        return 1, info
    size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
    fmt = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}[size]
    return 1, struct.unpack(fmt, body[i + 2:i + 2 + size])[0]


def test_cbor_put_and_get_records(server, stream):
    data = bytes(range(256)) * 3
    t_before_ms = int(time.time() * 1000)
    r = call(server, "PutRecord", {"StreamName": stream, "Data": data, "PartitionKey": "cbor"})
    assert r.status == 200, r
    assert r.headers["content-type"] == CBOR_CT
    put = r.cbor()
    assert put["ShardId"] == shard_id(0)
    assert isinstance(put["SequenceNumber"], str) and put["SequenceNumber"].isdigit()

    r = call(server, "GetShardIterator", {"StreamName": stream, "ShardId": shard_id(0),
                                          "ShardIteratorType": "TRIM_HORIZON"})
    assert r.status == 200, r
    it = r.cbor()["ShardIterator"]
    r = call(server, "GetRecords", {"ShardIterator": it, "Limit": 10})
    assert r.status == 200, r
    assert r.headers["content-type"] == CBOR_CT
    out = r.cbor()
    assert isinstance(out["NextShardIterator"], str)
    assert out["MillisBehindLatest"] == 0
    rec = out["Records"][0]
    assert isinstance(rec["Data"], bytes), type(rec["Data"])  # a CBOR byte string
    assert rec["Data"] == data
    assert rec["PartitionKey"] == "cbor"
    assert rec["SequenceNumber"] == put["SequenceNumber"]
    _, ms = tagged_timestamp_after(r.body, "ApproximateArrivalTimestamp")
    assert t_before_ms - 5000 <= ms <= int(time.time() * 1000) + 5000, ms


def test_cbor_at_timestamp_request_in_milliseconds(server, stream):
    r = call(server, "PutRecord", {"StreamName": stream, "Data": b"old", "PartitionKey": "p"})
    assert r.status == 200, r
    time.sleep(0.3)
    ts_ms = int(time.time() * 1000)
    time.sleep(0.3)
    r = call(server, "PutRecord", {"StreamName": stream, "Data": b"new", "PartitionKey": "p"})
    assert r.status == 200, r
    r = call(server, "GetShardIterator", {"StreamName": stream, "ShardId": shard_id(0),
                                          "ShardIteratorType": "AT_TIMESTAMP",
                                          "Timestamp": cbor2.CBORTag(1, ts_ms)})
    assert r.status == 200, (r, r.body and cbor2.loads(r.body))
    r = call(server, "GetRecords", {"ShardIterator": r.cbor()["ShardIterator"]})
    assert r.status == 200, r
    assert [x["Data"] for x in r.cbor()["Records"]] == [b"new"]


def test_cbor_error_response(server):
    r = call(server, "DescribeStreamSummary", {"StreamName": "no-such-cbor-stream"})
    assert r.status == 400
    assert r.headers["content-type"] == CBOR_CT
    body = r.cbor()
    assert body["__type"].split("#")[-1] == "ResourceNotFoundException"
    assert body["message"] == (f"Stream no-such-cbor-stream under account {harness.ACCOUNT} "
                               f"not found.")
    r = server.raw(f"{TARGET_PREFIX}.ListStreams", b"\xbf\x61", content_type=CBOR_CT)
    assert r.status == 400
    assert r.cbor()["__type"].split("#")[-1] == "SerializationException"
