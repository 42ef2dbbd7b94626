"""DynamoDB with boto3's client API: tables, items, expressions, errors, Query/Scan,
batches, transactions, indexes and TTL against the real freshet binary."""

from __future__ import annotations

import decimal
import itertools

import pytest

import harness
import dynamodb_harness as dh

_names = itertools.count()


@pytest.fixture(scope="module")
def server():
    s = harness.FreshetServer(args=["--durability", "os", "--table-ttl-interval-ms", "200"])
    s.start()
    yield s
    rc = s.stop()
    s.cleanup()
    assert rc == 0


@pytest.fixture(scope="module")
def ddb(server):
    return dh.client(server.endpoint)


@pytest.fixture
def table(ddb):
    name = f"tbl{next(_names)}"
    dh.create_table(ddb, name, range_key="sk", range_type="N")
    return name


def test_table_lifecycle(ddb):
    dh.create_table(ddb, "life", range_key="sk")
    d = ddb.describe_table(TableName="life")["Table"]
    assert d["TableStatus"] == "ACTIVE"
    assert d["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert d["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert d["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/life"
    assert "life" in ddb.list_tables()["TableNames"]
    code, msg, _ = dh.error_of(dh.create_table, ddb, "life")
    assert (code, msg) == ("ResourceInUseException", "Table already exists: life")
    assert ddb.delete_table(TableName="life")["TableDescription"]["TableStatus"] == "DELETING"
    code, msg, _ = dh.error_of(ddb.describe_table, TableName="life")
    assert (code, msg) == ("ResourceNotFoundException",
                           "Requested resource not found: Table: life not found")


def test_list_tables_pages(ddb):
    for i in range(5):
        dh.create_table(ddb, f"page{i}")
    seen, start = [], None
    while True:
        kw = {"Limit": 2}
        if start:
            kw["ExclusiveStartTableName"] = start
        r = ddb.list_tables(**kw)
        seen += r["TableNames"]
        start = r.get("LastEvaluatedTableName")
        if not start:
            break
    assert [n for n in seen if n.startswith("page")] == [f"page{i}" for i in range(5)]


def test_create_table_validation(ddb):
    code, msg, _ = dh.error_of(
        ddb.create_table, TableName="bad", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "b", "AttributeType": "S"}])
    assert code == "ValidationException"
    assert msg == ("One or more parameter values were invalid: Some index key attributes are not "
                   "defined in AttributeDefinitions. Keys: [a], AttributeDefinitions: [b]")


def test_every_attribute_type_round_trips(ddb, table):
    item = {
        "pk": {"S": "types"}, "sk": {"N": "1"},
        "s": {"S": "héllo"}, "n": {"N": "12345678901234567890123456789012345678"},
        "small": {"N": "-0.000000000000000000000000000000000001"},
        "b": {"B": b"\x00\x01\xff"}, "t": {"BOOL": True}, "z": {"NULL": True},
        "m": {"M": {"x": {"L": [{"S": "a"}, {"N": "1.5"}]}}},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"x", b"y"]},
        "empty": {"S": ""},
    }
    ddb.put_item(TableName=table, Item=item)
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "types"}, "sk": {"N": "1"}},
                       ConsistentRead=True)["Item"]
    assert got["n"] == item["n"] and got["small"] == item["small"]
    assert got["b"] == item["b"] and got["m"] == item["m"] and got["z"] == item["z"]
    assert sorted(got["ss"]["SS"]) == ["a", "b"] and sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert sorted(got["bs"]["BS"]) == [b"x", b"y"] and got["empty"] == {"S": ""}
    # Numbers come back canonical.
    ddb.put_item(TableName=table, Item={"pk": {"S": "n"}, "sk": {"N": "2"}, "v": {"N": "1.50E2"}})
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "n"}, "sk": {"N": "2"}})["Item"]["v"] == {"N": "150"}


