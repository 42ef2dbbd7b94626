"""The Lambda API subset driven by AWS CLI v2 and boto3, against the real binary started with
--functions: functions, Invoke (with LogType Tail), event source mappings end to end, every
error the subset answers, and kill -9 in the middle of processing."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

FUNCTIONS = """
functions:
  - name: extract
    kind: extract
    sink: {table: tweets, key: {hash: id}}
    fields:
      - {name: id, path: id_str, required: true}
      - {name: lang, path: lang, default: und}
      - {name: n, path: n, type: N}
  - name: lang-count
    kind: window_count
    sink: {table: lang-counts, key: {hash: key, range: window_start, range_type: N}}
    counts: [{name: lang, path: lang}]
  - name: py
    kind: exec
    runtime: python
    handler: handler.handler
    dir: fn
    timeout: 5
  - name: py-fail
    kind: exec
    runtime: python
    handler: handler.fail
    dir: fn
"""

HANDLER = textwrap.dedent('''
    import base64
    def handler(event, context):
        if "Records" not in event:
            print("plain event", event)
            return {"echo": event}
        items, failures = [], []
        for r in event["Records"]:
            data = base64.b64decode(r["kinesis"]["data"]).decode()
            if data.startswith("bad"):
                failures.append({"itemIdentifier": r["kinesis"]["sequenceNumber"]})
            else:
                items.append({"id": data, "len": len(data)})
        print("batch of", len(event["Records"]))
        return {"batchItemFailures": failures, "items": items}
    def fail(event, context):
        raise RuntimeError("this function always fails")
''')


def lambda_client(endpoint: str, validate: bool = True):
    import boto3
    import botocore.config
    import botocore.session
    bs = botocore.session.Session()
    bs.set_config_variable("config_file", "/dev/null")
    bs.set_config_variable("credentials_file", "/dev/null")
    s = boto3.session.Session(botocore_session=bs, aws_access_key_id="test",
                              aws_secret_access_key="test", region_name=harness.REGION)
    cfg = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                 connect_timeout=5, read_timeout=30,
                                 parameter_validation=validate)
    return (s.client("lambda", endpoint_url=endpoint, config=cfg),
            s.client("kinesis", endpoint_url=endpoint, config=cfg),
            s.client("dynamodb", endpoint_url=endpoint, config=cfg))


def cli(endpoint: str, *args: str, cwd: Path | None = None) -> harness.CliResult:
    cmd = [harness.AWS_CLI, "--endpoint-url", endpoint, "--region", harness.REGION, "--output",
           "json", "--no-cli-pager", "lambda", *args]
    proc = subprocess.run(cmd, env=harness.client_env(), capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, cwd=cwd)
    return harness.CliResult(proc)


def wait_until(pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def kinesis_event(records: list[bytes]) -> dict:
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "pk",
                    "sequenceNumber": str(100 + i), "data": base64.b64encode(d).decode(),
                    "approximateArrivalTimestamp": 1700000000.5},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{100 + i}", "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-1",
        "eventSourceARN": harness.stream_arn("s")} for i, d in enumerate(records)]}


def scan_count(ddb, table: str) -> int:
    try:
        n, kw = 0, {}
        while True:
            page = ddb.scan(TableName=table, Select="COUNT", **kw)
            n += page["Count"]
            if "LastEvaluatedKey" not in page:
                return n
            kw = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    except Exception:  # table not created yet
        return -1


def read_stream(kin, name: str) -> list[bytes]:
    out = []
    for s in kin.list_shards(StreamName=name)["Shards"]:
        it = kin.get_shard_iterator(StreamName=name, ShardId=s["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out += [r["Data"] for r in kin.get_records(ShardIterator=it, Limit=10000)["Records"]]
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("lambda")
    (d / "fn").mkdir()
    (d / "fn" / "handler.py").write_text(HANDLER)
    (d / "functions.yaml").write_text(FUNCTIONS)
    s = harness.FreshetServer(args=["--durability", "os", "--functions",
                                    str(d / "functions.yaml")])
    s.start()
    s.dir = d
    yield s
    rc = s.stop()
    s.cleanup()
    assert rc == 0


def test_list_and_get_functions(server):
    lam, _, _ = lambda_client(server.endpoint)
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["extract", "lang-count", "py", "py-fail"]
    page = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in page["Functions"]] == ["extract", "lang-count"]
    rest = lam.list_functions(Marker=page["NextMarker"])
    assert [f["FunctionName"] for f in rest["Functions"]] == ["py", "py-fail"]
    g = lam.get_function(FunctionName="py")
    assert g["Configuration"]["Runtime"] == "python3.11"
    assert g["Configuration"]["Handler"] == "handler.handler"
    assert g["Configuration"]["Timeout"] == 5
    assert g["Configuration"]["FunctionArn"] == \
        f"arn:aws:lambda:us-east-1:{harness.ACCOUNT}:function:py"
    c = lam.get_function_configuration(
        FunctionName=f"arn:aws:lambda:us-east-1:{harness.ACCOUNT}:function:extract")
    assert c["MemorySize"] == 128 and c["State"] == "Active"
    cli_out = cli(server.endpoint, "get-function-configuration", "--function-name", "extract")
    assert cli_out.rc == 0, cli_out
    assert cli_out.json["FunctionName"] == "extract"


def test_function_errors(server):
    lam, _, _ = lambda_client(server.endpoint, validate=False)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_function(FunctionName="nope")
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope" in str(e.value)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="nope", Payload=b"{}")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="extract", Qualifier="7")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="extract", Payload=b"{not json")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.list_functions(MaxItems=0)
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName="extract", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    r = cli(server.endpoint, "get-function", "--function-name", "missing")
    assert r.rc != 0 and "ResourceNotFoundException" in r.stderr


def test_cli_invoke_with_log_tail(server, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps(kinesis_event([b'{"id_str":"1","n":5}', b'{"lang":"en"}'])))
    out = tmp_path / "out.json"
    r = cli(server.endpoint, "invoke", "--function-name", "extract", "--cli-binary-format",
            "raw-in-base64-out", "--payload", f"file://{event}", "--log-type", "Tail", str(out))
    assert r.rc == 0, r
    meta = r.json
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in meta
    log = base64.b64decode(meta["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith(" Version: $LATEST")
    assert any(l.startswith("END RequestId: ") for l in lines)
    report = [l for l in lines if l.startswith("REPORT RequestId: ")][0]
    for part in ("Duration: ", "Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: "):
        assert part in report, report
    body = json.loads(out.read_text())
    assert body["batchItemFailures"] == [{"itemIdentifier": "101",
                                          "reason": "missing required field 'id' (id_str)"}]
    assert body["outputs"] == [{"id": "1", "lang": "und", "n": 5}]
    # fileb:// sends the file as it is.
    r2 = cli(server.endpoint, "invoke", "--function-name", "extract", "--payload",
             f"fileb://{event}", str(out))
    assert r2.rc == 0, r2


def test_exec_invoke_logs_and_function_error(server):
    lam, _, _ = lambda_client(server.endpoint)
    r = lam.invoke(FunctionName="py", Payload=json.dumps({"hello": 1}), LogType="Tail")
    assert r["StatusCode"] == 200
    assert json.loads(r["Payload"].read()) == {"echo": {"hello": 1}}
    log = base64.b64decode(r["LogResult"]).decode()
    assert "plain event {'hello': 1}" in log
    f = lam.invoke(FunctionName="py-fail", Payload=b"{}", LogType="Tail")
    assert f["FunctionError"] == "Unhandled"
    err = json.loads(f["Payload"].read())
    assert err["errorType"] == "RuntimeError"
    assert err["errorMessage"] == "this function always fails"
    assert "Traceback" in base64.b64decode(f["LogResult"]).decode()
    ev = lam.invoke(FunctionName="py", InvocationType="Event", Payload=b"{}")
    assert ev["StatusCode"] == 202
    dry = lam.invoke(FunctionName="py", InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204


def test_mapping_poison_records_to_failure_stream(server):
    lam, kin, ddb = lambda_client(server.endpoint)
    kin.create_stream(StreamName="tweets-in", ShardCount=2)
    kin.create_stream(StreamName="tweets-dlq", ShardCount=1)
    records = []
    for i in range(300):
        if i % 50 == 25:
            records.append({"Data": b"{broken", "PartitionKey": f"p{i}"})
        else:
            records.append({"Data": json.dumps({"id_str": f"t{i}", "n": i}).encode(),
                            "PartitionKey": f"p{i}"})
    assert kin.put_records(StreamName="tweets-in", Records=records)["FailedRecordCount"] == 0
    m = lam.create_event_source_mapping(
        FunctionName="extract", EventSourceArn=harness.stream_arn("tweets-in"),
        StartingPosition="TRIM_HORIZON", BatchSize=100, MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": harness.stream_arn("tweets-dlq")}})
    assert m["State"] == "Creating"
    assert m["FunctionArn"].endswith(":function:extract")
    assert m["DestinationConfig"]["OnFailure"]["Destination"] == harness.stream_arn("tweets-dlq")
    uuid = m["UUID"]
    assert wait_until(lambda: scan_count(ddb, "tweets") == 294), scan_count(ddb, "tweets")
    failures = wait_until(lambda: len(read_stream(kin, "tweets-dlq")) == 6 and
                          read_stream(kin, "tweets-dlq"))
    assert failures
    doc = json.loads(failures[0])
    assert doc["requestContext"]["condition"] == "RecordRejected"
    assert "not valid JSON" in doc["errorMessage"]
    assert base64.b64decode(doc["records"][0]["data"]) == b"{broken"
    assert doc["KinesisBatchInfo"]["streamArn"] == harness.stream_arn("tweets-in")
    got = wait_until(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")
    assert got
    listed = lam.list_event_source_mappings(FunctionName="extract")["EventSourceMappings"]
    assert [x["UUID"] for x in listed] == [uuid]
    assert lam.list_event_source_mappings(
        EventSourceArn=harness.stream_arn("tweets-dlq"))["EventSourceMappings"] == []
    u = lam.update_event_source_mapping(UUID=uuid, BatchSize=7, Enabled=False)
    assert u["BatchSize"] == 7 and u["State"] == "Disabling"
    assert wait_until(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled")
    r = cli(server.endpoint, "list-event-source-mappings", "--function-name", "extract")
    assert r.rc == 0 and r.json["EventSourceMappings"][0]["BatchSize"] == 7, r
    d = lam.delete_event_source_mapping(UUID=uuid)
    assert d["State"] == "Deleting"
    assert wait_until(lambda: lam.list_event_source_mappings()["EventSourceMappings"] == [])


def test_mapping_errors(server):
    lam, kin, _ = lambda_client(server.endpoint, validate=False)
    kin.create_stream(StreamName="err-in", ShardCount=1)
    arn = harness.stream_arn("err-in")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_event_source_mapping(UUID="nope")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_event_source_mapping(FunctionName="nope", EventSourceArn=arn,
                                        StartingPosition="LATEST")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(FunctionName="extract", EventSourceArn=arn,
                                        StartingPosition="LATEST", BatchSize=0)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(FunctionName="extract", EventSourceArn=arn,
                                        StartingPosition="SOMETIME")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(FunctionName="extract", EventSourceArn=arn)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(FunctionName="extract",
                                        EventSourceArn=harness.stream_arn("missing"),
                                        StartingPosition="LATEST")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(FunctionName="extract", EventSourceArn=arn,
                                        StartingPosition="LATEST",
                                        FilterCriteria={"Filters": [{"Pattern": "{bad"}]})
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(FunctionName="extract", EventSourceArn=arn,
                                        StartingPosition="LATEST", MaximumRecordAgeInSeconds=10)
    m = lam.create_event_source_mapping(FunctionName="extract", EventSourceArn=arn,
                                        StartingPosition="LATEST")
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_event_source_mapping(FunctionName="extract", EventSourceArn=arn,
                                        StartingPosition="LATEST")
    with pytest.raises(lam.exceptions.ResourceInUseException):
        # Still Creating (or being updated): Lambda refuses another change.
        for _ in range(50):
            lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=11)
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_python_exec_mapping_end_to_end(server):
    lam, kin, ddb = lambda_client(server.endpoint)
    # The py function declares no sink: its items are not written; this mapping checks that
    # batchItemFailures with ReportBatchItemFailures reach the failure stream after retries.
    kin.create_stream(StreamName="py-in", ShardCount=1)
    kin.create_stream(StreamName="py-dlq", ShardCount=1)
    kin.put_records(StreamName="py-in", Records=[
        {"Data": d, "PartitionKey": "k"} for d in [b"a1", b"a2", b"bad3", b"a4"]])
    lam.create_event_source_mapping(
        FunctionName="py", EventSourceArn=harness.stream_arn("py-in"),
        StartingPosition="TRIM_HORIZON", FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": harness.stream_arn("py-dlq")}})
    failures = wait_until(lambda: read_stream(kin, "py-dlq"))
    assert failures, "no failure record"
    doc = json.loads(failures[0])
    assert doc["requestContext"]["condition"] == "RetryAttemptsExhausted"
    datas = [base64.b64decode(r["data"]) for r in doc["records"]]
    assert datas[0] == b"bad3"


def test_iterator_age_in_cloudwatch_backlog_then_steady_load(server):
    """IteratorAge (AWS/Lambda, per mapping and function): a backlog 3 s old shows as >= 3 s;
    then under steady load (500 records/s) every second's datapoint stays under 2 s."""
    import datetime as dt
    from cloudwatch_harness import client as cw_client
    lam, kin, _ = lambda_client(server.endpoint)
    cw = cw_client(server, "cloudwatch")
    kin.create_stream(StreamName="age-in", ShardCount=2)
    harness.wait_active(kin, "age-in")

    def put(n: int, tag: str):
        r = kin.put_records(StreamName="age-in", Records=[
            {"Data": json.dumps({"lang": "en", "i": f"{tag}{i}"}).encode(),
             "PartitionKey": f"{tag}{i}"} for i in range(n)])
        assert r["FailedRecordCount"] == 0

    put(200, "old")
    time.sleep(3)
    # lang-count without a tumbling window writes nothing: only the reading is measured.
    uuid = lam.create_event_source_mapping(
        FunctionName="lang-count", EventSourceArn=harness.stream_arn("age-in"),
        StartingPosition="TRIM_HORIZON", BatchSize=100)["UUID"]
    time.sleep(1.5)
    steady_from = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    end = time.monotonic() + 4
    n = 0
    while time.monotonic() < end:
        put(50, f"s{n}-")
        n += 1
        time.sleep(0.1)
    steady_to = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    time.sleep(2.2)  # the sampler records each second once it has ended

    def stats(dim: str, value: str):
        now = dt.datetime.now(dt.timezone.utc)
        r = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="IteratorAge",
            Dimensions=[{"Name": dim, "Value": value}],
            StartTime=now - dt.timedelta(minutes=2), EndTime=now + dt.timedelta(minutes=1),
            Period=1, Statistics=["Maximum", "SampleCount"])
        assert all(p["Unit"] == "Milliseconds" for p in r["Datapoints"])
        return sorted(r["Datapoints"], key=lambda p: p["Timestamp"])

    points = stats("EventSourceMappingUUID", uuid)
    assert max(p["Maximum"] for p in points) >= 3000, points
    steady = [p for p in points if steady_from <= p["Timestamp"] <= steady_to]
    assert len(steady) >= 2, (steady_from, steady_to, points)
    assert all(p["Maximum"] < 2000 for p in steady), steady
    assert any(p["Maximum"] > 0 for p in steady), steady
    by_function = stats("FunctionName", "lang-count")
    assert max(p["Maximum"] for p in by_function) >= 3000, by_function
    lam.delete_event_source_mapping(UUID=uuid)


