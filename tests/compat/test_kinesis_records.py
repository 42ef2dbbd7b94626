"""Data plane: PutRecord / PutRecords, every shard iterator type, GetRecords paging, and
resharding (SplitShard, MergeShards, UpdateShardCount) read parents-then-children."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError

import harness
from conftest import make_stream
from harness import hash_ranges, shard_id, stream_arn, unique_name


def err(e: ClientError) -> tuple[str, int]:
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def iterator(c, name, sid, typ, **kw) -> str:
    return c.get_shard_iterator(StreamName=name, ShardId=sid, ShardIteratorType=typ,
                                **kw)["ShardIterator"]


def test_put_record_and_get_records_shape(kinesis, stream):
    r = kinesis.put_record(StreamName=stream, Data=b"hello", PartitionKey="pk-1")
    assert r["ShardId"] == shard_id(0)
    assert r["SequenceNumber"].isdigit()
    assert r.get("EncryptionType", "NONE") == "NONE"
    assert set(r) <= {"ShardId", "SequenceNumber", "EncryptionType", "ResponseMetadata"}
    r2 = kinesis.put_record(StreamName=stream, Data=b"world", PartitionKey="pk-2",
                            SequenceNumberForOrdering=r["SequenceNumber"])
    assert int(r2["SequenceNumber"]) > int(r["SequenceNumber"])

    g = kinesis.get_records(ShardIterator=iterator(kinesis, stream, shard_id(0),
                                                   "TRIM_HORIZON"))
    assert set(g) >= {"Records", "NextShardIterator", "MillisBehindLatest"}
    assert g["MillisBehindLatest"] == 0
    assert isinstance(g["NextShardIterator"], str) and g["NextShardIterator"]
    assert [x["Data"] for x in g["Records"]] == [b"hello", b"world"]
    rec = g["Records"][0]
    assert rec["SequenceNumber"] == r["SequenceNumber"]
    assert rec["PartitionKey"] == "pk-1"
    assert isinstance(rec["ApproximateArrivalTimestamp"], dt.datetime)
    assert abs(rec["ApproximateArrivalTimestamp"] - dt.datetime.now(dt.timezone.utc)) < \
        dt.timedelta(seconds=60)
    assert set(rec) <= {"SequenceNumber", "ApproximateArrivalTimestamp", "Data",
                        "PartitionKey", "EncryptionType"}
    # The open shard has no ChildShards; an empty page at the tip still has an iterator.
    assert "ChildShards" not in g or g["ChildShards"] == []
    g2 = kinesis.get_records(ShardIterator=g["NextShardIterator"])
    assert g2["Records"] == [] and g2["NextShardIterator"] and g2["MillisBehindLatest"] == 0


def test_get_records_limit_and_next_iterator(kinesis, stream):
    seqs = [kinesis.put_record(StreamName=stream, Data=str(i).encode(),
                               PartitionKey="p")["SequenceNumber"] for i in range(7)]
    it = iterator(kinesis, stream, shard_id(0), "TRIM_HORIZON")
    got = []
    for _ in range(10):
        g = kinesis.get_records(ShardIterator=it, Limit=3)
        assert len(g["Records"]) <= 3
        got += g["Records"]
        it = g["NextShardIterator"]
        if not g["Records"]:
            break
    assert [x["SequenceNumber"] for x in got] == seqs
    assert [x["Data"] for x in got] == [str(i).encode() for i in range(7)]


def test_every_shard_iterator_type(kinesis, kinesis_new, stream):
    first = [kinesis.put_record(StreamName=stream, Data=f"a{i}".encode(), PartitionKey="p")
             for i in range(3)]
    latest = iterator(kinesis, stream, shard_id(0), "LATEST")
    ts = harness.next_whole_second()
    second = [kinesis.put_record(StreamName=stream, Data=f"b{i}".encode(), PartitionKey="p")
              for i in range(2)]
    all_data = [b"a0", b"a1", b"a2", b"b0", b"b1"]

    def data(it):
        recs, _ = harness.read_all(kinesis, it)
        return [x["Data"] for x in recs]

    assert data(iterator(kinesis, stream, shard_id(0), "TRIM_HORIZON")) == all_data
    assert data(latest) == [b"b0", b"b1"]
    assert data(iterator(kinesis, stream, shard_id(0), "LATEST")) == []
    assert data(iterator(kinesis, stream, shard_id(0), "AT_SEQUENCE_NUMBER",
                         StartingSequenceNumber=first[1]["SequenceNumber"])) == all_data[1:]
    assert data(iterator(kinesis, stream, shard_id(0), "AFTER_SEQUENCE_NUMBER",
                         StartingSequenceNumber=first[1]["SequenceNumber"])) == all_data[2:]
    assert data(iterator(kinesis, stream, shard_id(0), "AFTER_SEQUENCE_NUMBER",
                         StartingSequenceNumber=second[-1]["SequenceNumber"])) == []
    assert data(iterator(kinesis, stream, shard_id(0), "AT_TIMESTAMP", Timestamp=ts)) == \
        [b"b0", b"b1"]
    assert data(iterator(kinesis, stream, shard_id(0), "AT_TIMESTAMP",
                         Timestamp=ts - dt.timedelta(hours=1))) == all_data
    # By ARN as well as by name.
    it = kinesis_new.get_shard_iterator(StreamARN=stream_arn(stream), ShardId=shard_id(0),
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert data(it) == all_data
    # Invalid combinations.
    with pytest.raises(ClientError) as e:
        iterator(kinesis, stream, shard_id(0), "AT_SEQUENCE_NUMBER")
    assert err(e.value) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        iterator(kinesis, stream, shard_id(0), "AT_TIMESTAMP")
    assert err(e.value) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        iterator(kinesis, stream, shard_id(0), "AT_TIMESTAMP",
                 Timestamp=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    assert err(e.value) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        iterator(kinesis, stream, shard_id(5), "TRIM_HORIZON")
    assert err(e.value) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as e:
        iterator(kinesis, stream, shard_id(0), "AT_SEQUENCE_NUMBER",
                 StartingSequenceNumber="12345")
    assert err(e.value) == ("InvalidArgumentException", 400)


def test_iterator_types_js_and_cli(server, kinesis, stream):
    seqs = [kinesis.put_record(StreamName=stream, Data=f"r{i}".encode(),
                               PartitionKey="p")["SequenceNumber"] for i in range(3)]
    res = server.js([
        {"op": "GetShardIterator", "input": {"StreamName": stream, "ShardId": shard_id(0),
                                             "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                                             "StartingSequenceNumber": seqs[0]}},
        {"op": "GetRecords", "input": {"ShardIterator": harness.ref(0, "ShardIterator"),
                                       "Limit": 1}},
        {"op": "GetRecords", "input": {"ShardIterator": harness.ref(1, "NextShardIterator")}},
        {"op": "GetShardIterator", "input": {"StreamName": stream, "ShardId": shard_id(0),
                                             "ShardIteratorType": "AT_TIMESTAMP",
                                             "Timestamp": harness.date(time.time() - 3600)}},
        {"op": "GetRecords", "input": {"ShardIterator": harness.ref(3, "ShardIterator")}},
    ])
    assert [harness.js_blob(x["Data"]) for x in res[1]["ok"]["Records"]] == [b"r1"]
    assert res[1]["ok"]["MillisBehindLatest"] >= 0
    assert [harness.js_blob(x["Data"]) for x in res[2]["ok"]["Records"]] == [b"r2"]
    assert res[2]["ok"]["MillisBehindLatest"] == 0
    rec = res[4]["ok"]["Records"][0]
    assert rec["SequenceNumber"] == seqs[0] and rec["PartitionKey"] == "p"
    assert abs(rec["ApproximateArrivalTimestamp"]["$date"] / 1000 - time.time()) < 60

    r = server.cli("get-shard-iterator", "--stream-name", stream, "--shard-id", shard_id(0),
                   "--shard-iterator-type", "AT_SEQUENCE_NUMBER",
                   "--starting-sequence-number", seqs[2])
    assert r.rc == 0, r
    r = server.cli("get-records", "--shard-iterator", r.json["ShardIterator"])
    assert r.rc == 0, r
    assert [x["Data"] for x in r.json["Records"]] == ["cjI="]  # base64("r2")
    assert r.json["MillisBehindLatest"] == 0


def test_put_records_routing_and_shape(kinesis):
    name = make_stream(kinesis, unique_name("prs"), 3)
    ranges = hash_ranges(3)
    entries = [{"Data": f"e{i}".encode(), "PartitionKey": "ignored",
                "ExplicitHashKey": str(ranges[i % 3][0] if i < 3 else ranges[i % 3][1])}
               for i in range(6)]
    r = kinesis.put_records(StreamName=name, Records=entries)
    assert r["FailedRecordCount"] == 0
    assert len(r["Records"]) == 6
    for i, e in enumerate(r["Records"]):
        assert set(e) == {"SequenceNumber", "ShardId"}, e
        assert e["ShardId"] == shard_id(i % 3)
    # The record lands on the shard that owns its hash key, in order.
    for s in range(3):
        recs, _ = harness.read_all(kinesis, iterator(kinesis, name, shard_id(s),
                                                     "TRIM_HORIZON"))
        assert [x["Data"] for x in recs] == [f"e{s}".encode(), f"e{s + 3}".encode()]
    # PutRecord with ExplicitHashKey at the top of the hash space.
    r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k",
                           ExplicitHashKey=str((1 << 128) - 1))
    assert r["ShardId"] == shard_id(2)
    # Partition key hashing: MD5 of the key, as a 128-bit big-endian integer.
    import hashlib
    for pk in ["alpha", "beta", "gamma", "delta"]:
        h = int.from_bytes(hashlib.md5(pk.encode()).digest(), "big")
        want = next(i for i, (lo, hi) in enumerate(ranges) if lo <= h <= hi)
        r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey=pk)
        assert r["ShardId"] == shard_id(want), pk
    # An ExplicitHashKey out of range is an InvalidArgumentException.
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k",
                           ExplicitHashKey=str(1 << 128))
    assert err(e.value) == ("InvalidArgumentException", 400)


def test_put_records_partial_failure_shape():
    """With --enforce-limits, a shard takes 1 MiB/s and 1000 records/s; PutRecords past that
    fails per record, with AWS's per-entry error shape, not as a whole."""
    s = harness.FreshetServer(args=["--enforce-limits", "--durability", "os"]).start()
    try:
        c = s.boto3()
        name = make_stream(c, "limited", 1)
        payload = b"z" * 3000
        failed = None
        for _ in range(6):
            r = c.put_records(StreamName=name, Records=[
                {"Data": payload, "PartitionKey": f"k{i}"} for i in range(500)])
            assert len(r["Records"]) == 500
            if r["FailedRecordCount"]:
                failed = r
                break
        assert failed is not None, "no PutRecords entry was throttled past 1 MiB/s"
        n_failed = 0
        for e in failed["Records"]:
            if "ErrorCode" in e:
                n_failed += 1
                assert set(e) == {"ErrorCode", "ErrorMessage"}, e
                assert e["ErrorCode"] == "ProvisionedThroughputExceededException"
                assert e["ErrorMessage"].startswith(
                    f"Rate exceeded for shard {shard_id(0)} in stream {name} under account "
                    f"{harness.ACCOUNT}.")
            else:
                assert set(e) == {"SequenceNumber", "ShardId"}, e
        assert n_failed == failed["FailedRecordCount"]
        # PutRecord past the limit fails as a whole.
        with pytest.raises(ClientError) as e:
            for _ in range(5):
                c.put_record(StreamName=name, Data=b"y" * 1_000_000, PartitionKey="p")
        assert err(e.value) == ("ProvisionedThroughputExceededException", 400)
    finally:
        s.cleanup()


