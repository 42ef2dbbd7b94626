"""Shard ids parsed as AWS parses them, and the ResourceNotFoundException texts AWS gives.

The cases are the ones kinesalite's suite recorded against AWS (test/getShardIterator.js,
splitShard.js, mergeShards.js): AWS reads the digits after the first '-' (or the whole id when
there is no '-'), accepts indexes below 2^31, and words a bad id and a missing shard
differently.
"""

from __future__ import annotations

import pytest

from harness import raw_json, unique_name

ACCOUNT = "000000000000"


def not_found(r) -> str:
    assert r.status == 400, r
    body = r.json()
    assert body["__type"] == "ResourceNotFoundException", body
    return body["message"]


@pytest.mark.parametrize("shard", ["2147483647", "x1-2147483647", "a-00002147483647",
                                   "-00002147483647"])
def test_get_shard_iterator_unknown_stream_valid_shard(server, shard):
    name = unique_name("nostream")
    r = raw_json(server.port, "GetShardIterator",
                 {"StreamName": name, "ShardId": shard, "ShardIteratorType": "LATEST"})
    assert not_found(r) == (f"Shard shardId-002147483647 in stream {name} under account "
                            f"{ACCOUNT} does not exist")


@pytest.mark.parametrize("shard", ["2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4"])
def test_get_shard_iterator_bad_shard_id(server, shard):
    name = unique_name("nostream")
    r = raw_json(server.port, "GetShardIterator",
                 {"StreamName": name, "ShardId": shard, "ShardIteratorType": "LATEST"})
    assert not_found(r) == f"Could not find shard {shard} in stream {name} under account {ACCOUNT}."


def test_get_shard_iterator_known_stream_missing_shard(server, stream):
    r = raw_json(server.port, "GetShardIterator",
                 {"StreamName": stream, "ShardId": "shardId-5",
                  "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": "5"})
    assert not_found(r) == (f"Shard shardId-000000000005 in stream {stream} under account "
                            f"{ACCOUNT} does not exist")


@pytest.mark.parametrize("shard", ["shard-0", "anything-0", "0", "shardId-000000000000"])
def test_get_shard_iterator_accepts_any_prefix(server, stream, shard):
    r = raw_json(server.port, "GetShardIterator",
                 {"StreamName": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"})
    assert r.status == 200, r
    assert r.json()["ShardIterator"]


def test_split_shard_unknown_stream(server):
    name = unique_name("nostream")
    r = raw_json(server.port, "SplitShard",
                 {"StreamName": name, "ShardToSplit": "shardId-0", "NewStartingHashKey": "0"})
    assert not_found(r) == f"Stream {name} under account {ACCOUNT} not found."
    r = raw_json(server.port, "SplitShard",
                 {"StreamName": name, "ShardToSplit": "2147483648", "NewStartingHashKey": "0"})
    assert not_found(r) == (f"Could not find shard 2147483648 in stream {name} under account "
                            f"{ACCOUNT}.")


def test_merge_shards_unknown_stream(server):
    name = unique_name("nostream")
    r = raw_json(server.port, "MergeShards",
                 {"StreamName": name, "ShardToMerge": "shardId-002147483648",
                  "AdjacentShardToMerge": "x-0"})
    assert not_found(r) == (f"Could not find shard shardId-002147483648 in stream {name} under "
                            f"account {ACCOUNT}.")
    r = raw_json(server.port, "MergeShards",
                 {"StreamName": name, "ShardToMerge": "shardId-0", "AdjacentShardToMerge": "x-1"})
    assert not_found(r) == f"Stream {name} under account {ACCOUNT} not found."


def test_validation_order_as_aws_recorded(server):
    """kinesalite's recordings: the other members in order, streamName last."""
    r = raw_json(server.port, "GetShardIterator",
                 {"StreamName": "", "ShardIteratorType": "", "ShardId": "",
                  "StartingSequenceNumber": ""})
    assert r.status == 400
    message = r.json()["message"]
    assert message.startswith("6 validation errors detected: Value '' at 'shardId'"), message
    paths = [part.split("' at '")[1].split("'")[0] for part in message.split("; ")]
    assert paths == ["shardId", "shardId", "shardIteratorType", "startingSequenceNumber",
                     "streamName", "streamName"]
    r = raw_json(server.port, "DescribeStream",
                 {"StreamName": "", "Limit": 0, "ExclusiveStartShardId": ""})
    message = r.json()["message"]
    paths = [part.split("' at '")[1].split("'")[0] for part in message.split("; ")]
    assert paths == ["limit", "exclusiveStartShardId", "exclusiveStartShardId", "streamName",
                     "streamName"], message
