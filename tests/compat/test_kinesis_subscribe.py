"""SubscribeToShard (enhanced fan-out) with real clients: the AWS SDK for JavaScript v3 over
its default HTTP/2 handler, boto3 over HTTP/1.1, and raw HTTP/1.1 requests whose event-stream
bytes are decoded here (prelude, headers, both CRCs) to pin the wire format."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import struct
import time
import zlib

import cbor2
import pytest

import harness
from harness import shard_id, stream_arn, unique_name

SPLIT_KEY = str(1 << 127)


def make_consumer(kinesis, shards: int = 1, prefix: str = "sub") -> tuple[str, str]:
    name = unique_name(prefix)
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    harness.wait_active(kinesis, name)
    c = kinesis.register_stream_consumer(StreamARN=stream_arn(name), ConsumerName="c")
    return name, c["Consumer"]["ConsumerARN"]


def subscribe_input(consumer: str, position: dict, shard: int = 0) -> dict:
    return {"ConsumerARN": consumer, "ShardId": shard_id(shard), "StartingPosition": position}


def js_records(events: list[dict]) -> list[bytes]:
    return [base64.b64decode(r["Data"]) for e in events for r in e.get("Records", [])]


# ------------------------------------------------------------------ JS SDK, HTTP/2

def test_js_http2_delivers_records_put_while_subscribed(server, kinesis):
    name, consumer = make_consumer(kinesis)
    first = kinesis.put_record(StreamName=name, Data=b"before", PartitionKey="k")
    puts = [{"op": "PutRecord", "input": {"StreamName": name, "Data": harness.b64(b"during-%d" % i),
                                          "PartitionKey": "k"}} for i in range(3)]
    res = harness.run_js_subscribe(server.endpoint, subscribe_input(consumer, {
        "Type": "TRIM_HORIZON"}), after=puts, records=4)
    assert res["error"] is None, res
    assert res["httpStatusCode"] == 200
    assert all("other" not in e for e in res["events"]), res["events"]  # initial-response hidden
    assert js_records(res["events"]) == [b"before", b"during-0", b"during-1", b"during-2"]
    recs = [r for e in res["events"] for r in e["Records"]]
    assert recs[0]["SequenceNumber"] == first["SequenceNumber"]
    seqs = [int(r["SequenceNumber"]) for r in recs]
    assert seqs == sorted(seqs)
    last = res["events"][-1]
    assert last["ContinuationSequenceNumber"] == recs[-1]["SequenceNumber"]
    assert last["MillisBehindLatest"] >= 0


def test_js_http2_second_subscription_is_resource_in_use(server, kinesis):
    name, consumer = make_consumer(kinesis)
    # The JS subscription stays open while boto3 tries the same consumer and shard.
    after = [{"op": "SubscribeToShard", "input": subscribe_input(consumer, {"Type": "LATEST"})}]
    res = harness.run_js_subscribe(server.endpoint, subscribe_input(consumer, {"Type": "LATEST"}),
                                   after=after, records=0, timeout_ms=3000)
    assert res["after"][0]["error"]["name"] == "ResourceInUseException", res
    assert res["after"][0]["error"]["message"] == (
        f"Another active subscription exists for this consumer: {consumer} and shard: "
        f"{shard_id(0)}.")


def test_js_http2_resharding_while_subscribed_ends_with_child_shards(server, kinesis):
    name, consumer = make_consumer(kinesis)
    kinesis.put_record(StreamName=name, Data=b"parent", PartitionKey="k")
    split = [{"op": "SplitShard", "input": {"StreamName": name, "ShardToSplit": shard_id(0),
                                            "NewStartingHashKey": SPLIT_KEY}}]
    res = harness.run_js_subscribe(server.endpoint, subscribe_input(consumer, {
        "Type": "TRIM_HORIZON"}), after=split, until_end=True, timeout_ms=15000)
    assert res["error"] is None and res["ended"], res
    assert js_records(res["events"]) == [b"parent"]
    last = res["events"][-1]
    assert last["ContinuationSequenceNumber"] is None
    assert [c["ShardId"] for c in last["ChildShards"]] == [shard_id(1), shard_id(2)]
    assert all(c["ParentShards"] == [shard_id(0)] for c in last["ChildShards"])
    # The children can be subscribed to at once (the parent's subscription has ended).
    kinesis.put_record(StreamName=name, Data=b"child", PartitionKey="k",
                       ExplicitHashKey=str((1 << 128) - 1))
    res = harness.run_js_subscribe(server.endpoint, subscribe_input(consumer, {
        "Type": "TRIM_HORIZON"}, shard=2), records=1)
    assert js_records(res["events"]) == [b"child"], res


# ------------------------------------------------------------------ boto3, HTTP/1.1

def boto_records(event_stream, want: int, timeout: float = 10.0, delay: float = 0.0):
    out, events = [], []
    deadline = time.monotonic() + timeout
    for ev in event_stream:
        e = ev["SubscribeToShardEvent"]
        events.append(e)
        out += [r["Data"] for r in e["Records"]]
        if len(out) >= want or time.monotonic() > deadline:
            break
        if delay:
            time.sleep(delay)
    return out, events


@pytest.mark.parametrize("kind", ["TRIM_HORIZON", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
                                  "AT_TIMESTAMP", "LATEST"])
def test_boto3_every_starting_position(server, kinesis, kind):
    name, consumer = make_consumer(kinesis, prefix="pos")
    before = time.time()
    seqs = [kinesis.put_record(StreamName=name, Data=d, PartitionKey="k")["SequenceNumber"]
            for d in (b"a", b"b", b"c")]
    position = {"Type": kind}
    want = {"TRIM_HORIZON": [b"a", b"b", b"c"], "AT_SEQUENCE_NUMBER": [b"b", b"c"],
            "AFTER_SEQUENCE_NUMBER": [b"c"], "AT_TIMESTAMP": [b"a", b"b", b"c"],
            "LATEST": [b"d"]}[kind]
    if kind.endswith("SEQUENCE_NUMBER"):
        position["SequenceNumber"] = seqs[1]
    if kind == "AT_TIMESTAMP":
        position["Timestamp"] = dt.datetime.fromtimestamp(before - 1, dt.timezone.utc)
    res = kinesis.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard_id(0),
                                     StartingPosition=position)
    if kind == "LATEST":
        kinesis.put_record(StreamName=name, Data=b"d", PartitionKey="k")
    got, _ = boto_records(res["EventStream"], len(want))
    res["EventStream"].close()
    assert got == want


def test_boto3_slow_reader_gets_everything_in_order(server, kinesis):
    name, consumer = make_consumer(kinesis, prefix="slow")
    payload = b"x" * 200_000
    for i in range(30):  # 6 MB: more than the server buffers for one subscription
        kinesis.put_record(StreamName=name, Data=payload + b"%02d" % i, PartitionKey="k")
    res = kinesis.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard_id(0),
                                     StartingPosition={"Type": "TRIM_HORIZON"})
    got, _ = boto_records(res["EventStream"], 30, timeout=30, delay=0.05)
    res["EventStream"].close()
    assert [g[-2:] for g in got] == [b"%02d" % i for i in range(30)]


def test_boto3_subscription_ends_after_its_lifetime(tmp_path):
    s = harness.FreshetServer(args=["--durability", "os", "--subscription-lifetime-ms", "1500"])
    s.start()
    try:
        k = s.boto3()
        _, consumer = make_consumer(k, prefix="life")
        start = time.monotonic()
        res = k.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard_id(0),
                                   StartingPosition={"Type": "LATEST"})
        events = list(res["EventStream"])  # ends when the server ends the subscription
        took = time.monotonic() - start
        assert 1.3 <= took < 10, took
        assert all(e["SubscribeToShardEvent"]["Records"] == [] for e in events)
        # The slot is free again: the consumer can resubscribe at once.
        res = k.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard_id(0),
                                   StartingPosition={"Type": "LATEST"})
        res["EventStream"].close()
    finally:
        s.stop()
        s.cleanup()


def test_boto3_errors(server, kinesis):
    name, consumer = make_consumer(kinesis, prefix="err")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard_id(5),
                                   StartingPosition={"Type": "LATEST"})
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.subscribe_to_shard(ConsumerARN=consumer.replace("/consumer/c:", "/consumer/d:"),
                                   ShardId=shard_id(0), StartingPosition={"Type": "LATEST"})
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard_id(0),
                                   StartingPosition={"Type": "AT_SEQUENCE_NUMBER"})


# ------------------------------------------------------------------ raw HTTP/1.1 bytes

def decode_messages(data: bytes) -> list[tuple[dict, bytes]]:
    """AWS event-stream messages, every length and CRC checked."""
    out, i = [], 0
    while i < len(data):
        total, hlen = struct.unpack(">II", data[i:i + 8])
        assert struct.unpack(">I", data[i + 8:i + 12])[0] == zlib.crc32(data[i:i + 8])
        msg = data[i:i + total]
        assert struct.unpack(">I", msg[-4:])[0] == zlib.crc32(msg[:-4])
        headers, h = {}, msg[12:12 + hlen]
        while h:
            n = h[0]
            name = h[1:1 + n].decode()
            assert h[1 + n] == 7  # string
            vlen = struct.unpack(">H", h[2 + n:4 + n])[0]
            headers[name] = h[4 + n:4 + n + vlen].decode()
            h = h[4 + n + vlen:]
        out.append((headers, msg[12 + hlen:-4]))
        i += total
    return out


def raw_subscribe(port: int, body: bytes, content_type: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/", body=body, headers={
        "Content-Type": content_type, "X-Amz-Target": "Kinesis_20131202.SubscribeToShard",
        "X-Amz-Date": "20250101T000000Z", "Authorization": harness.FAKE_AUTH})
    resp = conn.getresponse()
    data = b""
    while len(decode_partial(data)) < 2:
        chunk = resp.read1(65536)
        if not chunk:
            break
        data += chunk
    headers = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, headers, data


def decode_partial(data: bytes) -> list[int]:
    ends, i = [], 0
    while len(data) - i >= 4:
        total = struct.unpack(">I", data[i:i + 4])[0]
        if len(data) - i < total:
            break
        i += total
        ends.append(i)
    return ends


def test_raw_http11_event_stream_bytes(server, kinesis):
    name, consumer = make_consumer(kinesis, prefix="raw")
    seq = kinesis.put_record(StreamName=name, Data=b"\x00\xffraw", PartitionKey="pk")
    body = json.dumps(subscribe_input(consumer, {"Type": "TRIM_HORIZON"})).encode()
    status, headers, data = raw_subscribe(server.port, body, harness.JSON_CT)
    assert status == 200
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers
    assert len(headers["x-amzn-requestid"]) == 36
    assert "x-amz-id-2" in headers
    msgs = decode_messages(data[:decode_partial(data)[1]])
    assert msgs[0][0] == {":event-type": "initial-response", ":content-type": "application/json",
                          ":message-type": "event"}
    assert msgs[0][1] == b"{}"
    assert msgs[1][0][":event-type"] == "SubscribeToShardEvent"
    assert msgs[1][0][":message-type"] == "event"
    event = json.loads(msgs[1][1])
    assert list(event) == ["Records", "ContinuationSequenceNumber", "MillisBehindLatest"]
    rec = event["Records"][0]
    assert list(rec) == ["SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey"]
    assert rec["SequenceNumber"] == seq["SequenceNumber"]
    assert base64.b64decode(rec["Data"]) == b"\x00\xffraw"
    assert event["ContinuationSequenceNumber"] == seq["SequenceNumber"]


def test_raw_cbor_events_are_cbor(server, kinesis):
    name, consumer = make_consumer(kinesis, prefix="cbor")
    kinesis.put_record(StreamName=name, Data=b"c", PartitionKey="pk")
    body = cbor2.dumps(subscribe_input(consumer, {"Type": "TRIM_HORIZON"}))
    status, headers, data = raw_subscribe(server.port, body, harness.CBOR_CT)
    assert status == 200
    msgs = decode_messages(data[:decode_partial(data)[1]])
    assert msgs[1][0][":content-type"] == "application/x-amz-cbor-1.1"
    event, _ = harness.decode_cbor_raw(msgs[1][1], 0)
    assert event["Records"][0]["Data"] == b"c"
