"""Helpers for the CloudWatch and dashboard compatibility tests (test_cloudwatch_*.py).

Clients: Debian's boto3 (which speaks CloudWatch's AWS Query protocol), the AWS CLI v2
(/usr/bin/aws, Query as well), and raw HTTP for JSON 1.0 and Smithy RPC v2 CBOR (python3-cbor2).
"""

from __future__ import annotations

import datetime as dt
import http.client as httplib
import json
import re
import subprocess
import threading
import time
import urllib.request

import harness

UTC = dt.timezone.utc


def client(server, service: str):
    import boto3
    import botocore.config
    import botocore.session

    bsession = botocore.session.Session()
    bsession.set_config_variable("config_file", "/dev/null")
    bsession.set_config_variable("credentials_file", "/dev/null")
    session = boto3.session.Session(botocore_session=bsession, aws_access_key_id="test",
                                    aws_secret_access_key="test", region_name=harness.REGION)
    cfg = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                 connect_timeout=5, read_timeout=30)
    return session.client(service, endpoint_url=server.endpoint, config=cfg)


def cli(server, *args: str, check: bool = True) -> harness.CliResult:
    cmd = [harness.AWS_CLI, "--endpoint-url", server.endpoint, "--region", harness.REGION,
           "--output", "json", "--no-cli-pager", *args]
    proc = subprocess.run(cmd, env=harness.client_env(), capture_output=True, text=True,
                          timeout=harness.CALL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    res = harness.CliResult(proc)
    if check and res.rc != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {res!r}")
    return res


def prometheus(server) -> str:
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as r:
        return r.read().decode()


def prometheus_value(text: str, family: str, labels: str) -> float | None:
    m = re.search(r"^" + re.escape(family + "{" + labels + "}") + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def http(server, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    conn = httplib.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_for(fn, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Traffic:
    """Puts records into a stream from a thread until stopped; counts what was acknowledged."""

    def __init__(self, kinesis, stream: str, batch: int = 50, pause: float = 0.05, size: int = 100):
        self.kinesis, self.stream, self.batch, self.pause, self.size = kinesis, stream, batch, pause, size
        self.sent = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        i = 0
        while not self._stop.is_set():
            recs = [{"Data": (b"%08d" % (i + j)) * (self.size // 8), "PartitionKey": str(i + j)}
                    for j in range(self.batch)]
            try:
                r = self.kinesis.put_records(StreamName=self.stream, Records=recs)
                self.sent += self.batch - r.get("FailedRecordCount", 0)
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
            i += self.batch
            self._stop.wait(self.pause)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)
