"""The CloudWatch API against metrics from real traffic, through Debian's boto3 and the AWS CLI
v2 (both AWS Query), JSON 1.0 and Smithy RPC v2 CBOR over raw HTTP; the numbers must equal
what /metrics shows. Also alarms under a load that crosses a threshold, and a restart."""

from __future__ import annotations

import datetime as dt
import json
import time

import botocore.exceptions
import cbor2
import pytest

import harness
from cloudwatch_harness import (UTC, Traffic, cli, client, http, iso, prometheus,
                                prometheus_value, wait_for)


@pytest.fixture(scope="module")
def server():
    yield from harness.running_server(["--durability", "os"])


@pytest.fixture(scope="module")
def traffic_stream(server):
    """A stream that received a known number of records; their metrics are recorded."""
    k = client(server, "kinesis")
    harness.create_active_stream(k, "cw", 2)
    with Traffic(k, "cw", batch=40, pause=0.02) as t:
        time.sleep(3)
    assert not t.errors, t.errors
    # The sampler records each second once it has ended.
    wait_for(lambda: prometheus_value(prometheus(server), "freshet_kinesis_IncomingRecords_total",
                                      'stream="cw"') == t.sent, 5, "the counter")
    time.sleep(2.2)
    return t.sent


def window():
    now = dt.datetime.now(UTC)
    return now - dt.timedelta(minutes=10), now + dt.timedelta(minutes=1)


def test_boto3_and_cli_statistics_equal_prometheus(server, traffic_stream):
    prom = prometheus(server)
    assert prometheus_value(prom, "freshet_kinesis_IncomingRecords_total", 'stream="cw"') == traffic_stream
    prom_bytes = prometheus_value(prom, "freshet_kinesis_IncomingBytes_bytes_total", 'stream="cw"')
    cw = client(server, "cloudwatch")
    start, end = window()
    dims = [{"Name": "StreamName", "Value": "cw"}]
    r = cw.get_metric_statistics(Namespace="AWS/Kinesis", MetricName="IncomingRecords",
                                 Dimensions=dims, StartTime=start, EndTime=end, Period=60,
                                 Statistics=["Sum", "SampleCount", "Maximum", "Minimum", "Average"])
    assert r["Label"] == "IncomingRecords"
    assert sum(p["Sum"] for p in r["Datapoints"]) == traffic_stream
    assert all(p["Unit"] == "Count" for p in r["Datapoints"])
    b = cw.get_metric_statistics(Namespace="AWS/Kinesis", MetricName="IncomingBytes",
                                 Dimensions=dims, StartTime=start, EndTime=end, Period=300,
                                 Statistics=["Sum"])
    assert sum(p["Sum"] for p in b["Datapoints"]) == prom_bytes
    assert b["Datapoints"][0]["Unit"] == "Bytes"
    # The AWS CLI v2, one-second periods.
    out = cli(server, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Kinesis",
              "--metric-name", "IncomingRecords", "--dimensions", "Name=StreamName,Value=cw",
              "--start-time", iso(dt.datetime.now(UTC) - dt.timedelta(minutes=5)),
              "--end-time", iso(end), "--period", "1", "--statistics", "Sum").json
    assert sum(p["Sum"] for p in out["Datapoints"]) == traffic_stream
    assert len(out["Datapoints"]) >= 3  # three seconds of traffic, one datapoint each
    # GetMetricData through the CLI, with math.
    q = [{"Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords",
                                               "Dimensions": dims}, "Period": 60, "Stat": "Sum"}},
         {"Id": "twice", "Expression": "m * 2"}, {"Id": "total", "Expression": "SUM(m)"}]
    out = cli(server, "cloudwatch", "get-metric-data", "--metric-data-queries", json.dumps(q),
              "--start-time", iso(start), "--end-time", iso(end)).json
    res = {x["Id"]: x for x in out["MetricDataResults"]}
    assert sum(res["m"]["Values"]) == traffic_stream
    assert sum(res["twice"]["Values"]) == 2 * traffic_stream
    assert res["total"]["Values"][0] == traffic_stream
    assert res["m"]["StatusCode"] == "Complete"
    # Newest first by default (TimestampDescending).
    ts = res["m"]["Timestamps"]
    assert ts == sorted(ts, reverse=True)
    # Latency: a histogram in the registry, Average = Sum / SampleCount.
    lat = cw.get_metric_statistics(Namespace="AWS/Kinesis", MetricName="PutRecords.Latency",
                                   Dimensions=dims, StartTime=start, EndTime=end, Period=600,
                                   Statistics=["SampleCount", "Average"])["Datapoints"]
    calls = prometheus_value(prom, "freshet_kinesis_PutRecords_Latency_seconds_count", 'stream="cw"')
    assert sum(p["SampleCount"] for p in lat) == calls
    assert lat[0]["Unit"] == "Milliseconds"