def test_item_validation_messages(ddb, table):
    def err(**kw):
        return dh.error_of(ddb.put_item, TableName=table, **kw)[:2]

    assert err(Item={"pk": {"S": "a"}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Missing the key sk in the item")
    assert err(Item={"pk": {"N": "1"}, "sk": {"N": "1"}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")
    assert err(Item={"pk": {"S": ""}, "sk": {"N": "1"}}) == (
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: pk")
    assert err(Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"SS": ["a", "a"]}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Input collection [a, a] contains duplicates.")
    assert err(Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"N": "1e126"}}) == (
        "ValidationException",
        "Number overflow. Attempting to store a number with magnitude larger than supported range")
    assert err(Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "x" * 400 * 1024}}) == (
        "ValidationException", "Item size has exceeded the maximum allowed size")
    code, msg, _ = dh.error_of(ddb.get_item, TableName=table, Key={"pk": {"S": "a"}})
    assert (code, msg) == ("ValidationException", "The provided key element does not match the schema")
    code, msg, _ = dh.error_of(ddb.get_item, TableName="nope", Key={"pk": {"S": "a"}})
    assert (code, msg) == ("ResourceNotFoundException", "Requested resource not found")


def test_conditions_and_return_values(ddb, table):
    key = {"pk": {"S": "c"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=table, Item={**key, "v": {"N": "1"}},
                 ConditionExpression="attribute_not_exists(pk)")
    code, msg, resp = dh.error_of(
        ddb.put_item, TableName=table, Item={**key, "v": {"N": "2"}},
        ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert (code, msg) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert resp["Item"]["v"] == {"N": "1"}
    old = ddb.put_item(TableName=table, Item={**key, "v": {"N": "3"}}, ReturnValues="ALL_OLD",
                       ConditionExpression="v = :one AND begins_with(pk, :c)",
                       ExpressionAttributeValues={":one": {"N": "1"}, ":c": {"S": "c"}})
    assert old["Attributes"]["v"] == {"N": "1"}
    code, msg, _ = dh.error_of(
        ddb.put_item, TableName=table, Item=key, ConditionExpression="v = :one",
        ExpressionAttributeValues={":one": {"N": "1"}, ":unused": {"N": "2"}})
    assert (code, msg) == ("ValidationException",
                           "Value provided in ExpressionAttributeValues unused in expressions: "
                           "keys: {:unused}")
    code, msg, _ = dh.error_of(ddb.put_item, TableName=table, Item=key,
                               ConditionExpression="v = ")
    assert code == "ValidationException"
    assert msg == 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "= "'
    code, msg, _ = dh.error_of(ddb.put_item, TableName=table, Item=key,
                               ExpressionAttributeNames={"#a": "a"})
    assert msg == "ExpressionAttributeNames can only be specified when using expressions"
    d = ddb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD",
                        ConditionExpression="v IN (:a, :b)",
                        ExpressionAttributeValues={":a": {"N": "3"}, ":b": {"N": "4"}})
    assert d["Attributes"]["v"] == {"N": "3"}


def test_update_expressions(ddb, table):
    key = {"pk": {"S": "u"}, "sk": {"N": "1"}}
    r = ddb.update_item(
        TableName=table, Key=key, ReturnValues="ALL_NEW",
        UpdateExpression="SET #c = if_not_exists(#c, :zero) + :one, l = :l, m = :m ADD s :s",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"},
                                   ":l": {"L": [{"N": "1"}]}, ":m": {"M": {"a": {"S": "x"}}},
                                   ":s": {"SS": ["a", "b"]}})
    assert r["Attributes"]["count"] == {"N": "1"}
    r = ddb.update_item(
        TableName=table, Key=key, ReturnValues="UPDATED_NEW",
        UpdateExpression="SET l = list_append(l, :more), m.b = :n, #c = #c - :one "
                         "REMOVE m.a DELETE s :a",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":more": {"L": [{"N": "2"}]}, ":n": {"N": "0.1"},
                                   ":one": {"N": "1"}, ":a": {"SS": ["a"]}})
    assert r["Attributes"] == {"l": {"L": [{"N": "1"}, {"N": "2"}]}, "m": {"M": {"b": {"N": "0.1"}}},
                               "count": {"N": "0"}, "s": {"SS": ["b"]}}
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="SET l[0] = :x REMOVE l[1]",
                        ExpressionAttributeValues={":x": {"S": "first"}}, ReturnValues="ALL_NEW")
    assert r["Attributes"]["l"] == {"L": [{"S": "first"}]}
    code, msg, _ = dh.error_of(ddb.update_item, TableName=table, Key=key,
                               UpdateExpression="SET pk = :x",
                               ExpressionAttributeValues={":x": {"S": "y"}})
    assert msg == ("One or more parameter values were invalid: Cannot update attribute pk. "
                   "This attribute is part of the key")
    code, msg, _ = dh.error_of(ddb.update_item, TableName=table, Key=key,
                               UpdateExpression="SET a = missing + :one",
                               ExpressionAttributeValues={":one": {"N": "1"}})
    assert msg == "The provided expression refers to an attribute that does not exist in the item"
    # Exact decimal arithmetic.
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET d = :a",
                    ExpressionAttributeValues={":a": {"N": "0.1"}})
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="ADD d :b",
                        ExpressionAttributeValues={":b": {"N": "0.2"}}, ReturnValues="UPDATED_NEW")
    assert r["Attributes"]["d"] == {"N": "0.3"}


