"""Records written by one client read back byte-identical by the others: all 256 byte values
and a record of exactly 1 MiB (data + partition key)."""

from __future__ import annotations

import base64
import os

import harness
from harness import shard_id

ALL_BYTES = bytes(range(256))
PK = "big"
BIG = os.urandom((1 << 20) - len(PK))  # data + partition key = 1 MiB, the AWS maximum


def _cli_read(server, stream, seq):
    r = server.cli("get-shard-iterator", "--stream-name", stream, "--shard-id", shard_id(0),
                   "--shard-iterator-type", "AT_SEQUENCE_NUMBER",
                   "--starting-sequence-number", seq, check=True)
    r = server.cli("get-records", "--shard-iterator", r.json["ShardIterator"], "--limit", "10",
                   check=True)
    return r.json["Records"]


def test_boto3_writes_js_and_cli_read(server, kinesis, stream):
    small = kinesis.put_record(StreamName=stream, Data=ALL_BYTES, PartitionKey="bin")
    big = kinesis.put_record(StreamName=stream, Data=BIG, PartitionKey=PK)
    multi = kinesis.put_records(StreamName=stream, Records=[
        {"Data": bytes([b]) * 3, "PartitionKey": f"b{b}"} for b in (0, 0x7f, 0x80, 0xff)])
    assert multi["FailedRecordCount"] == 0

    res = server.js([
        {"op": "GetShardIterator", "input": {"StreamName": stream, "ShardId": shard_id(0),
                                             "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                             "StartingSequenceNumber":
                                                 small["SequenceNumber"]}},
        {"op": "GetRecords", "input": {"ShardIterator": harness.ref(0, "ShardIterator")}},
    ], timeout=120)
    recs = res[1]["ok"]["Records"]
    assert [harness.js_blob(r["Data"]) for r in recs] == \
        [ALL_BYTES, BIG, b"\x00" * 3, b"\x7f" * 3, b"\x80" * 3, b"\xff" * 3]
    assert [r["SequenceNumber"] for r in recs[:2]] == [small["SequenceNumber"],
                                                       big["SequenceNumber"]]
    assert [r["PartitionKey"] for r in recs[:2]] == ["bin", PK]

    recs = _cli_read(server, stream, small["SequenceNumber"])
    # The CLI prints blobs base64-encoded.
    assert [base64.b64decode(r["Data"]) for r in recs] == \
        [ALL_BYTES, BIG, b"\x00" * 3, b"\x7f" * 3, b"\x80" * 3, b"\xff" * 3]


def test_js_and_cli_write_boto3_reads(server, kinesis, stream):
    res = server.js([
        {"op": "PutRecord", "input": {"StreamName": stream, "Data": harness.b64(ALL_BYTES),
                                      "PartitionKey": "js"}},
        {"op": "PutRecord", "input": {"StreamName": stream, "Data": harness.b64(BIG),
                                      "PartitionKey": PK}},
    ], timeout=120)
    first = res[0]["ok"]["SequenceNumber"]
    assert res[0]["ok"]["ShardId"] == shard_id(0)
    assert "error" not in res[1], res[1]
    r = server.cli("put-record", "--stream-name", stream, "--partition-key", "cli",
                   "--data", base64.b64encode(ALL_BYTES[::-1]).decode(), check=True)
    assert r.json["SequenceNumber"].isdigit()
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id(0),
                                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=first)["ShardIterator"]
    recs, _ = harness.read_all(kinesis, it)
    assert [x["Data"] for x in recs] == [ALL_BYTES, BIG, ALL_BYTES[::-1]]
    assert [x["PartitionKey"] for x in recs] == ["js", PK, "cli"]


def test_one_byte_over_the_limit_is_rejected(kinesis, stream):
    import pytest
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName=stream, Data=BIG + b"!", PartitionKey=PK)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