def test_list_metrics(server, traffic_stream):
    cw = client(server, "cloudwatch")
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/Kinesis")["Metrics"]}
    assert {"IncomingRecords", "IncomingBytes", "PutRecords.Latency",
            "PutRecords.SuccessfulRecords"} <= names
    r = cw.list_metrics(Namespace="AWS/Kinesis", MetricName="IncomingRecords",
                        Dimensions=[{"Name": "StreamName", "Value": "cw"}], RecentlyActive="PT3H")
    assert r["Metrics"] == [{"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords",
                             "Dimensions": [{"Name": "StreamName", "Value": "cw"}]}]
    out = cli(server, "cloudwatch", "list-metrics", "--namespace", "AWS/Kinesis",
              "--dimensions", "Name=StreamName").json
    assert len(out["Metrics"]) >= 4


def test_put_metric_data_all_forms(server):
    cw = client(server, "cloudwatch")
    now = dt.datetime.now(UTC).replace(microsecond=0)
    cw.put_metric_data(Namespace="App", MetricData=[
        {"MetricName": "Lat", "Dimensions": [{"Name": "Host", "Value": "a"}], "Timestamp": now,
         "Values": [1.0, 2.0, 3.0, 100.0], "Counts": [10.0, 10.0, 10.0, 1.0], "Unit": "Milliseconds"},
        {"MetricName": "Lat", "Dimensions": [{"Name": "Host", "Value": "a"}], "Timestamp": now,
         "StatisticValues": {"SampleCount": 2, "Sum": 4, "Minimum": 1, "Maximum": 3}, "Unit": "Milliseconds"},
        {"MetricName": "Hits", "Value": 7, "StorageResolution": 1},
    ])
    cli(server, "cloudwatch", "put-metric-data", "--namespace", "App", "--metric-data",
        json.dumps([{"MetricName": "Hits", "Value": 5}]))
    start, end = window()
    r = cw.get_metric_statistics(Namespace="App", MetricName="Lat",
                                 Dimensions=[{"Name": "Host", "Value": "a"}], StartTime=start,
                                 EndTime=end, Period=600, Statistics=["SampleCount", "Sum", "Minimum", "Maximum"])
    [p] = r["Datapoints"]
    assert (p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) == (33, 164, 1, 100)
    e = cw.get_metric_statistics(Namespace="App", MetricName="Lat",
                                 Dimensions=[{"Name": "Host", "Value": "a"}], StartTime=start,
                                 EndTime=end, Period=600, ExtendedStatistics=["p50", "p99"])
    ext = e["Datapoints"][0]["ExtendedStatistics"]
    # 33 samples: 10 x 1, 12 x 2 (two from StatisticValues' average), 10 x 3, 1 x 100.
    assert abs(ext["p50"] - 2) < 0.05 and abs(ext["p99"] - 100) < 1.5
    h = cw.get_metric_statistics(Namespace="App", MetricName="Hits", StartTime=start, EndTime=end,
                                 Period=600, Statistics=["Sum"])
    assert h["Datapoints"][0]["Sum"] == 12
    # CloudWatch's errors, as the clients see them.
    with pytest.raises(cw.exceptions.ClientError) as ei:
        cw.put_metric_data(Namespace="AWS/Mine", MetricData=[{"MetricName": "x", "Value": 1}])
    assert ei.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(cw.exceptions.ClientError) as ei:
        cw.put_metric_data(Namespace="App", MetricData=[{"MetricName": "x", "Value": 1,
                           "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}])
    assert ei.value.response["Error"]["Code"] == "InvalidParameterCombination"
    bad = cli(server, "cloudwatch", "get-metric-statistics", "--namespace", "App", "--metric-name",
              "Hits", "--start-time", iso(end), "--end-time", iso(start), "--period", "60",
              "--statistics", "Sum", check=False)
    assert bad.rc != 0 and "InvalidParameterValue" in bad.stderr


def test_json_and_cbor_protocols(server, traffic_stream):
    start, end = window()
    query = {"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords",
             "Dimensions": [{"Name": "StreamName", "Value": "cw"}], "Period": 60,
             "Statistics": ["Sum"]}
    # JSON 1.0: X-Amz-Target, epoch seconds.
    body = dict(query, StartTime=start.timestamp(), EndTime=end.timestamp())
    st, hd, data = http(server, "POST", "/", json.dumps(body).encode(), {
        "X-Amz-Target": "GraniteServiceVersion20100801.GetMetricStatistics",
        "Content-Type": "application/x-amz-json-1.0", "Authorization": harness.FAKE_AUTH,
        "X-Amz-Date": "20250101T000000Z"})
    assert st == 200, data
    assert sum(p["Sum"] for p in json.loads(data)["Datapoints"]) == traffic_stream
    # RPC v2 CBOR: timestamps as tag 1.
    body = dict(query, StartTime=cbor2.CBORTag(1, start.timestamp()), EndTime=cbor2.CBORTag(1, end.timestamp()))
    path = "/service/GraniteServiceVersion20100801/operation/GetMetricStatistics"
    cbor_headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                    "Accept": "application/cbor", "Authorization": harness.FAKE_AUTH}
    st, hd, data = http(server, "POST", path, cbor2.dumps(body), cbor_headers)
    assert st == 200, data
    assert hd["smithy-protocol"] == "rpc-v2-cbor"
    out = cbor2.loads(data)
    assert sum(p["Sum"] for p in out["Datapoints"]) == traffic_stream
    assert isinstance(out["Datapoints"][0]["Timestamp"], dt.datetime)
    st, hd, data = http(server, "POST", path.replace("GetMetricStatistics", "PutMetricData"),
                        cbor2.dumps({"Namespace": "AWS/X", "MetricData": [{"MetricName": "a", "Value": 1.0}]}),
                        cbor_headers)
    assert st == 400
    assert hd["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    assert cbor2.loads(data)["__type"].endswith("#InvalidParameterValueException")


def json10_client(server, tmp_path):
    """boto3 speaking CloudWatch's JSON 1.0 protocol: the installed model with its protocol list
    cut to ["json"], loaded from a data path that takes precedence over botocore's own."""
    import boto3
    import botocore.config
    import botocore.loaders
    import botocore.session

    model = botocore.loaders.create_loader().load_service_model("cloudwatch", "service-2")
    model["metadata"].update(protocol="json", protocols=["json"], jsonVersion="1.0",
                             targetPrefix="GraniteServiceVersion20100801")
    d = tmp_path / "models" / "cloudwatch" / model["metadata"]["apiVersion"]
    d.mkdir(parents=True)
    (d / "service-2.json").write_text(json.dumps(model))
    bs = botocore.session.Session()
    bs.set_config_variable("config_file", "/dev/null")
    bs.set_config_variable("credentials_file", "/dev/null")
    bs.set_config_variable("data_path", str(tmp_path / "models"))
    session = boto3.session.Session(botocore_session=bs, aws_access_key_id="test",
                                    aws_secret_access_key="test", region_name=harness.REGION)
    cfg = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})
    return session.client("cloudwatch", endpoint_url=server.endpoint, config=cfg)


def test_query_error_header_over_json10(server, tmp_path):
    import botocore.exceptions

    raw = {"Content-Type": "application/x-amz-json-1.0", "Authorization": harness.FAKE_AUTH,
           "X-Amz-Date": "20250101T000000Z"}

    def call(op: str, body: dict):
        return http(server, "POST", "/", json.dumps(body).encode(),
                    dict(raw, **{"X-Amz-Target": "GraniteServiceVersion20100801." + op}))

    # Each error as AWS sends it over JSON 1.0: __type the shape's name, and
    # x-amzn-query-error the model's awsQueryError code with the fault's side.
    cases = [
        ("PutMetricData", {"Namespace": "AWS/X", "MetricData": [{"MetricName": "a", "Value": 1.0}]},
         400, "InvalidParameterValueException", "InvalidParameterValue;Sender"),
        ("GetMetricStatistics", {"MetricName": "a"},
         400, "MissingRequiredParameterException", "MissingParameter;Sender"),
        ("DeleteAlarms", {"AlarmNames": ["no-such-alarm"]},
         404, "ResourceNotFound", "ResourceNotFound;Sender"),
        ("ListMetrics", {"NextToken": "not-a-token"},
         400, "InvalidNextToken", "InvalidNextToken;Sender"),
    ]
    for op, body, status, shape, header in cases:
        st, hd, data = call(op, body)
        assert (st, json.loads(data)["__type"].rsplit("#", 1)[-1], hd.get("x-amzn-query-error")) == \
            (status, shape, header), (op, st, hd, data)
        assert hd["x-amzn-errortype"].rsplit("#", 1)[-1] == shape
    # A success has no such header.
    st, hd, _ = call("ListMetrics", {})
    assert st == 200 and "x-amzn-query-error" not in hd

    # boto3 over JSON 1.0 reads the header: the error code is the AWS Query one (the same the
    # AWS CLI gets over Query), and the modeled exception classes match.
    cw = json10_client(server, tmp_path)
    assert cw.meta.service_model.protocol == "json"
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as e:
        cw.put_metric_data(Namespace="AWS/X", MetricData=[{"MetricName": "a", "Value": 1.0}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    # Newer botocore also keeps the JSON code and the fault's side.
    assert e.value.response["Error"].get("QueryErrorCode", "InvalidParameterValueException") == \
        "InvalidParameterValueException"
    assert e.value.response["Error"].get("Type", "Sender") == "Sender"
    with pytest.raises(cw.exceptions.ResourceNotFound) as e:
        cw.delete_alarms(AlarmNames=["no-such-alarm"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.list_metrics(NextToken="not-a-token")
    assert e.value.response["Error"]["Code"] == "InvalidNextToken"
    q = cli(server, "cloudwatch", "put-metric-data", "--namespace", "AWS/X", "--metric-name", "a",
            "--value", "1", check=False)
    assert q.rc != 0 and "(InvalidParameterValue)" in q.stderr, q


def test_alarm_transitions_under_load(server):
    k = client(server, "kinesis")
    harness.create_active_stream(k, "hot", 1)
    cw = client(server, "cloudwatch")
    cw.put_metric_alarm(AlarmName="hot-writes", Namespace="AWS/Kinesis", MetricName="IncomingRecords",
                        Dimensions=[{"Name": "StreamName", "Value": "hot"}], Statistic="Sum",
                        Period=10, EvaluationPeriods=1, Threshold=200,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                        AlarmActions=["arn:aws:sns:us-east-1:000000000000:page"])

    def state():
        return cw.describe_alarms(AlarmNames=["hot-writes"])["MetricAlarms"][0]["StateValue"]

    # A new alarm starts in INSUFFICIENT_DATA; the evaluator may already have
    # moved it to OK (missing data is not breaching) before this first read.
    assert state() in ("INSUFFICIENT_DATA", "OK")
    wait_for(lambda: state() == "OK", 15, "OK with no traffic (missing data is not breaching)")
    with Traffic(k, "hot", batch=50, pause=0.01):
        wait_for(lambda: state() == "ALARM", 25, "ALARM under load")
    wait_for(lambda: state() == "OK", 30, "OK after the load")
    hist = cw.describe_alarm_history(AlarmName="hot-writes", HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    summaries = [h["HistorySummary"] for h in hist]
    assert summaries[:3] == ["Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM",
                             "Alarm updated from INSUFFICIENT_DATA to OK"]
    a = cw.describe_alarms(AlarmNames=["hot-writes"])["MetricAlarms"][0]
    assert a["StateReason"].startswith("Threshold Crossed")
    assert a["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:000000000000:alarm:hot-writes"
    for_metric = cw.describe_alarms_for_metric(Namespace="AWS/Kinesis", MetricName="IncomingRecords",
                                               Dimensions=[{"Name": "StreamName", "Value": "hot"}])
    assert [x["AlarmName"] for x in for_metric["MetricAlarms"]] == ["hot-writes"]
    cw.disable_alarm_actions(AlarmNames=["hot-writes"])
    assert not cw.describe_alarms(AlarmNames=["hot-writes"])["MetricAlarms"][0]["ActionsEnabled"]
    cli(server, "cloudwatch", "enable-alarm-actions", "--alarm-names", "hot-writes")
    assert cw.describe_alarms(AlarmNames=["hot-writes"])["MetricAlarms"][0]["ActionsEnabled"]
    # SetAlarmState holds until the next evaluation changes the state: on an alarm whose
    # metric has no data and TreatMissingData ignore, none does, however slow the calls.
    cw.put_metric_alarm(AlarmName="held", Namespace="Quiet", MetricName="Nothing", Statistic="Sum",
                        Period=10, EvaluationPeriods=1, Threshold=1, TreatMissingData="ignore",
                        ComparisonOperator="GreaterThanThreshold")
    cli(server, "cloudwatch", "set-alarm-state", "--alarm-name", "held", "--state-value", "ALARM",
        "--state-reason", "testing")
    out = cli(server, "cloudwatch", "describe-alarms", "--state-value", "ALARM",
              "--alarm-name-prefix", "held").json
    assert [(x["AlarmName"], x["StateReason"]) for x in out["MetricAlarms"]] == [("held", "testing")]
    cw.delete_alarms(AlarmNames=["held"])
    missing = cli(server, "cloudwatch", "delete-alarms", "--alarm-names", "nope", check=False)
    assert missing.rc != 0 and "ResourceNotFound" in missing.stderr


def test_metric_math_and_composite_alarms(server):
    """An alarm on metric math (boto3) and a composite alarm over it (AWS CLI v2), evaluated
    for real: custom metrics cross the expression's threshold, both go to ALARM."""
    cw = client(server, "cloudwatch")

    def stat(mid: str, name: str) -> dict:
        return {"Id": mid, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "Shop", "MetricName": name,
                       "Dimensions": [{"Name": "Service", "Value": "cart"}]},
            "Period": 10, "Stat": "Sum"}}
    cw.put_metric_alarm(
        AlarmName="cart-error-rate", EvaluationPeriods=1, Threshold=10,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
        Metrics=[stat("errors", "Errors"), stat("requests", "Requests"),
                 {"Id": "rate", "Expression": "100 * errors / requests", "Label": "Error rate"}])
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException):
        cw.put_metric_alarm(AlarmName="bad", EvaluationPeriods=1, Threshold=1, Namespace="Shop",
                            ComparisonOperator="GreaterThanThreshold",
                            Metrics=[{"Id": "e", "Expression": "1", "Period": 10}])
    bad = cli(server, "cloudwatch", "put-composite-alarm", "--alarm-name", "x",
              "--alarm-rule", "ALARM(no-such-alarm)", check=False)
    assert bad.rc != 0 and "InvalidParameterValue" in bad.stderr, bad
    cli(server, "cloudwatch", "put-composite-alarm", "--alarm-name", "cart-page",
        "--alarm-rule", 'ALARM("cart-error-rate") AND NOT INSUFFICIENT_DATA(cart-error-rate)')
    [m] = cw.describe_alarms(AlarmNames=["cart-error-rate"])["MetricAlarms"]
    assert [q["Id"] for q in m["Metrics"]] == ["errors", "requests", "rate"]
    assert m["Metrics"][0]["MetricStat"]["Period"] == 10 and "MetricName" not in m

    def states():
        out = cli(server, "cloudwatch", "describe-alarms", "--alarm-types", "MetricAlarm",
                  "CompositeAlarm", "--alarm-name-prefix", "cart-").json
        return {a["AlarmName"]: a["StateValue"] for a in out["MetricAlarms"] + out["CompositeAlarms"]}
    wait_for(lambda: states() == {"cart-error-rate": "OK", "cart-page": "OK"}, 20,
             "both alarms OK without data")
    dims = [{"Name": "Service", "Value": "cart"}]

    def put(requests: int, errors: int):
        now = dt.datetime.now(UTC)
        cw.put_metric_data(Namespace="Shop", MetricData=[
            {"MetricName": "Requests", "Dimensions": dims, "Value": requests, "Timestamp": now},
            {"MetricName": "Errors", "Dimensions": dims, "Value": errors, "Timestamp": now}])
    put(200, 30)  # 15% > 10%
    wait_for(lambda: states() == {"cart-error-rate": "ALARM", "cart-page": "ALARM"}, 25,
             "the math alarm and the composite in ALARM")
    [c] = cw.describe_alarms(AlarmNames=["cart-page"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert c["AlarmRule"] == 'ALARM("cart-error-rate") AND NOT INSUFFICIENT_DATA(cart-error-rate)'
    assert "cart-error-rate (ALARM)" in c["StateReason"]
    [m] = cw.describe_alarms(AlarmNames=["cart-error-rate"])["MetricAlarms"]
    assert m["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [15 (")
    # Past the period with no data: missing is not breaching, both back to OK.
    wait_for(lambda: states() == {"cart-error-rate": "OK", "cart-page": "OK"}, 25, "OK again")
    cw.delete_alarms(AlarmNames=["cart-page", "cart-error-rate"])
    assert states() == {}


def test_restart_keeps_history(server, traffic_stream):
    cw = client(server, "cloudwatch")
    start, end = window()
    kw = dict(Namespace="AWS/Kinesis", MetricName="IncomingRecords",
              Dimensions=[{"Name": "StreamName", "Value": "cw"}], StartTime=start, EndTime=end,
              Period=1, Statistics=["Sum"])
    before = sorted((p["Timestamp"], p["Sum"]) for p in cw.get_metric_statistics(**kw)["Datapoints"])
    alarms = cw.describe_alarms()["MetricAlarms"]
    assert server.stop() == 0
    server.start()
    cw = client(server, "cloudwatch")
    after = sorted((p["Timestamp"], p["Sum"]) for p in cw.get_metric_statistics(**kw)["Datapoints"])
    assert after == before
    assert sum(v for _, v in after) == traffic_stream
    assert [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]] == [a["AlarmName"] for a in alarms]


def test_put_metric_data_survives_kill9(server):
    cw = client(server, "cloudwatch")
    now = dt.datetime.now(UTC)
    cw.put_metric_data(Namespace="Durable", MetricData=[
        {"MetricName": "Orders", "Value": 3, "Timestamp": now},
        {"MetricName": "Orders", "Values": [1.0, 2.0], "Counts": [2.0, 1.0], "Timestamp": now}])
    server.kill9()  # before the minute is written to a batch
    server.start()
    cw = client(server, "cloudwatch")
    start, end = window()
    [p] = cw.get_metric_statistics(Namespace="Durable", MetricName="Orders", StartTime=start,
                                   EndTime=end, Period=600,
                                   Statistics=["Sum", "SampleCount"])["Datapoints"]
    assert (p["Sum"], p["SampleCount"]) == (7, 4)


def test_composite_actions_suppressor(server):
    cw = client(server, "cloudwatch")
    for name in ("sup-child", "sup-maintenance"):
        cw.put_metric_alarm(AlarmName=name, Namespace="App", MetricName=name, Statistic="Sum",
                            Period=10, EvaluationPeriods=1, Threshold=1,
                            ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")
    cw.put_composite_alarm(AlarmName="sup-page", AlarmRule="ALARM(sup-child)",
                           ActionsSuppressor="sup-maintenance", ActionsSuppressorWaitPeriod=120,
                           ActionsSuppressorExtensionPeriod=60,
                           AlarmActions=["arn:aws:sns:us-east-1:000000000000:page"])

    def composite():
        r = cw.describe_alarms(AlarmNames=["sup-page"], AlarmTypes=["CompositeAlarm"])
        return r["CompositeAlarms"][0]

    c = composite()
    assert (c["ActionsSuppressor"], c["ActionsSuppressorWaitPeriod"],
            c["ActionsSuppressorExtensionPeriod"]) == ("sup-maintenance", 120, 60)
    assert "ActionsSuppressedBy" not in c
    # The child in ALARM: the composite follows within a second and waits for the suppressor.
    cw.set_alarm_state(AlarmName="sup-child", StateValue="ALARM", StateReason="test")
    c = wait_for(lambda: (lambda a: a if a["StateValue"] == "ALARM" else None)(composite()), 5,
                 "the composite in ALARM")
    assert c["ActionsSuppressedBy"] == "WaitPeriod"
    cw.set_alarm_state(AlarmName="sup-maintenance", StateValue="ALARM", StateReason="test")
    wait_for(lambda: composite().get("ActionsSuppressedBy") == "Alarm", 5, "suppressed by Alarm")
    cw.set_alarm_state(AlarmName="sup-maintenance", StateValue="OK", StateReason="test")
    wait_for(lambda: composite().get("ActionsSuppressedBy") == "ExtensionPeriod", 5,
             "the extension period")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_composite_alarm(AlarmName="sup-bad", AlarmRule="ALARM(sup-child)",
                               ActionsSuppressor="no-such-alarm", ActionsSuppressorWaitPeriod=1,
                               ActionsSuppressorExtensionPeriod=1)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    cw.delete_alarms(AlarmNames=["sup-page", "sup-child", "sup-maintenance"])
