"""DynamoDB through boto3's resource API (boto3.dynamodb.conditions), the AWS CLI v2 and the
AWS SDK for JavaScript v3 DynamoDBDocumentClient."""

from __future__ import annotations

import decimal

import pytest

import harness
import dynamodb_harness as dh


@pytest.fixture(scope="module")
def server():
    s = harness.FreshetServer(args=["--durability", "os"])
    s.start()
    yield s
    rc = s.stop()
    s.cleanup()
    assert rc == 0


def test_boto3_resource_and_conditions(server):
    from boto3.dynamodb.conditions import Attr, Key

    res = dh.resource(server.endpoint)
    t = res.create_table(TableName="events",
                         KeySchema=[{"AttributeName": "user", "KeyType": "HASH"},
                                    {"AttributeName": "ts", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "user", "AttributeType": "S"},
                                               {"AttributeName": "ts", "AttributeType": "N"}],
                         BillingMode="PAY_PER_REQUEST")
    t.wait_until_exists()
    with t.batch_writer() as bw:
        for i in range(60):
            bw.put_item(Item={"user": "u1" if i % 3 else "u2", "ts": i,
                              "kind": "click" if i % 2 else "view",
                              "tags": {"a", "b"}, "score": decimal.Decimal("1.25") * i,
                              "meta": {"path": f"/p/{i}", "ok": True}})
    r = t.query(KeyConditionExpression=Key("user").eq("u1") & Key("ts").between(10, 20),
                FilterExpression=Attr("kind").eq("click") & Attr("meta.ok").eq(True))
    assert [int(i["ts"]) for i in r["Items"]] == [11, 13, 17, 19]
    assert r["Items"][0]["score"] == decimal.Decimal("13.75")
    assert r["Items"][0]["tags"] == {"a", "b"}
    r = t.scan(FilterExpression=Attr("ts").is_in([0, 3, 6]) | Attr("meta.path").begins_with("/p/5"))
    assert sorted(int(i["ts"]) for i in r["Items"]) == [0, 3, 5, 6, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59]
    r = t.query(KeyConditionExpression=Key("user").eq("u2") & Key("ts").lt(10), ScanIndexForward=False)
    assert [int(i["ts"]) for i in r["Items"]] == [9, 6, 3, 0]
    t.update_item(Key={"user": "u1", "ts": 1}, UpdateExpression="SET hits = if_not_exists(hits, :z) + :one",
                  ExpressionAttributeValues={":z": 0, ":one": 1})
    assert t.get_item(Key={"user": "u1", "ts": 1})["Item"]["hits"] == 1
    with pytest.raises(t.meta.client.exceptions.ConditionalCheckFailedException):
        t.put_item(Item={"user": "u1", "ts": 1}, ConditionExpression=Attr("user").not_exists())
    assert t.item_count == 60


def test_aws_cli_v2(server):
    ep = server.endpoint
    r = dh.cli(ep, "create-table", "--table-name", "cli", "--billing-mode", "PAY_PER_REQUEST",
               "--attribute-definitions", "AttributeName=id,AttributeType=S",
               "--key-schema", "AttributeName=id,KeyType=HASH")
    assert r.rc == 0, r
    assert dh.cli(ep, "wait", "table-exists", "--table-name", "cli").rc == 0
    r = dh.cli(ep, "put-item", "--table-name", "cli", "--item",
               '{"id": {"S": "a"}, "n": {"N": "1"}, "b": {"B": "AAE="}}')
    assert r.rc == 0, r
    r = dh.cli(ep, "update-item", "--table-name", "cli", "--key", '{"id": {"S": "a"}}',
               "--update-expression", "SET n = n + :d", "--expression-attribute-values",
               '{":d": {"N": "41"}}', "--return-values", "ALL_NEW")
    assert r.rc == 0, r
    assert r.json["Attributes"]["n"] == {"N": "42"}
    assert r.json["Attributes"]["b"] == {"B": "AAE="}
    r = dh.cli(ep, "query", "--table-name", "cli", "--key-condition-expression", "id = :a",
               "--expression-attribute-values", '{":a": {"S": "a"}}')
    assert r.rc == 0 and r.json["Count"] == 1, r
    r = dh.cli(ep, "scan", "--table-name", "cli")
    assert r.rc == 0 and r.json["Items"][0]["id"] == {"S": "a"}, r
    r = dh.cli(ep, "get-item", "--table-name", "cli", "--key", '{"id": {"S": "zz"}}')
    assert r.rc == 0 and r.json is None or "Item" not in (r.json or {}), r
    r = dh.cli(ep, "describe-table", "--table-name", "missing")
    assert r.rc != 0 and "ResourceNotFoundException" in r.stderr, r


def test_js_sdk_document_client(server):
    ep = server.endpoint
    calls = [
        {"client": "CreateTable", "input": {
            "TableName": "jsdoc", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "N"}]}},
        {"op": "Put", "input": {"TableName": "jsdoc", "Item": {
            "pk": "a", "sk": 1, "list": [1, "two", {"three": 3}], "set": {"$set": ["x", "y"]},
            "flag": False, "nothing": None}}},
        {"op": "Put", "input": {"TableName": "jsdoc", "Item": {"pk": "a", "sk": 2},
                                "ConditionExpression": "attribute_not_exists(pk)"}},
        {"op": "Put", "input": {"TableName": "jsdoc", "Item": {"pk": "a", "sk": 2},
                                "ConditionExpression": "attribute_not_exists(pk)"}},
        {"op": "Update", "input": {"TableName": "jsdoc", "Key": {"pk": "a", "sk": 1},
                                   "UpdateExpression": "SET #l = list_append(#l, :more) ADD c :one",
                                   "ExpressionAttributeNames": {"#l": "list"},
                                   "ExpressionAttributeValues": {":more": [4], ":one": 1},
                                   "ReturnValues": "ALL_NEW"}},
        {"op": "Query", "input": {"TableName": "jsdoc", "KeyConditionExpression": "pk = :p",
                                  "ExpressionAttributeValues": {":p": "a"}}},
        {"op": "TransactWrite", "input": {"TransactItems": [
            {"ConditionCheck": {"TableName": "jsdoc", "Key": {"pk": "a", "sk": 2},
                                "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": "jsdoc", "Item": {"pk": "b", "sk": 1}}}]}},
        {"op": "BatchGet", "input": {"RequestItems": {"jsdoc": {"Keys": [{"pk": "a", "sk": 1},
                                                                       {"pk": "b", "sk": 1}]}}}},
        {"op": "Delete", "input": {"TableName": "jsdoc", "Key": {"pk": "a", "sk": 2},
                                   "ReturnValues": "ALL_OLD"}},
    ]
    out = dh.js(ep, calls)
    assert "ok" in out[0], out[0]
    assert "ok" in out[1] and "ok" in out[2], out[:3]
    assert out[3]["error"]["name"] == "ConditionalCheckFailedException", out[3]
    attrs = out[4]["ok"]["Attributes"]
    assert attrs["list"] == [1, "two", {"three": 3}, 4] and attrs["c"] == 1
    assert attrs["set"] == {"$set": ["x", "y"]} and attrs["flag"] is False and attrs["nothing"] is None
    assert out[5]["ok"]["Count"] == 2
    assert out[6]["error"]["name"] == "TransactionCanceledException", out[6]
    assert [r["Code"] for r in out[6]["error"]["CancellationReasons"]] == ["ConditionalCheckFailed", "None"]
    assert len(out[7]["ok"]["Responses"]["jsdoc"]) == 1
    assert out[8]["ok"]["Attributes"] == {"pk": "a", "sk": 2}
