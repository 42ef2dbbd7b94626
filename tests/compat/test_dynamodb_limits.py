"""DynamoDB limits with boto3 against the real freshet binary started with
--table-enforce-throughput: ProvisionedThroughputExceededException (with its
ThrottledRequests metric and BatchWriteItem's UnprocessedItems) and
ItemCollectionSizeLimitExceededException on a table with a local secondary index; and the
per-index units of ReturnConsumedCapacity INDEXES."""

from __future__ import annotations

import urllib.request

import pytest

import harness
import dynamodb_harness as dh

THROTTLE_MSG = ("The level of configured provisioned throughput for the table was exceeded. "
                "Consider increasing your provisioning level with the UpdateTable API.")
BATCH_THROTTLE_MSG = ("The level of configured provisioned throughput for one or more tables was "
                      "exceeded. Consider increasing your provisioning level with the UpdateTable "
                      "API.")


@pytest.fixture(scope="module")
def server():
    s = harness.FreshetServer(args=["--durability", "os", "--table-enforce-throughput",
                                    "--table-burst-seconds", "2",
                                    "--table-item-collection-limit-bytes", "8192"])
    s.start()
    yield s
    rc = s.stop()
    s.cleanup()
    assert rc == 0


@pytest.fixture(scope="module")
def ddb(server):
    return dh.client(server.endpoint)


def provisioned(ddb, name: str, rcu: int, wcu: int) -> None:
    ddb.create_table(TableName=name,
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": rcu, "WriteCapacityUnits": wcu})
    dh.wait_active(ddb, name)


def throttled_calls(fn, n: int, message: str = THROTTLE_MSG) -> list[str]:
    import botocore.exceptions
    codes = []
    for i in range(n):
        try:
            fn(i)
            codes.append("ok")
        except botocore.exceptions.ClientError as e:
            codes.append(e.response["Error"]["Code"])
            if e.response["Error"]["Code"] == "ProvisionedThroughputExceededException":
                assert e.response["Error"]["Message"] == message
    return codes


def test_provisioned_writes_and_reads_are_throttled(server, ddb):
    # 1 WCU with 2 s of burst: at most ~3 one-unit writes pass in a quick burst of 20.
    provisioned(ddb, "thin", 1, 1)
    codes = throttled_calls(
        lambda i: ddb.put_item(TableName="thin", Item={"pk": {"S": f"k{i}"}}), 20)
    assert codes[0] == "ok"
    assert codes.count("ProvisionedThroughputExceededException") >= 10, codes
    assert set(codes) <= {"ok", "ProvisionedThroughputExceededException"}
    # Reads have their own bucket (eventually consistent reads cost half a unit).
    reads = throttled_calls(
        lambda i: ddb.get_item(TableName="thin", Key={"pk": {"S": "k0"}}, ConsistentRead=True), 20)
    assert reads[0] == "ok"
    assert reads.count("ProvisionedThroughputExceededException") >= 10, reads
    # Every table of the batch throttled: the batch fails with the same error (an admitted
    # batch overdraws the bucket, so one of a quick few is refused).
    batches = throttled_calls(lambda i: ddb.batch_write_item(RequestItems={
        "thin": [{"PutRequest": {"Item": {"pk": {"S": f"b{i}"}}}}]}), 5, BATCH_THROTTLE_MSG)
    assert "ProvisionedThroughputExceededException" in batches, batches
    body = urllib.request.urlopen(server.endpoint + "/metrics", timeout=10).read().decode()
    assert 'freshet_dynamodb_ThrottledRequests_total{operation="PutItem",table="thin"}' in body
    line = [l for l in body.splitlines()
            if l.startswith('freshet_dynamodb_ThrottledRequests_total{operation="PutItem",table="thin"}')]
    assert float(line[0].split()[-1]) == codes.count("ProvisionedThroughputExceededException")


def test_batch_with_one_throttled_table_returns_its_items_unprocessed(ddb):
    provisioned(ddb, "thin2", 1, 1)
    dh.create_table(ddb, "wide")
    for i in range(10):  # use up thin2's write capacity
        try:
            ddb.put_item(TableName="thin2", Item={"pk": {"S": f"x{i}"}})
        except Exception:
            pass
    for i in range(5):  # an admitted batch overdraws thin2's bucket: one of a few is refused
        r = ddb.batch_write_item(RequestItems={
            "thin2": [{"PutRequest": {"Item": {"pk": {"S": f"t{i}"}}}}],
            "wide": [{"PutRequest": {"Item": {"pk": {"S": f"w{i}"}}}}]})
        if r["UnprocessedItems"]:
            break
    assert r["UnprocessedItems"] == {"thin2": [{"PutRequest": {"Item": {"pk": {"S": f"t{i}"}}}}]}
    assert "Item" in ddb.get_item(TableName="wide", Key={"pk": {"S": f"w{i}"}})
    assert "Item" not in ddb.get_item(TableName="thin2", Key={"pk": {"S": f"t{i}"}})


def test_on_demand_tables_are_never_throttled(ddb):
    dh.create_table(ddb, "ondemand")
    for i in range(60):
        ddb.put_item(TableName="ondemand", Item={"pk": {"S": f"k{i}"}})
    assert ddb.scan(TableName="ondemand", Select="COUNT")["Count"] == 60


def test_item_collection_size_limit_with_an_lsi(ddb):
    dh.create_table(
        ddb, "coll", range_key="sk",
        ExtraDefinitions=[{"AttributeName": "at", "AttributeType": "S"}],
        LocalSecondaryIndexes=[{
            "IndexName": "by_at",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "at", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}])
    blob = "b" * 1000  # ~1 KB item, ~2 KB with its LSI entry: 4 fit in 8192
    codes = throttled_calls(lambda i: ddb.put_item(TableName="coll", Item={
        "pk": {"S": "big"}, "sk": {"S": f"{i:03}"}, "at": {"S": "x"}, "blob": {"S": blob}}), 6)
    assert codes == ["ok"] * 4 + ["ItemCollectionSizeLimitExceededException"] * 2, codes
    # Another partition key has its own collection.
    ddb.put_item(TableName="coll", Item={"pk": {"S": "small"}, "sk": {"S": "1"},
                                         "at": {"S": "x"}, "blob": {"S": blob}})
    assert ddb.query(TableName="coll", KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "big"}})["Count"] == 4


