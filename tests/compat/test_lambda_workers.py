"""Processing across processes (issue 13, item 5): two `freshet process` workers of one
`freshet serve` share one mapping's shards by leases kept in the server's own table (through
its DynamoDB API), reading the stream through its Kinesis API and writing the sink table
through its DynamoDB API. The second worker's arrival rebalances the shards; after kill -9 of
the first, the survivor takes its shards over once their leases expire. Records are produced
throughout; every one ends up in the table once, with its own content."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dynamodb_harness  # noqa: E402
import harness  # noqa: E402
from dynamodb_harness import wait_for  # noqa: E402

UUID = harness.unique_name("workers")
LEASE_MS = 1500
SHARDS = 4


class Worker:
    def __init__(self, endpoint: str, config: Path, worker_id: str, workdir: Path):
        self.id = worker_id
        self.log = workdir / f"worker-{worker_id}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(harness.binary_path()), "process", "--endpoint", endpoint, "--config",
                 str(config), "--worker-id", worker_id, "--lease-ms", str(LEASE_MS),
                 "--discovery-ms", "200"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def all_items(ddb, table: str) -> list[dict]:
    items, kwargs = [], {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def live_owners(ddb) -> dict[str, set[str]]:
    """Live leases of the mapping: worker -> shards."""
    out: dict[str, set[str]] = {}
    try:
        items = all_items(ddb, "freshet-process-checkpoints")
    except ddb.exceptions.ResourceNotFoundException:
        return out
    now_ms = time.time() * 1000
    for it in items:
        key = it["shard"]["S"]
        if not key.startswith(UUID + "/") or "lease_owner" not in it:
            continue
        if float(it["lease_expires_ms"]["N"]) < now_ms:
            continue
        out.setdefault(it["lease_owner"]["S"], set()).add(key.split("/", 1)[1])
    return out


def test_two_workers_share_rebalance_and_take_over(server, tmp_path):
    kinesis = server.boto3()
    ddb = dynamodb_harness.client(server.endpoint)
    stream = harness.unique_name("work")
    table = harness.unique_name("out")
    kinesis.create_stream(StreamName=stream, ShardCount=SHARDS)
    harness.wait_active(kinesis, stream)
    config = tmp_path / "worker.yaml"
    config.write_text(f"""
functions:
  - name: extract
    kind: extract
    sink: {{table: {table}, key: {{hash: id}}}}
    fields:
      - {{name: id, path: id, required: true}}
      - {{name: n, path: n, type: N}}
mappings:
  - uuid: {UUID}
    function: extract
    source: {harness.stream_arn(stream)}
    starting_position: TRIM_HORIZON
    batch_size: 50
""")

    produced = 0
    lock = threading.Lock()

    def produce(count: int, pause: float = 0.0):
        nonlocal produced
        for _ in range(count // 50):
            with lock:
                start = produced
                produced += 50
            recs = [{"Data": json.dumps({"id": f"r{i}", "n": i}).encode(),
                     "PartitionKey": f"k{i}"} for i in range(start, start + 50)]
            r = kinesis.put_records(StreamName=stream, Records=recs)
            assert r["FailedRecordCount"] == 0
            time.sleep(pause)

    produce(400)
    workers: list[Worker] = []
    try:
        a = Worker(server.endpoint, config, "a", tmp_path)
        workers.append(a)
        # Alone, a holds every shard and processes what is there.
        wait_for(lambda: len(live_owners(ddb).get("a", ())) == SHARDS, timeout=30)
        wait_for(lambda: len(all_items(ddb, table)) == 400, timeout=30)

        # b joins while records keep coming: the shards are divided 2 and 2.
        producer = threading.Thread(target=produce, args=(1600, 0.15))
        producer.start()
        b = Worker(server.endpoint, config, "b", tmp_path)
        workers.append(b)
        owners = wait_for(lambda: (lambda o: o if len(o.get("a", ())) == 2 and
                                   len(o.get("b", ())) == 2 else None)(live_owners(ddb)), timeout=30)
        assert owners["a"].isdisjoint(owners["b"])
        a_shards = owners["a"]

        # kill -9 of a: its leases expire and b takes them over.
        time.sleep(0.5)
        a.proc.kill()
        a.proc.wait()
        killed_at = time.monotonic()
        wait_for(lambda: len(live_owners(ddb).get("b", ())) == SHARDS, timeout=30)
        assert time.monotonic() - killed_at >= LEASE_MS / 1000 - 0.3  # not before expiry
        producer.join()

        # Nothing lost, nothing duplicated: one item per record, with its own content.
        total = produced
        assert total == 2000
        items = wait_for(lambda: (lambda it: it if len(it) == total else None)(all_items(ddb, table)),
                         timeout=60)
        ids = [it["id"]["S"] for it in items]
        assert len(set(ids)) == total
        assert set(ids) == {f"r{i}" for i in range(total)}
        for it in items:
            assert it["n"]["N"] == it["id"]["S"][1:]
        # b read the shards a had (its checkpoints there moved on under b's lease).
        cps = {it["shard"]["S"].split("/", 1)[1]: it for it in
               all_items(ddb, "freshet-process-checkpoints") if it["shard"]["S"].startswith(UUID)}
        for shard in a_shards:
            assert cps[shard]["lease_owner"]["S"] == "b"
            assert int(cps[shard]["lease_counter"]["N"]) >= 2
        # A clean stop (SIGTERM) gives the leases back at once, not after they expire.
        b.proc.terminate()
        assert b.proc.wait(timeout=20) == 0, b.text()
        assert live_owners(ddb) == {}
    except BaseException:
        for w in workers:
            print(f"--- worker {w.id} log:\n{w.text()}")
        print(f"--- server log:\n{server.log_text()}")
        raise
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()


def test_latest_worker_reads_children_made_before_it_from_latest(server, tmp_path):
    """A LATEST mapping started after a reshard reads the children that already existed from
    LATEST, not from their beginning (the Kinesis API shows no shard creation time; the worker
    asks ListShards with ShardFilter AT_TIMESTAMP / FROM_TIMESTAMP); shards made by a reshard
    after it started are read from their beginning."""
    kinesis = server.boto3()
    ddb = dynamodb_harness.client(server.endpoint)
    stream = harness.unique_name("latest")
    table = harness.unique_name("out")
    uuid = harness.unique_name("latest-map")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    harness.wait_active(kinesis, stream)

    def put(prefix: str, count: int):
        recs = [{"Data": json.dumps({"id": f"{prefix}{i}"}).encode(), "PartitionKey": f"k{i}"}
                for i in range(count)]
        assert kinesis.put_records(StreamName=stream, Records=recs)["FailedRecordCount"] == 0

    put("old", 40)
    kinesis.update_shard_count(StreamName=stream, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    harness.wait_active(kinesis, stream)
    put("before", 40)  # into the children, before the worker starts
    time.sleep(0.1)
    config = tmp_path / "latest.yaml"
    config.write_text(f"""