def test_put_records_js_and_cli(server, kinesis, stream):
    res = server.js([{"op": "PutRecords", "input": {"StreamName": stream, "Records": [
        {"Data": harness.b64(b"\x00js0"), "PartitionKey": "a"},
        {"Data": harness.b64(b"\xffjs1"), "PartitionKey": "b"}]}}])
    out = res[0]["ok"]
    assert out["FailedRecordCount"] == 0
    assert [set(x) for x in out["Records"]] == [{"SequenceNumber", "ShardId"}] * 2
    r = server.cli("put-record", "--stream-name", stream, "--partition-key", "c",
                   "--data", "Y2xp")  # base64("cli")
    assert r.rc == 0, r
    assert r.json["ShardId"] == shard_id(0) and r.json["SequenceNumber"].isdigit()
    recs, _ = harness.read_all(kinesis, iterator(kinesis, stream, shard_id(0), "TRIM_HORIZON"))
    assert [x["Data"] for x in recs] == [b"\x00js0", b"\xffjs1", b"cli"]


# ------------------------------------------------------------------------------ resharding

def test_split_shard_read_parent_then_children(kinesis, server):
    name = make_stream(kinesis, unique_name("split"), 1)
    before = [kinesis.put_record(StreamName=name, Data=f"p{i}".encode(), PartitionKey=f"k{i}")
              for i in range(4)]
    parent_it = iterator(kinesis, name, shard_id(0), "TRIM_HORIZON")
    mid = 1 << 127
    r = kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0),
                            NewStartingHashKey=str(mid))
    assert set(r) == {"ResponseMetadata"}
    harness.wait_active(kinesis, name)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    assert [s["ShardId"] for s in shards] == [shard_id(i) for i in range(3)]
    p, c1, c2 = shards
    assert p["SequenceNumberRange"]["EndingSequenceNumber"].isdigit()
    assert int(p["SequenceNumberRange"]["EndingSequenceNumber"]) >= \
        int(before[-1]["SequenceNumber"])
    assert c1["ParentShardId"] == shard_id(0) and "AdjacentParentShardId" not in c1
    assert c2["ParentShardId"] == shard_id(0)
    assert c1["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(mid - 1)}
    assert c2["HashKeyRange"] == {"StartingHashKey": str(mid),
                                  "EndingHashKey": str((1 << 128) - 1)}
    assert "EndingSequenceNumber" not in c1["SequenceNumberRange"]

    after = kinesis.put_record(StreamName=name, Data=b"child", PartitionKey="x",
                               ExplicitHashKey="0")
    assert after["ShardId"] == shard_id(1)

    # The parent reads to its end, then reports its children and no next iterator.
    recs, last = harness.read_all(kinesis, parent_it)
    assert [x["Data"] for x in recs] == [f"p{i}".encode() for i in range(4)]
    assert "NextShardIterator" not in last or last["NextShardIterator"] is None
    assert sorted(last["ChildShards"], key=lambda x: x["ShardId"]) == [
        {"ShardId": shard_id(1), "ParentShards": [shard_id(0)],
         "HashKeyRange": c1["HashKeyRange"]},
        {"ShardId": shard_id(2), "ParentShards": [shard_id(0)],
         "HashKeyRange": c2["HashKeyRange"]}]
    recs, _ = harness.read_all(kinesis, iterator(kinesis, name, shard_id(1), "TRIM_HORIZON"))
    assert [x["Data"] for x in recs] == [b"child"]
    # A closed shard refuses writes by hash key routing; LATEST on it reads nothing.
    recs, last = harness.read_all(kinesis, iterator(kinesis, name, shard_id(0), "LATEST"))
    assert recs == [] and last.get("ChildShards")
    # Same through the JS SDK: ChildShards at the end of the parent.
    res = server.js([
        {"op": "GetShardIterator", "input": {"StreamName": name, "ShardId": shard_id(0),
                                             "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                             "StartingSequenceNumber":
                                                 before[-1]["SequenceNumber"]}},
        {"op": "GetRecords", "input": {"ShardIterator": harness.ref(0, "ShardIterator")}},
    ])
    out = res[1]["ok"]
    assert [harness.js_blob(x["Data"]) for x in out["Records"]] == [b"p3"]
    if out.get("NextShardIterator"):
        res = server.js([{"op": "GetRecords",
                          "input": {"ShardIterator": out["NextShardIterator"]}}])
        out = res[0]["ok"]
    assert "NextShardIterator" not in out
    assert sorted(x["ShardId"] for x in out["ChildShards"]) == [shard_id(1), shard_id(2)]


def test_merge_shards(kinesis):
    name = make_stream(kinesis, unique_name("merge"), 2)
    kinesis.put_record(StreamName=name, Data=b"m0", PartitionKey="a", ExplicitHashKey="0")
    kinesis.put_record(StreamName=name, Data=b"m1", PartitionKey="a",
                       ExplicitHashKey=str((1 << 128) - 1))
    r = kinesis.merge_shards(StreamName=name, ShardToMerge=shard_id(0),
                             AdjacentShardToMerge=shard_id(1))
    assert set(r) == {"ResponseMetadata"}
    harness.wait_active(kinesis, name)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    assert [s["ShardId"] for s in shards] == [shard_id(0), shard_id(1), shard_id(2)]
    child = shards[2]
    assert child["ParentShardId"] == shard_id(0)
    assert child["AdjacentParentShardId"] == shard_id(1)
    assert child["HashKeyRange"] == {"StartingHashKey": "0",
                                     "EndingHashKey": str((1 << 128) - 1)}
    for i, want in [(0, b"m0"), (1, b"m1")]:
        recs, last = harness.read_all(kinesis, iterator(kinesis, name, shard_id(i),
                                                        "TRIM_HORIZON"))
        assert [x["Data"] for x in recs] == [want]
        assert last.get("NextShardIterator") is None
        assert last["ChildShards"] == [{
            "ShardId": shard_id(2), "ParentShards": [shard_id(0), shard_id(1)],
            "HashKeyRange": child["HashKeyRange"]}]
    r = kinesis.put_record(StreamName=name, Data=b"m2", PartitionKey="a")
    assert r["ShardId"] == shard_id(2)


def test_merge_non_adjacent_rejected(kinesis):
    name = make_stream(kinesis, unique_name("nadj"), 3)
    with pytest.raises(ClientError) as e:
        kinesis.merge_shards(StreamName=name, ShardToMerge=shard_id(0),
                             AdjacentShardToMerge=shard_id(2))
    assert err(e.value) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0),
                            NewStartingHashKey="0")
    assert err(e.value) == ("InvalidArgumentException", 400)


