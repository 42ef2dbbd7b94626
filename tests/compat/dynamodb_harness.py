"""Helpers for the DynamoDB compatibility tests: boto3 client/resource, AWS CLI v2 and the
AWS SDK for JavaScript v3 (DynamoDBDocumentClient, from js-dynamodb/) against the real
freshet binary. Servers come from harness.FreshetServer."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import harness

HERE = Path(__file__).resolve().parent
JS_DIR = HERE / "js-dynamodb"


MODEL = Path("/work/shared/aws-models/dynamodb-2012-08-10.json")
_model_dir: Path | None = None


def _model_path() -> Path:
    """A botocore data path with the current DynamoDB model, so Debian's older botocore knows
    newer members (ReturnValuesOnConditionCheckFailure, ...)."""
    global _model_dir
    if _model_dir is None:
        import shutil
        import tempfile
        d = Path(tempfile.mkdtemp(prefix="freshet-ddb-model-"))
        target = d / "dynamodb" / "2012-08-10"
        target.mkdir(parents=True)
        shutil.copy(MODEL, target / "service-2.json")
        _model_dir = d
    return _model_dir


def _session(endpoint: str):
    import boto3
    import botocore.config
    import botocore.session

    bsession = botocore.session.Session()
    bsession.set_config_variable("config_file", "/dev/null")
    bsession.set_config_variable("credentials_file", "/dev/null")
    if MODEL.exists():
        bsession.get_component("data_loader").search_paths.insert(0, str(_model_path()))
    session = boto3.session.Session(botocore_session=bsession, aws_access_key_id="test",
                                    aws_secret_access_key="test", region_name=harness.REGION)
    cfg = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                 connect_timeout=5, read_timeout=60)
    return session, cfg


def client(endpoint: str):
    session, cfg = _session(endpoint)
    return session.client("dynamodb", endpoint_url=endpoint, config=cfg)


def resource(endpoint: str):
    session, cfg = _session(endpoint)
    return session.resource("dynamodb", endpoint_url=endpoint, config=cfg)


def cli(endpoint: str, *args: str, timeout: float = 60.0) -> harness.CliResult:
    cmd = [harness.AWS_CLI, "--endpoint-url", endpoint, "--region", harness.REGION,
           "--output", "json", "--no-cli-pager", "dynamodb", *args]
    proc = subprocess.run(cmd, env=harness.client_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return harness.CliResult(proc)


def js_ready() -> bool:
    return (JS_DIR / "node_modules" / "@aws-sdk" / "lib-dynamodb").is_dir()


def ensure_js() -> None:
    if not js_ready():
        subprocess.run(["bash", str(JS_DIR / "setup.sh")], check=True, timeout=600,
                       stdin=subprocess.DEVNULL)


def js(endpoint: str, calls: list[dict], timeout: float = 60.0) -> list[dict]:
    """Runs calls with DynamoDBDocumentClient ({"op": "Put", "input": {...}}) and returns
    [{"ok": output} | {"error": {...}}]."""
    ensure_js()
    payload = json.dumps({"endpoint": endpoint, "region": harness.REGION, "calls": calls})
    proc = subprocess.run([harness.NODE, str(JS_DIR / "run.mjs")], input=payload, text=True,
                          capture_output=True, env=harness.client_env(), timeout=timeout,
                          cwd=str(JS_DIR))
    if proc.returncode != 0:
        raise AssertionError(f"node failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def create_table(ddb, name: str, hash_key: str = "pk", hash_type: str = "S",
                 range_key: str | None = None, range_type: str = "S", **extra) -> None:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    defs = [{"AttributeName": hash_key, "AttributeType": hash_type}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
        defs.append({"AttributeName": range_key, "AttributeType": range_type})
    defs += extra.pop("ExtraDefinitions", [])
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=defs,
                     BillingMode="PAY_PER_REQUEST", **extra)
    wait_active(ddb, name)


def wait_active(ddb, name: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    raise AssertionError(f"table {name} not ACTIVE within {timeout}s")


def error_of(fn, *args, **kw) -> tuple[str, str, dict]:
    """Calls fn and returns (code, message, response) of the ClientError it must raise."""
    import botocore.exceptions
    try:
        fn(*args, **kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", ""), e.response
    raise AssertionError("expected an error")


def wait_for(pred, timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("condition not met in time")
