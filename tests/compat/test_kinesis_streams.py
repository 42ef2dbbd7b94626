"""Stream control plane through boto3, AWS CLI v2 and the JS SDK v3: create, describe, list,
waiters, retention, tags, encryption, enhanced monitoring, consumers, resource policy,
limits and account settings."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError

import harness
from conftest import make_stream
from harness import hash_ranges, shard_id, stream_arn, unique_name

NOW_SLACK = dt.timedelta(seconds=120)


def assert_recent(ts: dt.datetime):
    assert isinstance(ts, dt.datetime)
    assert abs(dt.datetime.now(dt.timezone.utc) - ts) < NOW_SLACK, ts


def err(e: ClientError) -> tuple[str, int, str]:
    r = e.response
    return (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"].get("Message"))


# ------------------------------------------------------------------ CreateStream / Describe

def test_create_stream_provisioned_describe_shape(kinesis):
    name = unique_name("prov")
    resp = kinesis.create_stream(StreamName=name, ShardCount=3)
    assert set(resp) == {"ResponseMetadata"}
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    harness.wait_active(kinesis, name)

    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["StreamName"] == name
    assert d["StreamARN"] == stream_arn(name)
    assert d["StreamStatus"] == "ACTIVE"
    assert d["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert d["HasMoreShards"] is False
    assert d["RetentionPeriodHours"] == 24
    assert d["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert d["EncryptionType"] == "NONE"
    assert "KeyId" not in d
    assert_recent(d["StreamCreationTimestamp"])
    assert [s["ShardId"] for s in d["Shards"]] == [shard_id(i) for i in range(3)]
    for s, (lo, hi) in zip(d["Shards"], hash_ranges(3)):
        assert set(s) == {"ShardId", "HashKeyRange", "SequenceNumberRange"}
        assert s["HashKeyRange"] == {"StartingHashKey": str(lo), "EndingHashKey": str(hi)}
        assert set(s["SequenceNumberRange"]) == {"StartingSequenceNumber"}
        assert s["SequenceNumberRange"]["StartingSequenceNumber"].isdigit()


def test_create_stream_on_demand(kinesis):
    name = unique_name("ondemand")
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    s = harness.wait_active(kinesis, name)
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    # AWS gives a new on-demand stream 4 shards (4 MiB/s of write capacity).
    assert s["OpenShardCount"] == 4
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    assert [(int(x["HashKeyRange"]["StartingHashKey"]), int(x["HashKeyRange"]["EndingHashKey"]))
            for x in shards] == hash_ranges(4)


def test_describe_stream_summary_shape(kinesis, kinesis_new, stream):
    s = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert s["StreamName"] == stream
    assert s["StreamARN"] == stream_arn(stream)
    assert s["StreamStatus"] == "ACTIVE"
    assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert s["RetentionPeriodHours"] == 24
    assert s["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert s["EncryptionType"] == "NONE"
    assert s["OpenShardCount"] == 1
    assert s["ConsumerCount"] == 0
    assert_recent(s["StreamCreationTimestamp"])
    # Also addressable by ARN.
    by_arn = kinesis_new.describe_stream_summary(StreamARN=stream_arn(stream))
    assert by_arn["StreamDescriptionSummary"]["StreamName"] == stream


def test_describe_stream_pagination_boto3(kinesis):
    name = make_stream(kinesis, unique_name("descpage"), 5)
    d = kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
    assert [s["ShardId"] for s in d["Shards"]] == [shard_id(0), shard_id(1)]
    assert d["HasMoreShards"] is True
    d = kinesis.describe_stream(StreamName=name, Limit=2,
                                ExclusiveStartShardId=shard_id(1))["StreamDescription"]
    assert [s["ShardId"] for s in d["Shards"]] == [shard_id(2), shard_id(3)]
    assert d["HasMoreShards"] is True
    d = kinesis.describe_stream(StreamName=name, Limit=2,
                                ExclusiveStartShardId=shard_id(3))["StreamDescription"]
    assert [s["ShardId"] for s in d["Shards"]] == [shard_id(4)]
    assert d["HasMoreShards"] is False
    # The botocore paginator follows HasMoreShards / last ShardId.
    pages = list(kinesis.get_paginator("describe_stream").paginate(
        StreamName=name, PaginationConfig={"PageSize": 2, "MaxItems": 100}))
    assert len(pages) == 3
    ids = [s["ShardId"] for p in pages for s in p["StreamDescription"]["Shards"]]
    assert ids == [shard_id(i) for i in range(5)]


def test_describe_stream_pagination_cli(server, kinesis):
    name = make_stream(kinesis, unique_name("clidesc"), 3)
    r = server.cli("describe-stream", "--stream-name", name, "--page-size", "1")
    assert r.rc == 0, r
    d = r.json["StreamDescription"]
    assert [s["ShardId"] for s in d["Shards"]] == [shard_id(i) for i in range(3)]
    assert d["StreamARN"] == stream_arn(name)
    r = server.cli("describe-stream", "--stream-name", name, "--limit", "1", "--no-paginate")
    assert r.rc == 0, r
    assert [s["ShardId"] for s in r.json["StreamDescription"]["Shards"]] == [shard_id(0)]
    assert r.json["StreamDescription"]["HasMoreShards"] is True


def test_create_and_describe_cli(server):
    name = unique_name("cli")
    r = server.cli("create-stream", "--stream-name", name, "--shard-count", "2")
    assert r.rc == 0, r
    assert r.stdout.strip() == ""
    r = server.cli("wait", "stream-exists", "--stream-name", name, timeout=60)
    assert r.rc == 0, r
    r = server.cli("describe-stream-summary", "--stream-name", name)
    assert r.rc == 0, r
    s = r.json["StreamDescriptionSummary"]
    assert s["StreamStatus"] == "ACTIVE" and s["OpenShardCount"] == 2
    # JSON 1.1 timestamps are epoch seconds; the CLI prints them as ISO 8601.
    assert isinstance(s["StreamCreationTimestamp"], str) and "T" in s["StreamCreationTimestamp"]


def test_create_and_describe_js(server):
    name = unique_name("js")
    res = server.js([
        {"op": "CreateStream", "input": {"StreamName": name, "ShardCount": 2}},
        {"waiter": "StreamExists", "input": {"StreamName": name}, "maxWaitTime": 20},
        {"op": "DescribeStreamSummary", "input": {"StreamName": name}},
        {"op": "DescribeStream", "input": {"StreamName": name, "Limit": 1}},
    ])
    assert res[0] == {"ok": {"$httpStatusCode": 200}}
    assert res[1]["ok"]["state"] == "SUCCESS"
    s = res[2]["ok"]["StreamDescriptionSummary"]
    assert s["StreamARN"] == stream_arn(name)
    assert s["OpenShardCount"] == 2
    assert isinstance(s["StreamCreationTimestamp"]["$date"], int)
    assert abs(s["StreamCreationTimestamp"]["$date"] / 1000 - time.time()) < 120
    d = res[3]["ok"]["StreamDescription"]
    assert [x["ShardId"] for x in d["Shards"]] == [shard_id(0)]
    assert d["HasMoreShards"] is True


# ------------------------------------------------------------------------- waiters

def test_waiters_boto3(slow_server):
    c = slow_server.boto3()
    name = unique_name("wait")
    c.create_stream(StreamName=name, ShardCount=1)
    s = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamStatus"] == "CREATING"
    c.get_waiter("stream_exists").wait(StreamName=name,
                                       WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    assert c.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "ACTIVE"
    c.delete_stream(StreamName=name)
    c.get_waiter("stream_not_exists").wait(StreamName=name,
                                           WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    with pytest.raises(ClientError) as e:
        c.describe_stream(StreamName=name)
    assert err(e.value)[:2] == ("ResourceNotFoundException", 400)


def test_waiter_cli_and_js(slow_server):
    names = [unique_name("wcli"), unique_name("wjs")]
    c = slow_server.boto3()
    for n in names:
        c.create_stream(StreamName=n, ShardCount=1)
    res = slow_server.js([{"waiter": "StreamExists", "input": {"StreamName": names[1]},
                           "maxWaitTime": 20}])
    assert res[0]["ok"]["state"] == "SUCCESS"
    # The CLI waiter polls every 10 s: the stream is ACTIVE at the second poll.
    r = slow_server.cli("wait", "stream-exists", "--stream-name", names[0], timeout=60)
    assert r.rc == 0, r
    # A waiter on a stream that does not exist fails at once on ResourceNotFoundException.
    r = slow_server.cli("wait", "stream-exists", "--stream-name", "no-such-stream", timeout=60)
    assert r.rc == 255, r
    assert "ResourceNotFoundException" in r.stderr


def test_creating_and_updating_states(slow_server):
    c = slow_server.boto3()
    name = unique_name("states")
    c.create_stream(StreamName=name, ShardCount=2)
    # Writes to a CREATING stream: AWS answers ResourceNotFoundException.
    with pytest.raises(ClientError) as e:
        c.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    assert err(e.value)[:2] == ("ResourceNotFoundException", 400)
    c.get_waiter("stream_exists").wait(StreamName=name,
                                       WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    r = c.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert r["CurrentShardCount"] == 2 and r["TargetShardCount"] == 4
    assert c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamStatus"] == "UPDATING"
    # Another reshard while UPDATING: ResourceInUseException.
    with pytest.raises(ClientError) as e:
        c.split_shard(StreamName=name, ShardToSplit=shard_id(0),
                      NewStartingHashKey=str(1 << 100))
    assert err(e.value)[:2] == ("ResourceInUseException", 400)
    # Writes continue while UPDATING.
    assert c.put_record(StreamName=name, Data=b"x", PartitionKey="k")["SequenceNumber"]
    c.get_waiter("stream_exists").wait(StreamName=name,
                                       WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    assert c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "OpenShardCount"] == 4


# -------------------------------------------------------------------------- ListStreams

def test_list_streams_pagination(kinesis, kinesis_new, server):
    prefix = unique_name("ls")
    names = sorted(f"{prefix}-{i}" for i in range(3))
    for n in names:
        make_stream(kinesis, n, 1)
    all_names = kinesis.list_streams(Limit=10000)["StreamNames"]
    assert all_names == sorted(all_names), "ListStreams lists names in lexicographic order"
    assert set(names) <= set(all_names)

    # ExclusiveStartStreamName (the original paging scheme).
    start = all_names[all_names.index(names[0]) - 1] if all_names.index(names[0]) else None
    kw = {"ExclusiveStartStreamName": start} if start else {}
    r = kinesis.list_streams(Limit=1, **kw)
    assert r["StreamNames"] == [names[0]]
    assert r["HasMoreStreams"] is True
    r = kinesis.list_streams(Limit=2, ExclusiveStartStreamName=names[0])
    assert r["StreamNames"] == names[1:3]

    # NextToken and StreamSummaries (current model).
    r = kinesis_new.list_streams(Limit=1)
    assert len(r["StreamNames"]) == 1 and r["HasMoreStreams"] is True
    assert isinstance(r["NextToken"], str) and r["NextToken"]
    summary = r["StreamSummaries"][0]
    assert summary["StreamName"] == r["StreamNames"][0]
    assert summary["StreamARN"] == stream_arn(summary["StreamName"])
    assert summary["StreamStatus"] in ("ACTIVE", "CREATING", "UPDATING", "DELETING")
    assert set(summary["StreamModeDetails"]) == {"StreamMode"}
    assert isinstance(summary["StreamCreationTimestamp"], dt.datetime)
    seen = list(r["StreamNames"])
    token = r["NextToken"]
    for _ in range(len(all_names) + 5):
        r = kinesis_new.list_streams(NextToken=token, Limit=1)
        seen += r["StreamNames"]
        if not r["HasMoreStreams"]:
            assert "NextToken" not in r
            break
        token = r["NextToken"]
    assert set(names) <= set(seen)
    assert seen == sorted(seen) and len(seen) == len(set(seen))

    # CLI auto-pagination with a page size of 1 returns every name.
    r = server.cli("list-streams", "--page-size", "1")
    assert r.rc == 0, r
    assert set(names) <= set(r.json["StreamNames"])
    # JS SDK.
    res = server.js([{"op": "ListStreams", "input": {"Limit": 2,
                                                     "ExclusiveStartStreamName": names[0]}}])
    assert res[0]["ok"]["StreamNames"] == names[1:3]


# --------------------------------------------------------------------------- ListShards

def test_list_shards_next_token_max_results(kinesis, server):
    name = make_stream(kinesis, unique_name("lsh"), 5)
    r = kinesis.list_shards(StreamName=name, MaxResults=2)
    assert [s["ShardId"] for s in r["Shards"]] == [shard_id(0), shard_id(1)]
    token = r["NextToken"]
    r = kinesis.list_shards(NextToken=token, MaxResults=2)
    assert [s["ShardId"] for s in r["Shards"]] == [shard_id(2), shard_id(3)]
    r = kinesis.list_shards(NextToken=r["NextToken"], MaxResults=2)
    assert [s["ShardId"] for s in r["Shards"]] == [shard_id(4)]
    assert "NextToken" not in r
    # NextToken together with StreamName is rejected.
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamName=name, NextToken=token)
    assert err(e.value)[:2] == ("InvalidArgumentException", 400)
    # ExclusiveStartShardId.
    r = kinesis.list_shards(StreamName=name, ExclusiveStartShardId=shard_id(2))
    assert [s["ShardId"] for s in r["Shards"]] == [shard_id(3), shard_id(4)]
    # Shard shape.
    s0 = kinesis.list_shards(StreamName=name)["Shards"][0]
    assert set(s0) == {"ShardId", "HashKeyRange", "SequenceNumberRange"}
    # CLI and JS.
    r = server.cli("list-shards", "--stream-name", name, "--max-results", "3", "--no-paginate")
    assert r.rc == 0, r
    assert [s["ShardId"] for s in r.json["Shards"]] == [shard_id(i) for i in range(3)]
    assert r.json["NextToken"]
    res = server.js([{"op": "ListShards", "input": {"StreamARN": stream_arn(name),
                                                    "MaxResults": 4}},
                     {"op": "ListShards", "input": {"NextToken": ref(0, "NextToken")}}])
    assert len(res[0]["ok"]["Shards"]) == 4
    assert [s["ShardId"] for s in res[1]["ok"]["Shards"]] == [shard_id(4)]


def ref(i, *p):
    return harness.ref(i, *p)


def test_list_shards_shard_filter(kinesis):
    name = make_stream(kinesis, unique_name("filt"), 2)
    t_before_split = harness.next_whole_second()
    lo, hi = hash_ranges(2)[0]
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0),
                        NewStartingHashKey=str((lo + hi) // 2 + 1))
    harness.wait_active(kinesis, name)
    t_after_split = harness.next_whole_second()

    def ids(**flt):
        r = kinesis.list_shards(StreamName=name, ShardFilter=flt)
        return [s["ShardId"] for s in r["Shards"]]

    every = [shard_id(i) for i in range(4)]
    assert ids(Type="FROM_TRIM_HORIZON") == every
    assert ids(Type="AT_TRIM_HORIZON") == [shard_id(0), shard_id(1)]
    assert ids(Type="AT_LATEST") == [shard_id(1), shard_id(2), shard_id(3)]
    assert ids(Type="AFTER_SHARD_ID", ShardId=shard_id(1)) == [shard_id(2), shard_id(3)]
    assert ids(Type="AT_TIMESTAMP", Timestamp=t_before_split) == [shard_id(0), shard_id(1)]
    assert ids(Type="AT_TIMESTAMP", Timestamp=t_after_split) == [shard_id(1), shard_id(2),
                                                                 shard_id(3)]
    assert ids(Type="FROM_TIMESTAMP", Timestamp=t_before_split) == every
    assert ids(Type="FROM_TIMESTAMP", Timestamp=t_after_split) == [shard_id(1), shard_id(2),
                                                                   shard_id(3)]
    # AFTER_SHARD_ID without ShardId is an InvalidArgumentException.
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AFTER_SHARD_ID"})
    assert err(e.value)[:2] == ("InvalidArgumentException", 400)


# ---------------------------------------------------------------------------- retention

def test_retention_increase_decrease(kinesis, stream, server):
    r = kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=48)
    assert set(r) == {"ResponseMetadata"}
    assert kinesis.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    # Decreasing with IncreaseStreamRetentionPeriod is an InvalidArgumentException.
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=25)
    assert err(e.value)[:2] == ("InvalidArgumentException", 400)
    # Above the 8760-hour maximum.
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=8761)
    assert err(e.value)[:2] == ("InvalidArgumentException", 400)
    r = server.cli("decrease-stream-retention-period", "--stream-name", stream,
                   "--retention-period-hours", "24")
    assert r.rc == 0, r
    assert kinesis.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["RetentionPeriodHours"] == 24
    with pytest.raises(ClientError) as e:
        kinesis.decrease_stream_retention_period(StreamName=stream, RetentionPeriodHours=23)
    assert err(e.value)[:2] == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        kinesis.decrease_stream_retention_period(StreamName=stream, RetentionPeriodHours=48)
    assert err(e.value)[:2] == ("InvalidArgumentException", 400)


# --------------------------------------------------------------------------------- tags

def test_tags_stream_api(kinesis, stream, server):
    r = kinesis.add_tags_to_stream(StreamName=stream, Tags={"team": "data", "env": "test"})
    assert set(r) == {"ResponseMetadata"}
    r = kinesis.list_tags_for_stream(StreamName=stream)
    assert r["Tags"] == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "data"}]
    assert r["HasMoreTags"] is False
    r = kinesis.list_tags_for_stream(StreamName=stream, Limit=1)
    assert r["Tags"] == [{"Key": "env", "Value": "test"}] and r["HasMoreTags"] is True
    r = kinesis.list_tags_for_stream(StreamName=stream, ExclusiveStartTagKey="env")
    assert r["Tags"] == [{"Key": "team", "Value": "data"}] and r["HasMoreTags"] is False
    # Overwrite a value.
    kinesis.add_tags_to_stream(StreamName=stream, Tags={"env": "prod"})
    kinesis.remove_tags_from_stream(StreamName=stream, TagKeys=["team"])
    assert kinesis.list_tags_for_stream(StreamName=stream)["Tags"] == [
        {"Key": "env", "Value": "prod"}]
    r = server.cli("add-tags-to-stream", "--stream-name", stream, "--tags", "a=1,b=2")
    assert r.rc == 0, r
    r = server.cli("list-tags-for-stream", "--stream-name", stream)
    assert r.rc == 0, r
    assert r.json == {"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"},
                               {"Key": "env", "Value": "prod"}], "HasMoreTags": False}


def test_tags_resource_api(kinesis_new, stream, server):
    arn = stream_arn(stream)
    r = kinesis_new.tag_resource(ResourceARN=arn, Tags={"k1": "v1", "k2": "v2"})
    assert set(r) == {"ResponseMetadata"}
    r = kinesis_new.list_tags_for_resource(ResourceARN=arn)
    assert sorted(r["Tags"], key=lambda t: t["Key"]) == [{"Key": "k1", "Value": "v1"},
                                                         {"Key": "k2", "Value": "v2"}]
    kinesis_new.untag_resource(ResourceARN=arn, TagKeys=["k1"])
    assert kinesis_new.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "k2", "Value": "v2"}]
    # The two APIs see the same tags.
    assert kinesis_new.list_tags_for_stream(StreamName=stream)["Tags"] == [
        {"Key": "k2", "Value": "v2"}]
    res = server.js([
        {"op": "TagResource", "input": {"ResourceARN": arn, "Tags": {"js": "yes"}}},
        {"op": "ListTagsForResource", "input": {"ResourceARN": arn}},
        {"op": "UntagResource", "input": {"ResourceARN": arn, "TagKeys": ["js", "k2"]}},
        {"op": "ListTagsForResource", "input": {"ResourceARN": arn}},
    ])
    assert "error" not in res[0], res
    assert sorted(res[1]["ok"]["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "js", "Value": "yes"}, {"Key": "k2", "Value": "v2"}]
    assert res[3]["ok"]["Tags"] == []
    # Tags at creation.
    name = unique_name("tagged")
    kinesis_new.create_stream(StreamName=name, ShardCount=1, Tags={"born": "tagged"})
    harness.wait_active(kinesis_new, name)
    assert kinesis_new.list_tags_for_stream(StreamName=name)["Tags"] == [
        {"Key": "born", "Value": "tagged"}]


# ------------------------------------------------------------- encryption and monitoring

def test_encryption_start_stop(kinesis, stream, server):
    r = kinesis.start_stream_encryption(StreamName=stream, EncryptionType="KMS",
                                        KeyId="alias/aws/kinesis")
    assert set(r) == {"ResponseMetadata"}
    harness.wait_active(kinesis, stream)
    s = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert s["EncryptionType"] == "KMS"
    assert s["KeyId"] == "alias/aws/kinesis"
    put = kinesis.put_record(StreamName=stream, Data=b"secret", PartitionKey="p")
    assert put["EncryptionType"] == "KMS"
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=put["ShardId"],
                                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=put["SequenceNumber"])
    rec = kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=1)["Records"][0]
    assert rec["Data"] == b"secret" and rec["EncryptionType"] == "KMS"
    r = server.cli("stop-stream-encryption", "--stream-name", stream, "--encryption-type",
                   "KMS", "--key-id", "alias/aws/kinesis")
    assert r.rc == 0, r
    harness.wait_active(kinesis, stream)
    s = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert s["EncryptionType"] == "NONE"
    assert "KeyId" not in s


def test_enhanced_monitoring(kinesis, kinesis_new, stream, server):
    r = kinesis_new.enable_enhanced_monitoring(StreamName=stream,
                                           ShardLevelMetrics=["IncomingBytes", "OutgoingBytes"])
    assert r["StreamName"] == stream
    assert r["StreamARN"] == stream_arn(stream)
    assert r["CurrentShardLevelMetrics"] == []
    assert sorted(r["DesiredShardLevelMetrics"]) == ["IncomingBytes", "OutgoingBytes"]
    d = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
    assert sorted(d["EnhancedMonitoring"][0]["ShardLevelMetrics"]) == [
        "IncomingBytes", "OutgoingBytes"]
    r = kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    assert sorted(r["DesiredShardLevelMetrics"]) == sorted([
        "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
        "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
        "IteratorAgeMilliseconds"])
    r = server.cli("disable-enhanced-monitoring", "--stream-name", stream,
                   "--shard-level-metrics", "IncomingBytes")
    assert r.rc == 0, r
    assert "IncomingBytes" in r.json["CurrentShardLevelMetrics"]
    assert "IncomingBytes" not in r.json["DesiredShardLevelMetrics"]
    assert len(r.json["DesiredShardLevelMetrics"]) == 6
    r = kinesis.disable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    assert r["DesiredShardLevelMetrics"] == []
    s = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert s["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


# ---------------------------------------------------------------------------- consumers

def test_consumers_lifecycle(kinesis, stream, server):
    arn = stream_arn(stream)
    c = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c1")["Consumer"]
    assert set(c) == {"ConsumerName", "ConsumerARN", "ConsumerStatus",
                      "ConsumerCreationTimestamp"}
    assert c["ConsumerName"] == "c1"
    assert c["ConsumerStatus"] in ("CREATING", "ACTIVE")
    assert c["ConsumerARN"].startswith(f"{arn}/consumer/c1:")
    assert c["ConsumerARN"].rsplit(":", 1)[1].isdigit()
    assert_recent(c["ConsumerCreationTimestamp"])
    d = harness.wait_consumer_active(kinesis, c["ConsumerARN"])
    assert d == {"ConsumerName": "c1", "ConsumerARN": c["ConsumerARN"],
                 "ConsumerStatus": "ACTIVE",
                 "ConsumerCreationTimestamp": c["ConsumerCreationTimestamp"],
                 "StreamARN": arn}
    d2 = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="c1")
    assert d2["ConsumerDescription"]["ConsumerARN"] == c["ConsumerARN"]
    with pytest.raises(ClientError) as e:
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c1")
    assert err(e.value)[:2] == ("ResourceInUseException", 400)

    r = server.cli("register-stream-consumer", "--stream-arn", arn, "--consumer-name", "c2")
    assert r.rc == 0, r
    c2 = r.json["Consumer"]
    harness.wait_consumer_active(kinesis, c2["ConsumerARN"])
    lst = kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]
    assert sorted(x["ConsumerName"] for x in lst) == ["c1", "c2"]
    for x in lst:
        assert set(x) == {"ConsumerName", "ConsumerARN", "ConsumerStatus",
                          "ConsumerCreationTimestamp"}
    r = kinesis.list_stream_consumers(StreamARN=arn, MaxResults=1)
    assert len(r["Consumers"]) == 1 and r["NextToken"]
    r2 = kinesis.list_stream_consumers(StreamARN=arn, NextToken=r["NextToken"], MaxResults=1)
    assert len(r2["Consumers"]) == 1
    assert {r["Consumers"][0]["ConsumerName"], r2["Consumers"][0]["ConsumerName"]} == {"c1",
                                                                                         "c2"}
    assert kinesis.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["ConsumerCount"] == 2

    res = server.js([
        {"op": "DescribeStreamConsumer", "input": {"ConsumerARN": c2["ConsumerARN"]}},
        {"op": "DeregisterStreamConsumer", "input": {"ConsumerARN": c2["ConsumerARN"]}},
    ])
    assert res[0]["ok"]["ConsumerDescription"]["ConsumerName"] == "c2"
    assert res[1] == {"ok": {"$httpStatusCode": 200}}
    r = kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="c1")
    assert set(r) == {"ResponseMetadata"}
    deadline = time.monotonic() + 30
    while kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]:
        assert time.monotonic() < deadline, "consumers not removed within 30 s"
        time.sleep(0.05)
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])
    assert err(e.value)[:2] == ("ResourceNotFoundException", 400)


# ----------------------------------------------------------------------- resource policy

def test_resource_policy(kinesis_new, stream, server):
    arn = stream_arn(stream)
    policy = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "s1", "Effect": "Allow",
                       "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                       "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator"],
                       "Resource": arn}]})
    r = kinesis_new.put_resource_policy(ResourceARN=arn, Policy=policy)
    assert set(r) == {"ResponseMetadata"}
    got = kinesis_new.get_resource_policy(ResourceARN=arn)["Policy"]
    assert json.loads(got) == json.loads(policy)
    res = server.js([{"op": "GetResourcePolicy", "input": {"ResourceARN": arn}},
                     {"op": "DeleteResourcePolicy", "input": {"ResourceARN": arn}}])
    assert json.loads(res[0]["ok"]["Policy"]) == json.loads(policy)
    assert res[1] == {"ok": {"$httpStatusCode": 200}}
    with pytest.raises(ClientError) as e:
        kinesis_new.put_resource_policy(ResourceARN=stream_arn("no-such-stream"), Policy=policy)
    assert err(e.value)[:2] == ("ResourceNotFoundException", 400)


# ------------------------------------------------------------ limits and account settings

def test_describe_limits_and_shard_limit():
    s = harness.FreshetServer(args=["--shard-limit", "5", "--durability", "os"]).start()
    try:
        c = s.boto3()
        r = c.describe_limits()
        assert r["ShardLimit"] == 5
        assert r["OpenShardCount"] == 0
        assert r["OnDemandStreamCount"] == 0
        assert isinstance(r["OnDemandStreamCountLimit"], int) and r["OnDemandStreamCountLimit"] > 0
        make_stream(c, "lim-a", 3)
        assert c.describe_limits()["OpenShardCount"] == 3
        with pytest.raises(ClientError) as e:
            c.create_stream(StreamName="lim-b", ShardCount=5)
        assert err(e.value)[:2] == ("LimitExceededException", 400)
        with pytest.raises(ClientError) as e:
            c.update_shard_count(StreamName="lim-a", TargetShardCount=6,
                                 ScalingType="UNIFORM_SCALING")
        assert err(e.value)[:2] == ("LimitExceededException", 400)
        r = s.cli("describe-limits")
        assert r.rc == 0, r
        assert r.json["ShardLimit"] == 5 and r.json["OpenShardCount"] == 3
    finally:
        s.cleanup()


def test_account_settings(kinesis_new, server):
    r = kinesis_new.describe_account_settings()
    assert set(r) <= {"ResponseMetadata", "MinimumThroughputBillingCommitment"}
    if "MinimumThroughputBillingCommitment" in r:
        assert r["MinimumThroughputBillingCommitment"]["Status"] in (
            "ENABLED", "DISABLED", "ENABLED_UNTIL_EARLIEST_ALLOWED_END")
    r = kinesis_new.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    m = r["MinimumThroughputBillingCommitment"]
    assert m["Status"] == "ENABLED"
    res = server.js([{"op": "DescribeAccountSettings", "input": {}}])
    assert res[0]["ok"]["MinimumThroughputBillingCommitment"]["Status"] == "ENABLED"


# ------------------------------------------------------------------------------ delete

def test_delete_stream_all_clients(kinesis, server):
    names = [make_stream(kinesis, unique_name(f"del{i}"), 1) for i in range(3)]
    assert set(kinesis.delete_stream(StreamName=names[0])) == {"ResponseMetadata"}
    r = server.cli("delete-stream", "--stream-name", names[1])
    assert r.rc == 0 and r.stdout.strip() == "", r
    res = server.js([{"op": "DeleteStream", "input": {"StreamARN": stream_arn(names[2])}}])
    assert res[0] == {"ok": {"$httpStatusCode": 200}}
    deadline = time.monotonic() + 30
    for n in names:
        while True:
            try:
                kinesis.describe_stream_summary(StreamName=n)
            except ClientError as e:
                assert err(e)[:2] == ("ResourceNotFoundException", 400)
                break
            assert time.monotonic() < deadline, f"{n} still exists"
            time.sleep(0.05)
    assert not set(names) & set(kinesis.list_streams(Limit=10000)["StreamNames"])