def test_query_scan_and_pagination(ddb, table):
    big = "x" * 20000
    for i in range(120):
        ddb.put_item(TableName=table, Item={"pk": {"S": "q"}, "sk": {"N": str(i)},
                                            "pad": {"S": big}, "odd": {"BOOL": i % 2 == 1}})
    r = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                  ExpressionAttributeValues={":p": {"S": "q"}, ":a": {"N": "10"}, ":b": {"N": "19"}},
                  ScanIndexForward=False, ProjectionExpression="sk")
    assert [it["sk"]["N"] for it in r["Items"]] == [str(i) for i in range(19, 9, -1)]
    assert r["Items"][0] == {"sk": {"N": "19"}}
    # 120 x 20 KB = 2.4 MB: the 1 MB page cuts it.
    pages, total = 0, 0
    kw = dict(TableName=table, KeyConditionExpression="pk = :p",
              ExpressionAttributeValues={":p": {"S": "q"}})
    while True:
        r = ddb.query(**kw)
        pages += 1
        total += r["Count"]
        if "LastEvaluatedKey" not in r:
            break
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    assert total == 120 and pages == 3
    r = ddb.query(TableName=table, KeyConditionExpression="pk = :p", Select="COUNT",
                  FilterExpression="odd = :t",
                  ExpressionAttributeValues={":p": {"S": "q"}, ":t": {"BOOL": True}}, Limit=10)
    assert r["Count"] == 5 and r["ScannedCount"] == 10 and "Items" not in r
    code, msg, _ = dh.error_of(ddb.query, TableName=table, KeyConditionExpression="sk = :a",
                               ExpressionAttributeValues={":a": {"N": "1"}})
    assert msg == "Query condition missed key schema element: pk"
    # Paginators and parallel scan.
    seen = set()
    for seg in range(3):
        for page in ddb.get_paginator("scan").paginate(TableName=table, Segment=seg,
                                                         TotalSegments=3,
                                                         ProjectionExpression="pk, sk"):
            for it in page["Items"]:
                seen.add(it["sk"]["N"])
    assert len(seen) == 120


