"""Test harness for Freshet's client-compatibility suite.

Starts the real `freshet serve` binary on 127.0.0.1 port 0 with its own data directory, and
drives it with three real AWS clients:

  * boto3 / botocore from Debian (python3-boto3), run by /usr/bin/python3;
  * AWS CLI v2 from Debian (awscli), always called as /usr/bin/aws;
  * the AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis, pinned in js/package.json),
    through js/run.mjs, which performs a list of calls and prints JSON.

Every client talks only to 127.0.0.1, uses dummy credentials, never reads the host's AWS
config, and makes at most one attempt per call (no retries). Every wait is bounded.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
JS_DIR = HERE / "js"
CONTRACT_MODEL = Path(os.environ.get(
    "FRESHET_KINESIS_MODEL", "/work/shared/aws-models/kinesis-2013-12-02.json"))

AWS_CLI = "/usr/bin/aws"
NODE = shutil.which("node") or "/usr/bin/node"
REGION = "us-east-1"
ACCOUNT = "000000000000"
TARGET_PREFIX = "Kinesis_20131202"
JSON_CT = "application/x-amz-json-1.1"
CBOR_CT = "application/x-amz-cbor-1.1"
FAKE_AUTH = ("AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/kinesis/aws4_request, "
             "SignedHeaders=host, Signature=0")

READY_RE = re.compile(rb"freshet: listening on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 60.0


def binary_path() -> Path:
    env = os.environ.get("FRESHET_BINARY")
    return Path(env) if env else REPO / "build" / "release" / "freshet"


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def client_env() -> dict[str, str]:
    """Environment for CLI and node: dummy credentials and no host AWS config."""
    home = Path(tempfile.gettempdir()) / "freshet-compat-home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CLI_AUTO_PROMPT": "off",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    return env


class FreshetServer:
    """One `freshet serve` process. start() / stop() / kill9() / restart() on one data dir."""

    def __init__(self, data_dir: Path | None = None, args: list[str] | None = None):
        self.workdir = Path(tempfile.mkdtemp(prefix="freshet-compat-"))
        self.data_dir = data_dir or (self.workdir / "data")
        self.args = list(args or [])
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.starts = 0

    @property
    def endpoint(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    def log_path(self) -> Path:
        return self.workdir / f"server-{self.starts}.log"

    def start(self) -> "FreshetServer":
        binary = binary_path()
        if not binary.exists():
            raise RuntimeError(f"freshet binary not found at {binary} (set FRESHET_BINARY)")
        self.starts += 1
        log = self.log_path()
        cmd = [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir",
               str(self.data_dir), *self.args]
        with open(log, "wb") as out:
            # stdout and stderr go to a file: nothing can block on a full pipe.
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            m = READY_RE.search(log.read_bytes())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"freshet exited with {self.proc.returncode} before it was "
                                   f"ready:\n{self.log_text()}")
            time.sleep(0.02)
        self.kill9()
        raise RuntimeError(f"freshet not ready within {START_TIMEOUT_S}s:\n{self.log_text()}")

    def log_text(self) -> str:
        try:
            return self.log_path().read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S. Returns the exit code."""
        if self.proc is None:
            return None
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
                rc = None  # did not stop cleanly
        else:
            rc = self.proc.returncode
        self.proc = None
        return rc

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.proc = None

    def restart(self) -> "FreshetServer":
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ---------------------------------------------------------------- clients

    def boto3(self, contract_model: bool = False, validate: bool = True):
        return boto3_client(self.endpoint, contract_model=contract_model, validate=validate)

    def cli(self, *args: str, **kw) -> "CliResult":
        return run_cli(self.endpoint, *args, **kw)

    def js(self, calls: list[dict], **kw) -> list[dict]:
        return run_js(self.endpoint, calls, **kw)

    def raw(self, target: str | None, body: bytes, content_type: str = JSON_CT,
            auth: str | None = FAKE_AUTH, extra_headers: dict | None = None) -> "RawResponse":
        return raw_request(self.port, target, body, content_type, auth, extra_headers)


