"""The AWS SDK for JavaScript v3 Kinesis client with nothing changed but the endpoint.

Its default request handler is NodeHttp2Handler: on an http:// endpoint it opens HTTP/2 with
prior knowledge (h2c; the connection starts with the 'PRI * HTTP/2.0' preface). Real AWS
speaks HTTP/2 (over TLS), so a drop-in server must accept h2c here. The other JS tests use
NodeHttpHandler (HTTP/1.1) so that they test the API rather than the transport."""

from __future__ import annotations

from harness import shard_id, unique_name


def test_js_default_handler_http2(server, kinesis):
    name = unique_name("h2")
    res = server.js([
        {"op": "CreateStream", "input": {"StreamName": name, "ShardCount": 1}},
        {"waiter": "StreamExists", "input": {"StreamName": name}, "maxWaitTime": 5},
        {"op": "PutRecord", "input": {"StreamName": name, "Data": {"$b64": "aDI="},
                                      "PartitionKey": "k"}},
        {"op": "ListShards", "input": {"StreamName": name}},
    ], http="default", timeout=60)
    assert all("ok" in r for r in res), res
    assert res[2]["ok"]["ShardId"] == shard_id(0)
    assert [s["ShardId"] for s in res[3]["ok"]["Shards"]] == [shard_id(0)]
