"""CloudWatch dashboards (PutDashboard, GetDashboard, ListDashboards, DeleteDashboards) through
Debian's boto3 and the AWS CLI v2 (AWS Query), JSON 1.0 and RPC v2 CBOR over raw HTTP: the
answers and the errors CloudWatch gives (InvalidParameterInput with its validation messages,
ResourceNotFound), and dashboards surviving kill -9."""

from __future__ import annotations

import datetime as dt
import json

import botocore.exceptions
import cbor2
import pytest

import harness
from cloudwatch_harness import cli, client, http

BODY = {
    "start": "-PT6H",
    "widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
         "properties": {"metrics": [["AWS/Kinesis", "IncomingRecords", "StreamName", "tweets"]],
                        "period": 60, "stat": "Sum", "region": "us-east-1", "title": "In"}},
        {"type": "text", "x": 0, "y": 7, "width": 3, "height": 3,
         "properties": {"markdown": "Made by a script"}},
    ],
}


@pytest.fixture(scope="module")
def server():
    yield from harness.running_server()


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response


def test_boto3_put_get_list_delete(server):
    cw = client(server, "cloudwatch")
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    r = cw.put_dashboard(DashboardName="pipeline-1", DashboardBody=json.dumps(BODY))
    assert r["DashboardValidationMessages"] == []
    got = cw.get_dashboard(DashboardName="pipeline-1")
    assert json.loads(got["DashboardBody"]) == BODY
    assert got["DashboardName"] == "pipeline-1"
    assert got["DashboardArn"].startswith("arn:aws:cloudwatch::")
    assert got["DashboardArn"].endswith(":dashboard/pipeline-1")
    cw.put_dashboard(DashboardName="pipeline-2", DashboardBody='{"widgets":[]}')
    cw.put_dashboard(DashboardName="other", DashboardBody='{"widgets":[]}')
    # A put replaces the whole body.
    cw.put_dashboard(DashboardName="other", DashboardBody=json.dumps(BODY))
    assert json.loads(cw.get_dashboard(DashboardName="other")["DashboardBody"]) == BODY

    entries = cw.list_dashboards(DashboardNamePrefix="pipeline")["DashboardEntries"]
    assert [e["DashboardName"] for e in entries] == ["pipeline-1", "pipeline-2"]
    assert entries[0]["Size"] == len(json.dumps(BODY))
    assert entries[1]["Size"] == len('{"widgets":[]}')
    assert entries[0]["LastModified"] >= before
    assert entries[0]["DashboardArn"] == got["DashboardArn"]
    pages = list(cw.get_paginator("list_dashboards").paginate())
    assert [e["DashboardName"] for p in pages for e in p["DashboardEntries"]] == [
        "other", "pipeline-1", "pipeline-2"]

    assert cw.delete_dashboards(DashboardNames=["pipeline-2", "other"])["ResponseMetadata"][
        "HTTPStatusCode"] == 200
    err = error_of(lambda: cw.get_dashboard(DashboardName="pipeline-2"))
    assert err["Error"]["Code"] == "ResourceNotFound"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404
    # A missing name is an error, but the names that exist are deleted all the same.
    cw.put_dashboard(DashboardName="doomed", DashboardBody='{"widgets":[]}')
    err = error_of(lambda: cw.delete_dashboards(DashboardNames=["doomed", "never-was"]))
    assert err["Error"]["Code"] == "ResourceNotFound"
    assert "never-was" in err["Error"]["Message"]
    names = [e["DashboardName"] for e in cw.list_dashboards()["DashboardEntries"]]
    assert names == ["pipeline-1"]


def test_boto3_invalid_input(server):
    cw = client(server, "cloudwatch")
    bad = {"widgets": [{"type": "metric", "width": 30, "properties": {}},
                       {"type": "chart", "properties": {}}]}
    err = error_of(lambda: cw.put_dashboard(DashboardName="bad", DashboardBody=json.dumps(bad)))
    assert err["Error"]["Code"] == "InvalidParameterInput"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "there are 2 validation errors" in err["Error"]["Message"]
    assert "/widgets/0/width" in err["Error"]["Message"]
    assert "/widgets/1/type" in err["Error"]["Message"]
    for body in ["{nope", "[]", '{"widgets": {}}', "{}"]:
        err = error_of(lambda: cw.put_dashboard(DashboardName="bad", DashboardBody=body))
        assert err["Error"]["Code"] == "InvalidParameterInput", body
    err = error_of(lambda: cw.put_dashboard(DashboardName="no spaces", DashboardBody="{}"))
    assert err["Error"]["Code"] == "InvalidParameterInput"
    err = error_of(lambda: cw.list_dashboards(DashboardNamePrefix="a/b"))
    assert err["Error"]["Code"] == "InvalidParameterValue"
    err = error_of(lambda: cw.get_dashboard(DashboardName="bad"))  # nothing was stored
    assert err["Error"]["Code"] == "ResourceNotFound"


