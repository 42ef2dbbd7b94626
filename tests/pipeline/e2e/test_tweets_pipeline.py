"""End to end: `freshet up` on a copy of examples/tweets.yaml, checked through the public
APIs only (boto3 against the node's port), across two kill -9 restarts.

The copy changes only what makes the test short: the producer sends a fixed number of tweets
at a fixed rate (1% malformed), the delivery stream buffers for 1 s instead of 60, and the
trend windows last 2 s instead of 60.

The stream's content after the crash is the ground truth (what the producer got acknowledged
before kill -9). Checks, each against it:
  * every valid tweet is in `tweet_attributes` once (keyed by user id and tweet id);
  * every malformed one is in `tweets-dlq`, inside a failure record with its reason;
  * `tweet_trends` counts every record's lang once in its window;
  * every record was delivered to the bucket exactly once (after gunzip, one per line);
  * the extract mapping's IteratorAge stayed under 5 s and DataFreshness within the buffering
    interval + 2 s (CloudWatch GetMetricStatistics on the same server);
  * all of it still holds after a second kill -9 and restart; a restart with the same file
    plans no changes.
"""

from __future__ import annotations

import collections
import base64
import gzip
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[3]
BINARY = Path(os.environ.get("FRESHET_BINARY", REPO / "build" / "release" / "freshet"))
READY = re.compile(r"freshet: listening on (http://127\.0\.0\.1:\d+)")
COUNT = 6000
RATE = 3000


def pipeline_copy(tmp: Path) -> Path:
    text = (REPO / "examples" / "tweets.yaml").read_text()
    text = text.replace("interval_seconds: 60", "interval_seconds: 1")
    text = re.sub(r"rate: \d+ ", f"rate: {RATE} ", text)
    text = text.replace("seed: 42", f"seed: 42\n    count: {COUNT}")
    text = text.replace("tumbling_window_seconds: 60", "tumbling_window_seconds: 2")
    assert "interval_seconds: 1}" in text and f"count: {COUNT}" in text
    assert "tumbling_window_seconds: 2" in text
    path = tmp / "tweets.yaml"
    path.write_text(text)
    return path


class Up:
    def __init__(self, file: Path, data: Path, *extra: str):
        self.proc = subprocess.Popen(
            [str(BINARY), "up", str(file), "--listen", "127.0.0.1:0", "--data-dir", str(data),
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.output = ""
        deadline = time.time() + 30
        self.endpoint = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output += line
            m = READY.search(line)
            if m:
                self.endpoint = m.group(1)
                break
        assert self.endpoint, f"freshet up did not start:\n{self.output}"

    def client(self, service: str):
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=30))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=20) == 0


def stream_records(kinesis, name: str) -> list[bytes]:
    out = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = kinesis.get_records(ShardIterator=it, Limit=10000)
            out.extend(rec["Data"] for rec in r["Records"])
            if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
                break
            it = r.get("NextShardIterator")
    return out


def delivered_records(s3, bucket: str) -> tuple[list[bytes], list[str]]:
    records, keys = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            keys.append(obj["Key"])
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            text = gzip.decompress(body)
            assert text.endswith(b"\n"), obj["Key"]
            records.extend(text[:-1].split(b"\n"))
    return records, keys


def valid_key(record: bytes):
    """(user id, tweet id) if the extract function must accept the record, else None: JSON,
    the required fields strings, and an item under DynamoDB's 400 KB."""
    try:
        d = json.loads(record)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(d, dict) or not isinstance(d.get("user"), dict):
        return None
    if not isinstance(d["user"].get("id_str"), str):
        return None
    if not all(isinstance(d.get(k), str) for k in ("id_str", "created_at", "text")):
        return None
    if len(record) > 400_000:
        return None
    return (d["user"]["id_str"], d["id_str"])