def test_kill9_during_processing_loses_and_duplicates_nothing(tmp_path):
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "handler.py").write_text(HANDLER)
    (tmp_path / "functions.yaml").write_text(FUNCTIONS)
    s = harness.FreshetServer(args=["--functions", str(tmp_path / "functions.yaml")])
    s.start()
    try:
        lam, kin, ddb = lambda_client(s.endpoint)
        kin.create_stream(StreamName="k9", ShardCount=2)
        total = 20000
        langs = ["en", "fr", "de", "es"]
        for start in range(0, total, 500):
            recs = [{"Data": json.dumps({"id_str": f"r{i}", "lang": langs[i % 4], "n": i}).encode(),
                     "PartitionKey": f"p{i}"} for i in range(start, start + 500)]
            assert kin.put_records(StreamName="k9", Records=recs)["FailedRecordCount"] == 0
        lam.create_event_source_mapping(FunctionName="extract",
                                        EventSourceArn=harness.stream_arn("k9"),
                                        StartingPosition="TRIM_HORIZON", BatchSize=20)
        lam.create_event_source_mapping(FunctionName="lang-count",
                                        EventSourceArn=harness.stream_arn("k9"),
                                        StartingPosition="TRIM_HORIZON", BatchSize=20,
                                        TumblingWindowInSeconds=900)
        assert wait_until(lambda: scan_count(ddb, "tweets") > 200, timeout=30)
        before = scan_count(ddb, "tweets")
        s.kill9()  # in the middle of processing
        print("items before kill -9:", before)
        assert before < total, f"processing was done before the kill ({before})"
        s.start()
        lam, kin, ddb = lambda_client(s.endpoint)
        assert wait_until(lambda: scan_count(ddb, "tweets") == total, timeout=60), \
            scan_count(ddb, "tweets")
        item = ddb.get_item(TableName="tweets", Key={"id": {"S": "r12345"}})["Item"]
        assert item["n"] == {"N": "12345"} and item["lang"] == {"S": "fr"}
        # Exactly once for the window counts too: what the open windows carry in their
        # checkpointed state plus what closed windows wrote must be every record, once.
        def counted():
            n = 0
            for it in ddb.scan(TableName="freshet-process-checkpoints")["Items"]:
                n += sum(json.loads(it.get("window_state", {}).get("S", "{}")).values())
            if scan_count(ddb, "lang-counts") > 0:
                for it in ddb.scan(TableName="lang-counts")["Items"]:
                    n += int(it["count"]["N"])
            return n
        assert wait_until(lambda: counted() == total, timeout=30), counted()
    finally:
        s.stop()
        s.cleanup()
