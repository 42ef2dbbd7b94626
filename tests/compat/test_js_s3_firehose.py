"""The AWS SDK for JavaScript v3 (client-s3, client-firehose; js/s3_firehose.mjs) against
Freshet: uploads (buffer and aws-chunked stream bodies with a trailing CRC32), ranged
reads, errors, and a Firehose delivery read back through S3 and gunzipped byte for byte."""

from __future__ import annotations

import json
import re
import subprocess

import harness


def test_js_sdk_s3_and_firehose():
    harness.ensure_js()
    s = harness.FreshetServer(args=["--durability", "os"])
    s.start()
    try:
        proc = subprocess.run(
            [harness.NODE, str(harness.JS_DIR / "s3_firehose.mjs")],
            input=json.dumps({"endpoint": s.endpoint, "region": harness.REGION}),
            env=harness.client_env(), capture_output=True, text=True, timeout=120,
            cwd=str(harness.JS_DIR))
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout)
        assert out["buffer.bin"] is True
        assert out["stream.bin"] is True
        assert out["range"] is True
        assert out["keys"] == ["buffer.bin", "stream.bin"]
        assert out["missing"] == "NoSuchKey"
        assert out["failedPutCount"] == 0 and out["recordIds"] == 250
        assert out["deliveredObjects"] == 1
        assert out["deliveredEqual"] is True
        assert re.match(r"^fh/\d{4}/\d{2}/\d{2}/\d{2}/js-stream-1-", out["deliveredKey"])
        assert out["status"] == "ACTIVE"
        # The stream upload really came as aws-chunked with a trailer, and it was verified.
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        assert re.search(r'freshet_s3_aws_chunked_bodies_total\{operation="PutObject"\} [1-9]', text)
        assert re.search(r'freshet_s3_checksums_verified_total\{where="trailer"\} [1-9]', text)
    finally:
        s.cleanup()