def test_json_and_cbor_errors_carry_validation_messages(server):
    bad = json.dumps({"widgets": [{"properties": {}}]})
    st, hd, data = http(server, "POST", "/", json.dumps(
        {"DashboardName": "raw", "DashboardBody": bad}).encode(), {
        "X-Amz-Target": "GraniteServiceVersion20100801.PutDashboard",
        "Content-Type": "application/x-amz-json-1.0", "Authorization": harness.FAKE_AUTH,
        "X-Amz-Date": "20250101T000000Z"})
    assert st == 400, data
    assert hd["x-amzn-query-error"] == "InvalidParameterInput;Sender"
    out = json.loads(data)
    assert out["__type"].endswith("DashboardInvalidInputError")
    assert out["dashboardValidationMessages"] == [
        {"DataPath": "/widgets/0", "Message": "Should have required property 'type'"}]

    path = "/service/GraniteServiceVersion20100801/operation/"
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
               "Accept": "application/cbor", "Authorization": harness.FAKE_AUTH}
    st, hd, data = http(server, "POST", path + "PutDashboard",
                        cbor2.dumps({"DashboardName": "raw", "DashboardBody": bad}), headers)
    assert st == 400
    assert hd["x-amzn-query-error"] == "InvalidParameterInput;Sender"
    assert cbor2.loads(data)["dashboardValidationMessages"][0]["DataPath"] == "/widgets/0"
    st, hd, data = http(server, "POST", path + "PutDashboard",
                        cbor2.dumps({"DashboardName": "raw", "DashboardBody": json.dumps(BODY)}),
                        headers)
    assert st == 200, data
    st, hd, data = http(server, "POST", path + "ListDashboards", cbor2.dumps({}), headers)
    assert st == 200
    entry = [e for e in cbor2.loads(data)["DashboardEntries"] if e["DashboardName"] == "raw"][0]
    assert isinstance(entry["LastModified"], dt.datetime)
    st, hd, data = http(server, "POST", path + "GetDashboard",
                        cbor2.dumps({"DashboardName": "gone"}), headers)
    assert st == 404
    assert hd["x-amzn-query-error"] == "ResourceNotFound;Sender"
    assert cbor2.loads(data)["__type"].endswith("DashboardNotFoundError")


def test_cli_v2_and_kill9(server):
    r = cli(server, "cloudwatch", "put-dashboard", "--dashboard-name", "cli-1",
            "--dashboard-body", json.dumps(BODY))
    assert json.loads(r.stdout)["DashboardValidationMessages"] == []
    got = json.loads(cli(server, "cloudwatch", "get-dashboard", "--dashboard-name", "cli-1").stdout)
    assert json.loads(got["DashboardBody"]) == BODY
    listed = json.loads(cli(server, "cloudwatch", "list-dashboards",
                            "--dashboard-name-prefix", "cli-").stdout)
    assert [e["DashboardName"] for e in listed["DashboardEntries"]] == ["cli-1"]
    bad = cli(server, "cloudwatch", "put-dashboard", "--dashboard-name", "cli-2",
              "--dashboard-body", '{"widgets":[{"type":"text","properties":{}}]}', check=False)
    assert bad.rc != 0
    assert "InvalidParameterInput" in bad.stderr
    assert "markdown" in bad.stderr

    # Acknowledged puts and deletes survive kill -9.
    cli(server, "cloudwatch", "put-dashboard", "--dashboard-name", "cli-2",
        "--dashboard-body", '{"widgets":[]}')
    cli(server, "cloudwatch", "delete-dashboards", "--dashboard-names", "cli-2")
    server.kill9()
    server.start()
    got = json.loads(cli(server, "cloudwatch", "get-dashboard", "--dashboard-name", "cli-1").stdout)
    assert json.loads(got["DashboardBody"]) == BODY
    gone = cli(server, "cloudwatch", "get-dashboard", "--dashboard-name", "cli-2", check=False)
    assert gone.rc != 0 and "ResourceNotFound" in gone.stderr
