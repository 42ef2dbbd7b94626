"""Errors as AWS sends them: __type codes, HTTP status, ValidationException wording, and the
protocol-level errors (bad JSON, unknown target, unsigned request) over raw HTTP."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import harness
from harness import JSON_CT, TARGET_PREFIX, raw_json, unique_name


def error_type(resp: harness.RawResponse) -> str:
    """The error code as the AWS SDKs read it: x-amzn-ErrorType, else the body's __type;
    anything up to '#' (a namespace) and after ':' is dropped."""
    code = resp.headers.get("x-amzn-errortype")
    if not code:
        code = resp.json().get("__type", "")
    return code.split(":")[0].split("#")[-1]


def client_error(e: ClientError) -> tuple[str, int, str]:
    r = e.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_resource_not_found(kinesis, server):
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream(StreamName="does-not-exist")
    assert client_error(e.value) == (
        "ResourceNotFoundException", 400,
        f"Stream does-not-exist under account {harness.ACCOUNT} not found.")
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName="does-not-exist", Data=b"x", PartitionKey="k")
    assert client_error(e.value)[:2] == ("ResourceNotFoundException", 400)
    r = server.cli("describe-stream-summary", "--stream-name", "does-not-exist")
    assert r.rc == 254, r
    assert "(ResourceNotFoundException)" in r.stderr
    res = server.js([{"op": "DeleteStream", "input": {"StreamName": "does-not-exist"}}])
    assert res[0]["error"]["name"] == "ResourceNotFoundException"
    assert res[0]["error"]["httpStatusCode"] == 400
    assert res[0]["error"]["fault"] == "client"
    r = raw_json(server.port, "DescribeStreamSummary", {"StreamName": "does-not-exist"})
    assert r.status == 400
    assert r.headers["content-type"] == JSON_CT
    assert error_type(r) == "ResourceNotFoundException"
    assert r.json()["message"] == f"Stream does-not-exist under account {harness.ACCOUNT} " \
                                  f"not found."
    assert r.headers.get("x-amzn-requestid")


def test_resource_in_use(kinesis, stream, server):
    with pytest.raises(ClientError) as e:
        kinesis.create_stream(StreamName=stream, ShardCount=1)
    assert client_error(e.value) == (
        "ResourceInUseException", 400,
        f"Stream {stream} under account {harness.ACCOUNT} already exists.")
    res = server.js([{"op": "CreateStream", "input": {"StreamName": stream, "ShardCount": 1}}])
    assert res[0]["error"]["name"] == "ResourceInUseException"
    assert res[0]["error"]["httpStatusCode"] == 400


@pytest.mark.parametrize("params,message", [
    ({"StreamName": "bad name!", "ShardCount": 1},
     "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy "
     "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"),
    ({"StreamName": "ok", "ShardCount": 0},
     "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: "
     "Member must have value greater than or equal to 1"),
    ({"StreamName": "x" * 129, "ShardCount": 1},
     f"1 validation error detected: Value '{'x' * 129}' at 'streamName' failed to satisfy "
     "constraint: Member must have length less than or equal to 128"),
    ({"ShardCount": 1},
     "1 validation error detected: Value null at 'streamName' failed to satisfy constraint: "
     "Member must not be null"),
    ({"StreamName": "bad name!", "ShardCount": 0},
     "2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: "
     "Member must have value greater than or equal to 1; "
     "Value 'bad name!' at 'streamName' failed to satisfy "
     "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"),
])
def test_validation_exception_create_stream(kinesis_raw, params, message):
    with pytest.raises(ClientError) as e:
        kinesis_raw.create_stream(**params)
    assert client_error(e.value) == ("ValidationException", 400, message)


def test_validation_exception_other_operations(kinesis_raw, stream):
    with pytest.raises(ClientError) as e:
        kinesis_raw.list_streams(Limit=0)
    assert client_error(e.value) == (
        "ValidationException", 400,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")
    with pytest.raises(ClientError) as e:
        kinesis_raw.put_record(StreamName=stream, Data=b"x", PartitionKey="")
    assert client_error(e.value) == (
        "ValidationException", 400,
        "1 validation error detected: Value '' at 'partitionKey' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1")
    with pytest.raises(ClientError) as e:
        kinesis_raw.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                       ShardIteratorType="SIDEWAYS")
    code, status, msg = client_error(e.value)
    assert (code, status) == ("ValidationException", 400)
    assert msg == ("1 validation error detected: Value 'SIDEWAYS' at 'shardIteratorType' "
                   "failed to satisfy constraint: Member must satisfy enum value set: "
                   "[AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, "
                   "AT_TIMESTAMP]")
    with pytest.raises(ClientError) as e:
        kinesis_raw.put_records(StreamName=stream, Records=[])
    code, status, msg = client_error(e.value)
    assert (code, status) == ("ValidationException", 400)
    assert msg == ("1 validation error detected: Value '[]' at 'records' failed to satisfy "
                   "constraint: Member must have length greater than or equal to 1")


def test_invalid_argument(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k",
                           ExplicitHashKey=str(1 << 128))
    assert client_error(e.value)[:2] == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        kinesis.get_records(ShardIterator="bm90LWFuLWl0ZXJhdG9y")
    assert client_error(e.value)[:2] == ("InvalidArgumentException", 400)


def test_expired_iterator():
    """Iterators expire (5 minutes on AWS; this server is told 1 s), and NextShardIterator
    gets a fresh lifetime."""
    import time
    srv = harness.FreshetServer(args=["--iterator-lifetime-ms", "1000", "--durability", "os"])
    srv.start()
    try:
        k = srv.boto3()
        name = unique_name("exp")
        k.create_stream(StreamName=name, ShardCount=1)
        harness.wait_active(k, name)
        it = k.get_shard_iterator(StreamName=name, ShardId=harness.shard_id(0),
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        fresh = k.get_records(ShardIterator=it)["NextShardIterator"]
        time.sleep(1.5)
        with pytest.raises(ClientError) as e:
            k.get_records(ShardIterator=it)
        assert client_error(e.value)[:2] == ("ExpiredIteratorException", 400)
        assert "Iterator expired" in e.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as e:
            k.get_records(ShardIterator=fresh)
        assert client_error(e.value)[:2] == ("ExpiredIteratorException", 400)
        newer = k.get_shard_iterator(StreamName=name, ShardId=harness.shard_id(0),
                                     ShardIteratorType="LATEST")["ShardIterator"]
        assert "Records" in k.get_records(ShardIterator=newer)
    finally:
        assert srv.stop() == 0
        srv.cleanup()


# ------------------------------------------------------------------------------ raw HTTP

def test_malformed_json_serialization_exception(server):
    r = server.raw(f"{TARGET_PREFIX}.ListStreams", b'{"Limit": 1,')
    assert r.status == 400
    assert error_type(r) == "SerializationException"
    r = server.raw(f"{TARGET_PREFIX}.DescribeStream", b'{"StreamName": 5}')
    assert r.status == 400
    assert error_type(r) == "SerializationException"
    r = server.raw(f"{TARGET_PREFIX}.PutRecord",
                   json.dumps({"StreamName": "x", "PartitionKey": "k",
                               "Data": "not base64!"}).encode())
    assert r.status == 400
    assert error_type(r) == "SerializationException"


def test_unknown_operation(server):
    r = server.raw(f"{TARGET_PREFIX}.FlyToTheMoon", b"{}")
    assert r.status == 400
    assert error_type(r) == "UnknownOperationException"
    r = server.raw("NotAService_20131202.ListStreams", b"{}")
    assert r.status == 400
    assert error_type(r) == "UnknownOperationException"
    r = server.raw(None, b"{}")
    assert r.status == 400
    assert error_type(r) == "UnknownOperationException"


def test_missing_authentication_token(server):
    r = server.raw(f"{TARGET_PREFIX}.ListStreams", b"{}", auth=None)
    assert r.status == 400  # as AWS answers a JSON request (kinesalite recorded it)
    assert error_type(r) == "MissingAuthenticationTokenException"
    assert r.json()["message"] == "Missing Authentication Token"


def test_empty_success_body_is_json_object(server, stream):
    r = raw_json(server.port, "AddTagsToStream", {"StreamName": stream, "Tags": {"a": "b"}})
    assert r.status == 200
    assert r.headers["content-type"] == JSON_CT
    assert r.body in (b"", b"{}")


def test_raw_unique_stream_not_found_message_cli(server):
    name = unique_name("ghost")
    r = server.cli("get-shard-iterator", "--stream-name", name, "--shard-id",
                   "shardId-000000000000", "--shard-iterator-type", "TRIM_HORIZON")
    assert r.rc == 254, r
    assert "ResourceNotFoundException" in r.stderr
