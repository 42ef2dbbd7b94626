"""kill -9 with fsync durability: every acknowledged record survives byte-identical, with the
streams, tags and consumers, and a shard iterator taken before the crash still works."""

from __future__ import annotations

import os

import harness
from conftest import make_stream
from harness import shard_id, stream_arn


def test_kill9_restart_keeps_acknowledged_state():
    srv = harness.FreshetServer(args=["--durability", "fsync"]).start()
    try:
        c = srv.boto3()
        name = make_stream(c, "durable", 2)
        other = make_stream(c, "durable-other", 1)
        c.add_tags_to_stream(StreamName=name, Tags={"keep": "me"})
        consumer = c.register_stream_consumer(StreamARN=stream_arn(name),
                                              ConsumerName="survivor")["Consumer"]
        harness.wait_consumer_active(c, consumer["ConsumerARN"])
        it_before = {s: c.get_shard_iterator(StreamName=name, ShardId=shard_id(s),
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                     for s in range(2)}

        acked: dict[str, list[tuple[str, bytes]]] = {shard_id(0): [], shard_id(1): []}
        for i in range(40):
            data = os.urandom(1 + (i * 37) % 3000) + bytes([i])
            r = c.put_record(StreamName=name, Data=data, PartitionKey=f"pk{i}")
            acked[r["ShardId"]].append((r["SequenceNumber"], data))
        batch = [{"Data": os.urandom(500) + bytes([i]), "PartitionKey": f"b{i}"}
                 for i in range(100)]
        r = c.put_records(StreamName=name, Records=batch)
        assert r["FailedRecordCount"] == 0
        for e, rec in zip(r["Records"], batch):
            acked[e["ShardId"]].append((e["SequenceNumber"], rec["Data"]))
        assert acked[shard_id(0)] and acked[shard_id(1)]

        srv.kill9()
        srv.start()  # same data dir, new port
        c = srv.boto3()

        assert sorted(c.list_streams()["StreamNames"]) == sorted([name, other])
        s = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert s["StreamStatus"] == "ACTIVE" and s["OpenShardCount"] == 2
        assert c.list_tags_for_stream(StreamName=name)["Tags"] == [
            {"Key": "keep", "Value": "me"}]
        cons = c.list_stream_consumers(StreamARN=stream_arn(name))["Consumers"]
        assert [(x["ConsumerName"], x["ConsumerARN"]) for x in cons] == [
            ("survivor", consumer["ConsumerARN"])]

        for sid, want in acked.items():
            # The iterator obtained before the crash still reads the shard.
            recs, _ = harness.read_all(c, it_before[int(sid[-1])], max_calls=200)
            got = [(x["SequenceNumber"], x["Data"]) for x in recs]
            assert got == sorted(want, key=lambda t: int(t[0])), sid
        # New writes after restart get higher sequence numbers.
        r = c.put_record(StreamName=name, Data=b"after", PartitionKey="pk0")
        last = max(int(q) for q, _ in acked[r["ShardId"]])
        assert int(r["SequenceNumber"]) > last
        assert srv.stop() == 0
    finally:
        srv.cleanup()