# -------------------------------------------------------------------- boto3

_contract_data_dir: Path | None = None


def _contract_data_path() -> Path:
    """A botocore data path holding the contract model, so Debian's older botocore knows the
    operations added since it was released (TagResource, resource policies, ...)."""
    global _contract_data_dir
    if _contract_data_dir is None:
        d = Path(tempfile.mkdtemp(prefix="freshet-model-"))
        target = d / "kinesis" / "2013-12-02"
        target.mkdir(parents=True)
        shutil.copy(CONTRACT_MODEL, target / "service-2.json")
        _contract_data_dir = d
    return _contract_data_dir


def boto3_client(endpoint: str, contract_model: bool = False, validate: bool = True):
    import boto3
    import botocore.config
    import botocore.session

    bsession = botocore.session.Session()
    # No host config: these are set on the session, not read from ~/.aws.
    bsession.set_config_variable("config_file", "/dev/null")
    bsession.set_config_variable("credentials_file", "/dev/null")
    if contract_model:
        loader = bsession.get_component("data_loader")
        loader.search_paths.insert(0, str(_contract_data_path()))
    session = boto3.session.Session(botocore_session=bsession,
                                    aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    cfg = botocore.config.Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5, read_timeout=30, parameter_validation=validate)
    return session.client("kinesis", endpoint_url=endpoint, config=cfg)


# ---------------------------------------------------------------------- CLI

class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def json(self) -> Any:
        return json.loads(self.stdout) if self.stdout.strip() else None

    def __repr__(self) -> str:
        return f"CliResult(rc={self.rc}, stdout={self.stdout[:500]!r}, stderr={self.stderr[:500]!r})"