def test_update_shard_count(kinesis, kinesis_new, server):
    name = make_stream(kinesis, unique_name("usc"), 2)
    r = kinesis_new.update_shard_count(StreamName=name, TargetShardCount=4,
                                       ScalingType="UNIFORM_SCALING")
    assert {k: v for k, v in r.items() if k != "ResponseMetadata"} == {
        "StreamName": name, "CurrentShardCount": 2, "TargetShardCount": 4,
        "StreamARN": stream_arn(name)}
    harness.wait_active(kinesis, name)
    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["OpenShardCount"] == 4
    open_shards = kinesis.list_shards(StreamName=name,
                                      ShardFilter={"Type": "AT_LATEST"})["Shards"]
    got = sorted((int(x["HashKeyRange"]["StartingHashKey"]),
                  int(x["HashKeyRange"]["EndingHashKey"])) for x in open_shards)
    assert got == hash_ranges(4)
    for x in open_shards:
        assert x["ParentShardId"] in (shard_id(0), shard_id(1))
    # Back down to 2 with the CLI (AWS allows at most halving in one call).
    r = server.cli("update-shard-count", "--stream-name", name, "--target-shard-count", "2",
                   "--scaling-type", "UNIFORM_SCALING")
    assert r.rc == 0, r
    assert r.json["CurrentShardCount"] == 4 and r.json["TargetShardCount"] == 2
    harness.wait_active(kinesis, name)
    open_shards = kinesis.list_shards(StreamName=name,
                                      ShardFilter={"Type": "AT_LATEST"})["Shards"]
    got = sorted((int(x["HashKeyRange"]["StartingHashKey"]),
                  int(x["HashKeyRange"]["EndingHashKey"])) for x in open_shards)
    assert got == hash_ranges(2)