def test_return_consumed_capacity_indexes(ddb):
    dh.create_table(
        ddb, "capidx", range_key="sk",
        ExtraDefinitions=[{"AttributeName": "g", "AttributeType": "S"},
                          {"AttributeName": "at", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        LocalSecondaryIndexes=[{
            "IndexName": "by_at",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "at", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}])
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    r = ddb.put_item(TableName="capidx", Item={**key, "g": {"S": "x"}, "at": {"S": "y"},
                                                "blob": {"S": "b" * 1500}},
                     ReturnConsumedCapacity="INDEXES")
    c = r["ConsumedCapacity"]
    # ~1.5 KB: 2 units in the table and 2 in the LSI (ALL); the KEYS_ONLY GSI entry is 1.
    assert c["Table"] == {"CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}
    assert c["LocalSecondaryIndexes"] == {"by_at": {"CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}}
    assert c["GlobalSecondaryIndexes"] == {"by_g": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0}}
    assert c["CapacityUnits"] == 5.0 and c["WriteCapacityUnits"] == 5.0
    # A changed GSI key is a delete and a put in the GSI.
    r = ddb.update_item(TableName="capidx", Key=key, UpdateExpression="SET g = :g",
                        ExpressionAttributeValues={":g": {"S": "z"}},
                        ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"]["GlobalSecondaryIndexes"]["by_g"]["CapacityUnits"] == 2.0
    # A Query of an index consumes the index's capacity, not the table's.
    q = ddb.query(TableName="capidx", IndexName="by_g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "z"}}, ReturnConsumedCapacity="INDEXES")
    assert q["Count"] == 1
    assert q["ConsumedCapacity"]["Table"]["CapacityUnits"] == 0.0
    assert q["ConsumedCapacity"]["GlobalSecondaryIndexes"]["by_g"]["CapacityUnits"] == 0.5
    # TOTAL counts the indexes without listing them.
    r = ddb.delete_item(TableName="capidx", Key=key, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"] == {"TableName": "capidx", "CapacityUnits": 5.0,
                                     "WriteCapacityUnits": 5.0}