def run_cli(endpoint: str, *args: str, timeout: float = CALL_TIMEOUT_S,
            check: bool = False) -> CliResult:
    cmd = [AWS_CLI, "--endpoint-url", endpoint, "--region", REGION, "--output", "json",
           "--no-cli-pager", "kinesis", *args]
    proc = subprocess.run(cmd, env=client_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    res = CliResult(proc)
    if check and res.rc != 0:
        raise AssertionError(f"aws kinesis {' '.join(args)} failed: {res!r}")
    return res


# ----------------------------------------------------------------------- JS

def js_ready() -> bool:
    return (JS_DIR / "node_modules" / "@aws-sdk" / "client-kinesis").is_dir()


def ensure_js() -> None:
    if not js_ready():
        subprocess.run(["bash", str(HERE / "setup.sh")], check=True, timeout=600,
                       stdin=subprocess.DEVNULL)


def b64(data: bytes) -> dict:
    """A blob in a JS call's input (js/run.mjs turns it into a Uint8Array)."""
    return {"$b64": base64.b64encode(data).decode()}


def date(when: dt.datetime | float) -> dict:
    """A Date in a JS call's input, from a datetime or epoch seconds."""
    secs = when.timestamp() if isinstance(when, dt.datetime) else float(when)
    return {"$date": int(round(secs * 1000))}


def ref(index: int, *path: str | int) -> dict:
    """A value taken from the output of an earlier call in the same run_js batch."""
    return {"$ref": [index, *path]}


def run_js(endpoint: str, calls: list[dict], timeout: float = CALL_TIMEOUT_S,
           http: str = "1.1") -> list[dict]:
    """Runs calls ({"op": "PutRecord", "input": {...}} or {"waiter": "StreamExists", ...})
    in one node process. Returns one {"ok": output} or {"error": {...}} per call; blobs come
    back as {"$b64": ...} and Dates as {"$date": epoch_ms}.

    http="1.1" (the default here) gives the client NodeHttpHandler; http="default" keeps the
    SDK's own handler, which for Kinesis is HTTP/2 (test_kinesis_js_http2.py)."""
    ensure_js()
    payload = json.dumps({"endpoint": endpoint, "region": REGION, "calls": calls,
                          "http": http})
    proc = subprocess.run([NODE, str(JS_DIR / "run.mjs")], input=payload, env=client_env(),
                          capture_output=True, text=True, timeout=timeout, cwd=str(JS_DIR))
    if proc.returncode != 0:
        raise AssertionError(f"node run.mjs failed rc={proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def run_js_subscribe(endpoint: str, input: dict, after: list[dict] | None = None,
                     records: int = 1, until_end: bool = False, http: str = "default",
                     timeout_ms: int = 20000) -> dict:
    """SubscribeToShard through the JS SDK (js/subscribe.mjs; by default over its HTTP/2
    handler): subscribes, makes the `after` calls, and collects events until `records`
    records arrived (or, with until_end, until the server ends the stream)."""
    ensure_js()
    payload = json.dumps({"endpoint": endpoint, "region": REGION, "input": input,
                          "after": after or [], "records": records, "untilEnd": until_end,
                          "http": http, "timeoutMs": timeout_ms})
    proc = subprocess.run([NODE, str(JS_DIR / "subscribe.mjs")], input=payload,
                          env=client_env(), capture_output=True, text=True,
                          timeout=timeout_ms / 1000 + 30, cwd=str(JS_DIR))
    if proc.returncode != 0:
        raise AssertionError(f"node subscribe.mjs failed rc={proc.returncode}:\n"
                             f"{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def js_blob(v: dict) -> bytes:
    assert isinstance(v, dict) and "$b64" in v, f"not a blob: {v!r}"
    return base64.b64decode(v["$b64"])


# ---------------------------------------------------------------------- raw

def decode_cbor_raw(b: bytes, i: int) -> tuple[Any, int]:
    """A small CBOR decoder for test responses: definite and indefinite lengths, tags kept as
    their content (so tag 1 gives the number as sent), floats via struct."""
    import struct
    ib = b[i]
    major, ai = ib >> 5, ib & 31
    i += 1
    if ai < 24:
        arg = ai
    elif ai in (24, 25, 26, 27):
        n = 1 << (ai - 24)
        arg = int.from_bytes(b[i:i + n], "big")
        if major == 7:
            raw = b[i:i + n]
            i += n
            if n == 2:
                return struct.unpack(">e", raw)[0], i
            if n == 4:
                return struct.unpack(">f", raw)[0], i
            if n == 8:
                return struct.unpack(">d", raw)[0], i
        i += n
    elif ai == 31:
        arg = None
    else:
        raise ValueError(f"bad CBOR additional info {ai}")
    if major == 0:
        return arg, i
    if major == 1:
        return -1 - arg, i
    if major in (2, 3):
        if arg is None:
            parts = []
            while b[i] != 0xFF:
                part, i = decode_cbor_raw(b, i)
                parts.append(part)
            i += 1
            return (b"" if major == 2 else "").join(parts), i
        raw = b[i:i + arg]
        return (raw if major == 2 else raw.decode("utf-8")), i + arg
    if major == 4:
        out = []
        while (len(out) < arg) if arg is not None else (b[i] != 0xFF):
            v, i = decode_cbor_raw(b, i)
            out.append(v)
        return out, (i if arg is not None else i + 1)
    if major == 5:
        out = {}
        while (len(out) < arg) if arg is not None else (b[i] != 0xFF):
            k, i = decode_cbor_raw(b, i)
            v, i = decode_cbor_raw(b, i)
            out[k] = v
        return out, (i if arg is not None else i + 1)
    if major == 6:
        return decode_cbor_raw(b, i)
    if ai == 20:
        return False, i
    if ai == 21:
        return True, i
    if ai in (22, 23):
        return None, i
    raise ValueError(f"unsupported CBOR simple value {ai}")


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def cbor(self) -> Any:
        """Decodes the body; a tag-1 timestamp becomes its raw number (AWS CBOR 1.1 sends
        integer epoch milliseconds, which cbor2 would misread as seconds)."""
        value, end = decode_cbor_raw(self.body, 0)
        assert end == len(self.body), "trailing bytes after the CBOR item"
        return value

    def __repr__(self) -> str:
        return f"RawResponse({self.status}, {self.headers}, {self.body[:300]!r})"


def raw_request(port: int, target: str | None, body: bytes, content_type: str = JSON_CT,
                auth: str | None = FAKE_AUTH, extra_headers: dict | None = None,
                timeout: float = 30.0) -> RawResponse:
    headers = {"Content-Type": content_type, "Host": f"127.0.0.1:{port}",
               "X-Amz-Date": "20250101T000000Z"}
    if target is not None:
        headers["X-Amz-Target"] = target
    if auth is not None:
        headers["Authorization"] = auth
    headers.update(extra_headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def raw_json(port: int, op: str, payload: dict) -> RawResponse:
    return raw_request(port, f"{TARGET_PREFIX}.{op}", json.dumps(payload).encode())


# ------------------------------------------------------------------ helpers

def hash_ranges(n: int) -> list[tuple[int, int]]:
    """The hash key ranges AWS gives the n shards of a new stream."""
    step = (1 << 128) // n
    out = []
    for i in range(n):
        start = i * step
        end = (1 << 128) - 1 if i == n - 1 else (i + 1) * step - 1
        out.append((start, end))
    return out


def shard_id(i: int) -> str:
    return f"shardId-{i:012d}"


def wait_active(client, name: str, timeout: float = 30.0) -> dict:
    """Polls DescribeStreamSummary (bounded) until the stream is ACTIVE."""
    deadline = time.monotonic() + timeout
    while True:
        s = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if s["StreamStatus"] == "ACTIVE":
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"stream {name} not ACTIVE after {timeout}s: {s}")
        time.sleep(0.05)


def create_active_stream(client, name: str, shards: int) -> str:
    """CreateStream, then waits until the stream is ACTIVE."""
    client.create_stream(StreamName=name, ShardCount=shards)
    wait_active(client, name)
    return name


def running_server(args: list[str] | None = None):
    """For a pytest fixture (`yield from harness.running_server([...])`): a started
    FreshetServer, stopped and its directory removed afterwards."""
    s = FreshetServer(args=args)
    s.start()
    try:
        yield s
    finally:
        s.stop()
        s.cleanup()


def wait_consumer_active(client, consumer_arn: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        d = client.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"]
        if d["ConsumerStatus"] == "ACTIVE":
            return d
        if time.monotonic() > deadline:
            raise AssertionError(f"consumer not ACTIVE after {timeout}s: {d}")
        time.sleep(0.05)


def read_all(client, iterator: str, max_calls: int = 50, limit: int | None = None):
    """GetRecords from iterator until an empty page at the tip or the shard's end (bounded).
    Returns (records, last_response)."""
    records: list[dict] = []
    resp: dict = {}
    for _ in range(max_calls):
        kw = {"ShardIterator": iterator}
        if limit:
            kw["Limit"] = limit
        resp = client.get_records(**kw)
        records.extend(resp["Records"])
        nxt = resp.get("NextShardIterator")
        if nxt is None:
            return records, resp
        if not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0:
            return records, resp
        iterator = nxt
    raise AssertionError(f"read_all did not finish in {max_calls} calls")


def next_whole_second() -> dt.datetime:
    """Sleeps past the next whole second and returns it. Debian's botocore 1.29 sends JSON
    timestamps as whole epoch seconds, so a boundary between writes must be a whole second."""
    now = time.time()
    boundary = int(now) + 1
    time.sleep(boundary - now + 0.05)
    return dt.datetime.fromtimestamp(boundary, dt.timezone.utc)


def unique_name(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