functions:
  - name: extract
    kind: extract
    sink: {{table: {table}, key: {{hash: id}}}}
    fields:
      - {{name: id, path: id, required: true}}
mappings:
  - uuid: {uuid}
    function: extract
    source: {harness.stream_arn(stream)}
    starting_position: LATEST
    batch_size: 50
""")

    children = {s["ShardId"] for s in kinesis.list_shards(StreamName=stream)["Shards"]
                if "ParentShardId" in s}
    assert len(children) == 2

    def leased() -> set[str]:
        try:
            items = all_items(ddb, "freshet-process-checkpoints")
        except ddb.exceptions.ResourceNotFoundException:
            return set()
        return {it["shard"]["S"].split("/", 1)[1] for it in items
                if it["shard"]["S"].startswith(uuid + "/") and
                it.get("lease_owner", {}).get("S") == "solo"}

    def ids() -> set[str]:
        try:
            return {it["id"]["S"] for it in all_items(ddb, table)}
        except ddb.exceptions.ResourceNotFoundException:
            return set()

    w = Worker(server.endpoint, config, "solo", tmp_path)
    try:
        # Both children leased; their runners then hold LATEST iterators.
        wait_for(lambda: children <= leased(), timeout=30)
        time.sleep(1.5)
        put("after", 40)
        wait_for(lambda: {f"after{i}" for i in range(40)} <= ids(), timeout=30)
        # A reshard after the worker started: the new shards are read from their beginning.
        kinesis.update_shard_count(StreamName=stream, TargetShardCount=4,
                                   ScalingType="UNIFORM_SCALING")
        harness.wait_active(kinesis, stream)
        put("later", 40)
        wait_for(lambda: {f"later{i}" for i in range(40)} <= ids(), timeout=30)
        got = ids()
        assert not {i for i in got if i.startswith(("old", "before"))}, sorted(got)[:10]
        assert got == {f"after{i}" for i in range(40)} | {f"later{i}" for i in range(40)}
    except BaseException:
        print(f"--- worker log:\n{w.text()}")
        raise
    finally:
        w.proc.terminate()
        w.proc.wait(timeout=20)


def test_worker_writes_a_delivery_stream_sink(server, tmp_path):
    """A worker's function with a delivery-stream sink puts its outputs through the server's
    Firehose API (PutRecordBatch); the server delivers them to its S3 bucket, every record
    once."""
    from test_firehose import clients
    kinesis = server.boto3()
    firehose, s3 = clients(server.endpoint)
    stream = harness.unique_name("todelivery")
    bucket = harness.unique_name("worker-out").lower()
    delivery = harness.unique_name("worker-fh")
    uuid = harness.unique_name("fh-map")
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    harness.wait_active(kinesis, stream)
    s3.create_bucket(Bucket=bucket)
    firehose.create_delivery_stream(
        DeliveryStreamName=delivery, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}})
    total = 300
    recs = [{"Data": json.dumps({"id": f"d{i}", "n": i}).encode(), "PartitionKey": f"k{i}"}
            for i in range(total)]
    for k in range(0, total, 100):
        assert kinesis.put_records(StreamName=stream, Records=recs[k:k + 100])["FailedRecordCount"] == 0
    config = tmp_path / "fh.yaml"
    config.write_text(f"""
functions:
  - name: extract
    kind: extract
    sink: {{delivery: {delivery}}}
    fields:
      - {{name: id, path: id, required: true}}
      - {{name: n, path: n, type: N}}
mappings:
  - uuid: {uuid}
    function: extract
    source: {harness.stream_arn(stream)}
    starting_position: TRIM_HORIZON
    batch_size: 64
""")

    def delivered() -> list[dict]:
        out = []
        for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            text = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode()
            dec, pos = json.JSONDecoder(), 0
            while pos < len(text):
                obj, pos = dec.raw_decode(text, pos)
                out.append(obj)
                while pos < len(text) and text[pos].isspace():
                    pos += 1
        return out

    w = Worker(server.endpoint, config, "fh", tmp_path)
    try:
        got = wait_for(lambda: (lambda d: d if len(d) >= total else None)(delivered()), timeout=60)
        assert sorted(o["id"] for o in got) == sorted(f"d{i}" for i in range(total))
        assert all(o["n"] == int(o["id"][1:]) for o in got)
    except BaseException:
        print(f"--- worker log:\n{w.text()}")
        raise
    finally:
        w.proc.terminate()
        w.proc.wait(timeout=20)
