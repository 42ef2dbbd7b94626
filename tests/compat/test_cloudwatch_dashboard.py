"""The dashboard in Debian's headless Chromium (playwright-core, tests/compat/dashboard) while
traffic runs: no JavaScript errors, every chart of the pipeline view has points, and their
values agree with the CloudWatch API. Screenshots go to $FRESHET_SCREENSHOT_DIR."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import harness
from cloudwatch_harness import UTC, Traffic, client, http

HERE = Path(__file__).resolve().parent
DASH = HERE / "dashboard"
SHOTS = Path(os.environ.get("FRESHET_SCREENSHOT_DIR", tempfile.gettempdir() + "/freshet-dashboard"))


def page(server, tab: str, min_points: int = 2, period: int = 1) -> dict:
    SHOTS.mkdir(parents=True, exist_ok=True)
    out = subprocess.run([harness.NODE, str(DASH / "check.mjs"), server.endpoint, tab,
                          str(SHOTS / f"dashboard-{tab}.png"), str(min_points),
                          str(period) if tab != "overview" else ""],
                         capture_output=True, text=True, timeout=90, cwd=DASH,
                         env={"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir()})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def server():
    subprocess.run(["bash", str(DASH / "setup.sh")], check=True, timeout=600, capture_output=True)
    s = harness.FreshetServer(args=["--durability", "os"])
    s.start()
    yield s
    s.stop()
    s.cleanup()


def test_empty_state_and_s3_keeps_signed_get(server):
    r = page(server, "overview", min_points=0)
    assert r["errors"] == []
    assert "No Kinesis streams yet" in r["textSample"]
    assert "No functions or event source mappings yet" in r["textSample"]
    # GET / with an Authorization header is S3's ListBuckets, not the page.
    st, hd, body = http(server, "GET", "/", headers={"Authorization": harness.FAKE_AUTH.replace("kinesis", "s3")})
    assert b"ListAllMyBucketsResult" in body


def test_pipeline_charts_under_traffic_agree_with_the_api(server):
    k, fh, s3, ddb = (client(server, n) for n in ("kinesis", "firehose", "s3", "dynamodb"))
    k.create_stream(StreamName="src", ShardCount=2)
    harness.wait_active(k, "src")
    s3.create_bucket(Bucket="lake")
    ddb.create_table(TableName="users", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    fh.create_delivery_stream(
        DeliveryStreamName="to-lake", DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": harness.stream_arn("src"),
                                          "RoleARN": "arn:aws:iam::000000000000:role/r"},
        ExtendedS3DestinationConfiguration={"BucketARN": "arn:aws:s3:::lake",
                                            "RoleARN": "arn:aws:iam::000000000000:role/r",
                                            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}})
    for i in range(20):
        ddb.put_item(TableName="users", Item={"id": {"S": f"u{i}"}, "n": {"N": str(i)}})
    with Traffic(k, "src", batch=100, pause=0.02, size=400) as t:
        t_end = time.time() + 14
        while time.time() < t_end:
            ddb.get_item(TableName="users", Key={"id": {"S": "u1"}})
            time.sleep(0.1)
        r = page(server, "pipeline")
        overview = page(server, "overview", min_points=0)
        streams = page(server, "streams")
    assert not t.errors, t.errors
    for p in (r, overview, streams):
        assert p["errors"] == [], p["errors"]
    assert len(r["charts"]) == 7
    for c in r["charts"]:
        assert c["canvasPoints"] >= 2, c
    assert "to-lake" in overview["textSample"] and "users" in overview["textSample"]
    # Values agree with GetMetricStatistics for the same periods (complete ones only).
    cw = client(server, "cloudwatch")
    time.sleep(2.5)
    checked = 0
    for c in r["charts"]:
        if c["ns"] != "AWS/Firehose" or c["stat"] != "Sum":
            continue
        period = c["period"]
        # Periods that had ended (by 3 s, so every second of them was sampled) when fetched.
        pts = [p for p in c["points"] if p[0] + period <= c["end"] - 4][-3:]
        if not pts:
            continue
        dims = [dict(zip(("Name", "Value"), d.split(":", 1))) for d in c["dims"].split(",")]
        got = cw.get_metric_statistics(
            Namespace=c["ns"], MetricName=c["name"], Dimensions=dims,
            StartTime=dt.datetime.fromtimestamp(pts[0][0], UTC),
            EndTime=dt.datetime.fromtimestamp(pts[-1][0] + period, UTC), Period=period,
            Statistics=["Sum"])["Datapoints"]
        api = {int(p["Timestamp"].timestamp()): p["Sum"] for p in got}
        for ts, v in pts:
            assert api.get(ts) == v, (c["name"], ts, v, api)
            checked += 1
    assert checked >= 3
    assert r["firstContentfulPaintMs"] is not None
