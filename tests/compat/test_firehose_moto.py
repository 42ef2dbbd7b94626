"""Firehose delivering to an independent S3 server: moto's (python3 -m moto.server), started
and stopped here on loopback. Freshet signs with libcurl's SigV4 and reads nothing back from
moto but through boto3; the destination goes down and comes back."""

from __future__ import annotations

import gzip
import socket
import subprocess
import time

import pytest

import harness
from test_firehose import ROLE, clients, dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    def __init__(self, port: int):
        self.port = port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["python3", "-m",
             "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def moto_available() -> bool:
    return subprocess.run(["python3", "-c", "import moto.server"], capture_output=True).returncode == 0


@pytest.mark.skipif(not moto_available(), reason="moto is not installed for python3")
def test_delivery_to_moto_with_outage():
    import boto3
    import botocore.config
    port = free_port()
    moto = Moto(port).start()
    s = harness.FreshetServer(args=[
        "--durability", "os", "--firehose-s3-endpoint", f"http://127.0.0.1:{port}",
        "--firehose-s3-access-key", "testing", "--firehose-s3-secret-key", "testing"])
    try:
        remote = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                       region_name="us-east-1").client(
            "s3", endpoint_url=f"http://127.0.0.1:{port}",
            config=botocore.config.Config(s3={"addressing_style": "path"},
                                          retries={"total_max_attempts": 1}))
        remote.create_bucket(Bucket="moto-dest")
        s.start()
        fh, _ = clients(s.endpoint)
        fh.create_delivery_stream(
            DeliveryStreamName="to-moto",
            ExtendedS3DestinationConfiguration=dest("moto-dest", CompressionFormat="GZIP",
                                                    Prefix="m/"))
        first = [f"m-{i}\n".encode() for i in range(1000)]
        fh.put_record_batch(DeliveryStreamName="to-moto", Records=[{"Data": d} for d in first[:500]])
        fh.put_record_batch(DeliveryStreamName="to-moto", Records=[{"Data": d} for d in first[500:]])

        def objects():
            return remote.list_objects_v2(Bucket="moto-dest", Prefix="m/").get("Contents", [])

        deadline = time.monotonic() + 20
        while not objects() and time.monotonic() < deadline:
            time.sleep(0.2)
        objs = objects()
        assert len(objs) == 1
        body = gzip.decompress(remote.get_object(Bucket="moto-dest", Key=objs[0]["Key"])["Body"].read())
        assert body == b"".join(first)

        # Outage: moto stops; records put meanwhile wait in the buffer and arrive once a
        # (fresh, empty) moto with the bucket is back.
        moto.stop()
        fh.put_record(DeliveryStreamName="to-moto", Record={"Data": b"during-outage\n"})
        time.sleep(2.5)
        moto.start()
        remote.create_bucket(Bucket="moto-dest")
        deadline = time.monotonic() + 30
        while not objects() and time.monotonic() < deadline:
            time.sleep(0.2)
        objs = objects()
        assert len(objs) == 1
        body = gzip.decompress(remote.get_object(Bucket="moto-dest", Key=objs[0]["Key"])["Body"].read())
        assert body == b"during-outage\n"
        assert "delivery failed" in s.log_text()
    finally:
        s.cleanup()
        moto.stop()
