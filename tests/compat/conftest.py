"""Fixtures for the Kinesis compatibility suite (see harness.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


def pytest_sessionstart(session):
    # Installs the JS SDK once (idempotent), before any test needs it.
    harness.ensure_js()


@pytest.fixture(scope="session")
def server():
    """One shared server with instant state transitions."""
    s = harness.FreshetServer(args=["--durability", "os"])
    s.start()
    yield s
    rc = s.stop()
    s.cleanup()
    assert rc == 0, f"freshet did not exit 0 on SIGTERM (rc={rc})"


@pytest.fixture(scope="session")
def slow_server():
    """A server whose CREATING/UPDATING/DELETING states last 1.5 s (for waiters)."""
    s = harness.FreshetServer(args=["--state-delay-ms", "1500", "--durability", "os"])
    s.start()
    yield s
    s.cleanup()


@pytest.fixture(scope="session")
def kinesis(server):
    """boto3 with Debian's shipped botocore model."""
    return server.boto3()


@pytest.fixture(scope="session")
def kinesis_new(server):
    """boto3 with the contract model (operations newer than Debian's botocore)."""
    return server.boto3(contract_model=True)


@pytest.fixture(scope="session")
def kinesis_raw(server):
    """boto3 without client-side parameter validation, to reach the server's validation."""
    return server.boto3(contract_model=True, validate=False)


@pytest.fixture
def stream(kinesis, request):
    """A fresh ACTIVE 1-shard stream, deleted afterwards."""
    name = harness.unique_name(request.node.name[:40].replace("[", "-").replace("]", ""))
    kinesis.create_stream(StreamName=name, ShardCount=1)
    harness.wait_active(kinesis, name)
    yield name
    try:
        kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    except Exception:
        pass


def make_stream(kinesis, name: str, shards: int) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    harness.wait_active(kinesis, name)
    return name
