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
from cloudwatch_harness import UTC, Traffic, client, http, wait_for

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
    yield from harness.running_server(["--durability", "os"])


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
    harness.create_active_stream(k, "src", 2)
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


FUNCTIONS = """
functions:
  - name: extract
    kind: extract
    sink: {table: events, key: {hash: id}}
    fields:
      - {name: id, path: id, required: true}
  - name: always-fails
    kind: exec
    runtime: python
    handler: handler.fail
    dir: fn
    timeout: 5
"""

HANDLER = "def fail(event, context):\n    raise RuntimeError('this function always fails')\n"


@pytest.fixture(scope="module")
def fn_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("functions")
    (d / "fn").mkdir()
    (d / "fn" / "handler.py").write_text(HANDLER)
    (d / "functions.yaml").write_text(FUNCTIONS)
    subprocess.run(["bash", str(DASH / "setup.sh")], check=True, timeout=600, capture_output=True)
    s = harness.FreshetServer(args=["--durability", "os", "--functions", str(d / "functions.yaml")])
    s.start()
    yield s
    s.stop()
    s.cleanup()


def lambda_sum(cw, name: str, dim: str, value: str, start: dt.datetime) -> float:
    got = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=name,
                                   Dimensions=[{"Name": dim, "Value": value}],
                                   StartTime=start, EndTime=dt.datetime.now(UTC) + dt.timedelta(seconds=60),
                                   Period=60, Statistics=["Sum"])["Datapoints"]
    return sum(p["Sum"] for p in got)


def test_functions_and_mappings_agree_with_the_lambda_and_cloudwatch_apis(fn_server):
    server = fn_server
    k, lam, cw = (client(server, n) for n in ("kinesis", "lambda", "cloudwatch"))
    t0 = dt.datetime.now(UTC) - dt.timedelta(seconds=120)
    # Before any mapping: the functions, and a clear empty state for mappings.
    r = page(server, "functions", min_points=0)
    assert r["errors"] == [], r["errors"]
    assert "No event source mappings yet" in r["textSample"]
    assert sorted(x["function"] for x in r["rows"] if x.get("function")) == ["always-fails", "extract"]

    for name, n in (("events", 2), ("events-b", 1), ("events-dlq", 1)):
        harness.create_active_stream(k, name, n)
    records = [{"Data": (json.dumps({"id": f"e{i}"}) if i % 50 != 7 else "{broken").encode(),
                "PartitionKey": f"p{i}"} for i in range(300)]
    assert k.put_records(StreamName="events", Records=records)["FailedRecordCount"] == 0
    assert k.put_records(StreamName="events-b", Records=[
        {"Data": b'{"id": "b%d"}' % i, "PartitionKey": "b"} for i in range(5)])["FailedRecordCount"] == 0
    dlq = {"OnFailure": {"Destination": harness.stream_arn("events-dlq")}}
    good = lam.create_event_source_mapping(
        FunctionName="extract", EventSourceArn=harness.stream_arn("events"),
        StartingPosition="TRIM_HORIZON", BatchSize=100, DestinationConfig=dlq)["UUID"]
    bad = lam.create_event_source_mapping(
        FunctionName="always-fails", EventSourceArn=harness.stream_arn("events-b"),
        StartingPosition="TRIM_HORIZON", BatchSize=10, MaximumRetryAttempts=0,
        DestinationConfig=dlq)["UUID"]

    def settled():
        st = json.loads(http(server, "GET", "/dashboard/api/state")[2])
        ms = {m["uuid"]: m for m in st["mappings"]}
        return (ms.get(good, {}).get("records") == 300 and ms[good]["dlq"] == 6 and
                ms.get(bad, {}).get("dlq") == 5 and
                all(m["state"] == "Enabled" for m in ms.values()) and st)
    st = wait_for(settled, 60, "both mappings to process every record")
    # Every second of the processing sampled into the store before the page reads it.
    dlq_metric = "OnFailureDestinationDeliveredEventCount"
    wait_for(lambda: (lambda_sum(cw, "PolledEventCount", "EventSourceMappingUUID", good, t0),
                      lambda_sum(cw, dlq_metric, "EventSourceMappingUUID", good, t0),
                      lambda_sum(cw, dlq_metric, "EventSourceMappingUUID", bad, t0)) == (300, 6, 5),
             15, "CloudWatch to have the mappings' counts")
    r = page(server, "functions", min_points=1, period=1)
    assert r["errors"] == [], r["errors"]

    # What the page shows against the Lambda API.
    api_fns = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    shown_fns = {x["function"]: x["cells"] for x in r["rows"] if x.get("function")}
    assert sorted(shown_fns) == sorted(api_fns)
    for f in st["functions"]:
        assert f["arn"] == api_fns[f["name"]]["FunctionArn"]
        assert f["runtime"] == api_fns[f["name"]]["Runtime"]
    api_maps = {m["UUID"]: m for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    shown = {x["uuid"]: x["cells"] for x in r["rows"] if x.get("uuid")}
    assert sorted(shown) == sorted(api_maps) == sorted([good, bad])
    for m in st["mappings"]:
        a = api_maps[m["uuid"]]
        assert shown[m["uuid"]]["state"] == a["State"] == m["state"]
        assert m["source_arn"] == a["EventSourceArn"] and a["FunctionArn"].endswith(":" + m["function"])
        assert m["batch_size"] == a["BatchSize"]
        assert shown[m["uuid"]]["last_result"] == a["LastProcessingResult"]
    # Records processed, errors and DLQ'd: the page, the state and CloudWatch agree.
    assert shown[good]["records"] == "300" and shown[good]["dlq"] == "6" and shown[good]["errors"] == "0"
    assert shown[bad]["records"] == "5" and shown[bad]["dlq"] == "5" and shown[bad]["errors"] == "5"
    for uuid in (good, bad):
        for cell, metric in (("records", "PolledEventCount"), ("errors", "FailedInvokeEventCount"),
                             ("dlq", "OnFailureDestinationDeliveredEventCount")):
            assert lambda_sum(cw, metric, "EventSourceMappingUUID", uuid, t0) == float(shown[uuid][cell]), (uuid, cell)
    assert shown_fns["always-fails"]["errors"] == str(int(lambda_sum(cw, "Errors", "FunctionName", "always-fails", t0)))
    assert int(shown_fns["always-fails"]["errors"]) >= 1
    assert shown_fns["extract"]["invocations"] == str(int(lambda_sum(cw, "Invocations", "FunctionName", "extract", t0)))

    # The four charts of the selected (first) mapping: the same numbers per second as the API.
    assert [c["name"] for c in r["charts"]] == ["PolledEventCount", "Errors",
                                                "OnFailureDestinationDeliveredEventCount", "IteratorAge"]
    polled = r["charts"][0]
    assert polled["period"] == 1
    assert polled["dims"] == "EventSourceMappingUUID:" + good
    assert sum(v for _, v in polled["points"]) == 300
    got = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="PolledEventCount",
        Dimensions=[{"Name": "EventSourceMappingUUID", "Value": good}],
        StartTime=dt.datetime.fromtimestamp(polled["points"][0][0], UTC),
        EndTime=dt.datetime.fromtimestamp(polled["points"][-1][0] + 1, UTC), Period=1,
        Statistics=["Sum"])["Datapoints"]
    assert {int(p["Timestamp"].timestamp()): p["Sum"] for p in got if p["Sum"]} == {t: v for t, v in polled["points"] if v}
    dlqd = r["charts"][2]
    assert sum(v for _, v in dlqd["points"]) == 6