def test_batches(ddb, table):
    reqs = [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(25)]
    r = ddb.batch_write_item(RequestItems={table: reqs})
    assert r["UnprocessedItems"] == {}
    code, msg, _ = dh.error_of(ddb.batch_write_item, RequestItems={table: reqs + reqs[:1]})
    assert msg == "Too many items requested for the BatchWriteItem call"
    keys = [{"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(0, 25, 5)]
    r = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ProjectionExpression": "sk"}})
    assert sorted(int(i["sk"]["N"]) for i in r["Responses"][table]) == [0, 5, 10, 15, 20]
    ddb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": k}} for k in keys]})
    r = ddb.batch_get_item(RequestItems={table: {"Keys": keys}})
    assert r["Responses"][table] == []


def test_transactions(ddb, table):
    a = {"pk": {"S": "acct"}, "sk": {"N": "1"}}
    b = {"pk": {"S": "acct"}, "sk": {"N": "2"}}
    ddb.put_item(TableName=table, Item={**a, "bal": {"N": "100"}})
    ddb.put_item(TableName=table, Item={**b, "bal": {"N": "0"}})
    move = [
        {"Update": {"TableName": table, "Key": a, "UpdateExpression": "SET bal = bal - :x",
                    "ConditionExpression": "bal >= :x",
                    "ExpressionAttributeValues": {":x": {"N": "60"}}}},
        {"Update": {"TableName": table, "Key": b, "UpdateExpression": "SET bal = bal + :x",
                    "ExpressionAttributeValues": {":x": {"N": "60"}}}},
    ]
    ddb.transact_write_items(TransactItems=move, ClientRequestToken="tok-1")
    ddb.transact_write_items(TransactItems=move, ClientRequestToken="tok-1")  # idempotent
    code, msg, resp = dh.error_of(ddb.transact_write_items, TransactItems=move)
    assert code == "TransactionCanceledException"
    assert [r["Code"] for r in resp["CancellationReasons"]] == ["ConditionalCheckFailed", "None"]
    r = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": a}},
                                              {"Get": {"TableName": table, "Key": b}}])
    assert [x["Item"]["bal"]["N"] for x in r["Responses"]] == ["40", "60"]
    code, _, _ = dh.error_of(ddb.transact_write_items, TransactItems=move[:1],
                             ClientRequestToken="tok-1")
    assert code == "IdempotentParameterMismatchException"


def test_secondary_indexes_follow_writes(ddb):
    dh.create_table(
        ddb, "idx", range_key="sk", range_type="N",
        ExtraDefinitions=[{"AttributeName": "owner", "AttributeType": "S"},
                          {"AttributeName": "score", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_owner",
                                 "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        LocalSecondaryIndexes=[{"IndexName": "by_score",
                                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                              {"AttributeName": "score", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "ALL"}}])
    for i in range(10):
        ddb.put_item(TableName="idx", Item={"pk": {"S": "p"}, "sk": {"N": str(i)},
                                            "owner": {"S": "ann" if i < 6 else "bob"},
                                            "score": {"N": str(100 - i)}})
    q = lambda owner: ddb.query(TableName="idx", IndexName="by_owner",
                                KeyConditionExpression="#o = :o",
                                ExpressionAttributeNames={"#o": "owner"},
                                ExpressionAttributeValues={":o": {"S": owner}})["Items"]
    assert len(q("ann")) == 6 and set(q("ann")[0]) == {"pk", "sk", "owner"}
    ddb.update_item(TableName="idx", Key={"pk": {"S": "p"}, "sk": {"N": "0"}},
                    UpdateExpression="SET #o = :b", ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues={":b": {"S": "bob"}})
    ddb.delete_item(TableName="idx", Key={"pk": {"S": "p"}, "sk": {"N": "1"}})
    assert len(q("ann")) == 4 and len(q("bob")) == 5
    r = ddb.query(TableName="idx", IndexName="by_score", KeyConditionExpression="pk = :p AND score > :s",
                  ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"N": "95"}})
    assert [i["score"]["N"] for i in r["Items"]] == ["96", "97", "98", "100"]
    # A GSI added later is backfilled.
    ddb.update_table(TableName="idx",
                     AttributeDefinitions=[{"AttributeName": "score", "AttributeType": "N"}],
                     GlobalSecondaryIndexUpdates=[{"Create": {
                         "IndexName": "by_score_g",
                         "KeySchema": [{"AttributeName": "score", "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "ALL"}}}])
    r = ddb.query(TableName="idx", IndexName="by_score_g", KeyConditionExpression="score = :s",
                  ExpressionAttributeValues={":s": {"N": "97"}})
    assert [i["sk"]["N"] for i in r["Items"]] == ["3"]
    d = ddb.describe_table(TableName="idx")["Table"]
    assert {g["IndexName"] for g in d["GlobalSecondaryIndexes"]} == {"by_owner", "by_score_g"}
    assert d["ItemCount"] == 9


def test_ttl_expires_items(ddb, table):
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True,
                                                                      "AttributeName": "exp"})
    assert ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    ddb.put_item(TableName=table, Item={"pk": {"S": "ttl"}, "sk": {"N": "1"}, "exp": {"N": "1000"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "ttl"}, "sk": {"N": "2"}, "exp": {"N": "99999999999"}})
    key = {"pk": {"S": "ttl"}, "sk": {"N": "1"}}
    dh.wait_for(lambda: "Item" not in ddb.get_item(TableName=table, Key=key), timeout=10)
    assert "Item" in ddb.get_item(TableName=table, Key={"pk": {"S": "ttl"}, "sk": {"N": "2"}})


def test_tags_limits_endpoints(ddb, table):
    arn = f"arn:aws:dynamodb:us-east-1:000000000000:table/{table}"
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "data"}])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "data"}]
    ddb.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []
    assert ddb.describe_limits()["TableMaxWriteCapacityUnits"] == 40000
    assert ddb.describe_endpoints()["Endpoints"][0]["CachePeriodInMinutes"] == 1440