def scan_all(ddb, table: str) -> list[dict]:
    items, kwargs = [], {"TableName": table}
    while True:
        r = ddb.scan(**kwargs)
        items.extend(r["Items"])
        if "LastEvaluatedKey" not in r:
            return items
        kwargs["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def dead_letters(kinesis) -> tuple[set[bytes], list[str]]:
    """The records inside tweets-dlq's failure records, and the reasons given."""
    records, reasons = set(), []
    for raw in stream_records(kinesis, "tweets-dlq"):
        failure = json.loads(raw)
        reasons.append(failure.get("errorMessage", ""))
        for r in failure.get("records", []):
            records.add(base64.b64decode(r["data"]))
    return records, reasons


def wait_for(check, timeout: float = 40):
    deadline = time.time() + timeout
    while True:
        ok, detail = check()
        if ok or time.time() > deadline:
            return ok, detail
        time.sleep(0.5)


def check_processing(up, stored: list[bytes]):
    valid = {valid_key(r): r for r in stored if valid_key(r) is not None}
    malformed = {r for r in stored if valid_key(r) is None}
    assert len(malformed) > 0 and len(valid) > len(malformed) * 10
    ddb, kinesis = up.client("dynamodb"), up.client("kinesis")

    def table_ok():
        keys = [(i["user_id"]["S"], i["tweet_id"]["S"]) for i in scan_all(ddb, "tweet_attributes")]
        return sorted(keys) == sorted(valid), f"{len(keys)} items, {len(valid)} valid tweets"
    ok, detail = wait_for(table_ok)
    assert ok, detail

    def dlq_ok():
        records, reasons = dead_letters(kinesis)
        return records == malformed and all(reasons), (
            f"{len(records)} dead letters, {len(malformed)} malformed, "
            f"{sum(1 for r in reasons if not r)} without a reason")
    ok, detail = wait_for(dlq_ok)
    assert ok, detail

    # The trends mapping counts each record's lang once, in its window (all 4 shards' counts
    # added up in one item per value and window), across kill -9: the lang counts sum to the
    # records whose lang the function can count.
    def countable(r: bytes) -> bool:
        try:
            d = json.loads(r)
        except (ValueError, UnicodeDecodeError):
            return False
        return isinstance(d, dict) and isinstance(d.get("lang"), (str, int, float, bool))
    langs = sum(1 for r in stored if countable(r))

    def trends_ok():
        items = scan_all(ddb, "tweet_trends")
        n = sum(int(i["count"]["N"]) for i in items if i["key"]["S"].startswith("lang#"))
        return n == langs, f"lang counts sum to {n}, {langs} records have a lang"
    ok, detail = wait_for(trends_ok)
    assert ok, detail


def wait_delivered(s3, expected: collections.Counter, timeout: float = 30):
    deadline = time.time() + timeout
    while True:
        got, keys = delivered_records(s3, "tweets-archive")
        if collections.Counter(got) == expected or time.time() > deadline:
            return got, keys
        time.sleep(0.5)


def metric_max(cloudwatch, namespace: str, name: str, dimensions: dict, since: float) -> float:
    """The Maximum of a metric since `since` (epoch seconds), through CloudWatch's
    GetMetricStatistics on the same server, in 1-minute periods."""
    r = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=since - 120, EndTime=time.time() + 60, Period=60, Statistics=["Maximum"])
    points = r["Datapoints"]
    assert points, f"no datapoints of {namespace} {name} {dimensions}"
    return max(p["Maximum"] for p in points)


def check_bounds(up, since: float):
    """Issue 15's bounds, as CloudWatch reports them: the extract mapping's IteratorAge under
    5 s, and DataFreshness at most the buffering interval (1 s here) + 2 s."""
    cw = up.client("cloudwatch")
    age = metric_max(cw, "AWS/Lambda", "IteratorAge", {"FunctionName": "tweets-extract"}, since)
    assert age < 5000, f"IteratorAge reached {age} ms"
    fresh = metric_max(cw, "AWS/Firehose", "DeliveryToS3.DataFreshness",
                       {"DeliveryStreamName": "tweets-archive"}, since)
    assert fresh <= 1 + 2, f"DataFreshness reached {fresh} s"


def test_tweets_pipeline_survives_kill9_with_every_record_delivered_once(tmp_path):
    file = pipeline_copy(tmp_path)
    data = tmp_path / "data"

    # 1. Up with the producer; kill -9 while it is producing (and delivery is running).
    started = time.time()
    up = Up(file, data)
    assert re.search(r"Plan: 8 to add, 0 to change \(0 unchanged\)\.", up.output), up.output
    kinesis = up.client("kinesis")
    deadline = time.time() + 20
    while len(stream_records(kinesis, "tweets")) < COUNT // 3 and time.time() < deadline:
        time.sleep(0.1)
    up.kill9()

    # 2. Restart with the same file, without the producer: nothing to change, nothing lost.
    up = Up(file, data, "--no-producers")
    assert "No changes: 8 resources already as the file says." in up.output, up.output
    kinesis, s3 = up.client("kinesis"), up.client("s3")
    stored = stream_records(kinesis, "tweets")
    # The kill lands while the producer runs, or (on a slow build such as ASan's, where the
    # polling above is slower than the producer) just after it finished: all COUNT stored.
    assert COUNT // 3 <= len(stored) <= COUNT
    assert len(set(stored)) == len(stored), "a tweet was written to the stream twice"
    not_json = sum(1 for r in stored if not r.startswith(b"{") or not r.endswith(b"}"))
    assert not_json > 0, "the 1% malformed records are missing"
    expected = collections.Counter(stored)
    got, keys = wait_delivered(s3, expected)
    assert collections.Counter(got) == expected, (
        f"delivered {len(got)} records ({len(set(got))} distinct), stream holds {len(stored)}")
    assert all(k.startswith("tweets/") and k.endswith(".gz") for k in keys), keys
    check_processing(up, stored)
    time.sleep(1.5)  # the metric sampler's next second
    check_bounds(up, started)

    # 3. kill -9 again once everything is delivered; a restart delivers nothing twice.
    up.kill9()
    up = Up(file, data, "--no-producers")
    s3 = up.client("s3")
    time.sleep(2.5)  # two buffering intervals
    got_after, keys_after = delivered_records(s3, "tweets-archive")
    assert collections.Counter(got_after) == expected
    assert sorted(keys_after) == sorted(keys)
    check_processing(up, stored)
    up.stop()