def test_legacy_parameters(ddb, table):
    """What the KCL sends for its leases."""
    key = {"pk": {"S": "lease"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=table, Item={**key, "owner": {"S": "w1"}, "counter": {"N": "1"}},
                 Expected={"pk": {"Exists": False}})
    code, _, _ = dh.error_of(ddb.put_item, TableName=table, Item=key,
                             Expected={"pk": {"Exists": False}})
    assert code == "ConditionalCheckFailedException"
    ddb.update_item(TableName=table, Key=key,
                    AttributeUpdates={"owner": {"Action": "PUT", "Value": {"S": "w2"}},
                                      "counter": {"Action": "ADD", "Value": {"N": "1"}}},
                    Expected={"counter": {"Value": {"N": "1"}}, "owner": {
                        "ComparisonOperator": "EQ", "AttributeValueList": [{"S": "w1"}]}})
    got = ddb.get_item(TableName=table, Key=key, AttributesToGet=["owner", "counter"])["Item"]
    assert got == {"owner": {"S": "w2"}, "counter": {"N": "2"}}
    r = ddb.query(TableName=table, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "lease"}]},
        "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "1"}]}},
        QueryFilter={"owner": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "w"}]}})
    assert r["Count"] == 1
    r = ddb.scan(TableName=table, ScanFilter={"counter": {"ComparisonOperator": "GT",
                                                          "AttributeValueList": [{"N": "1"}]}})
    assert r["Count"] == 1
    code, msg, _ = dh.error_of(ddb.put_item, TableName=table, Item=key,
                               Expected={"pk": {"Exists": False}},
                               ConditionExpression="attribute_not_exists(pk)")
    assert msg == ("Can not use both expression and non-expression parameters in the same "
                   "request: Non-expression parameters: {Expected} Expression parameters: "
                   "{ConditionExpression}")


def test_metrics_exported(server, ddb, table):
    ddb.put_item(TableName=table, Item={"pk": {"S": "m"}, "sk": {"N": "1"}})
    ddb.get_item(TableName=table, Key={"pk": {"S": "m"}, "sk": {"N": "1"}})
    import urllib.request
    body = urllib.request.urlopen(server.endpoint + "/metrics", timeout=10).read().decode()
    assert f'freshet_dynamodb_ConsumedWriteCapacityUnits{{operation="PutItem",table="{table}"}}' in body
    assert "freshet_dynamodb_ConsumedReadCapacityUnits" in body
    assert "freshet_dynamodb_SuccessfulRequestLatency" in body
