"""A full disk: the data directory on a 24 MiB tmpfs that the test mounts. Puts fail with a
retryable error (InternalFailure) and a metric while reads keep working; /health answers 503
with the reason; the error log stays short; nothing acknowledged is damaged; and once space is
freed, puts to the same stream succeed again without a restart."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

import harness
from conftest import make_stream


def _mount_tmpfs(size: str) -> Path | None:
    mnt = Path(tempfile.mkdtemp(prefix="freshet-full-"))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        os.rmdir(mnt)
        return None
    return mnt


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_full_disk_fails_puts_retryably_and_recovers_without_restart():
    mnt = _mount_tmpfs("24m")
    if mnt is None:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    try:
        # Filler that the test frees later: "an operator deletes something".
        filler = mnt / "filler"
        srv = harness.FreshetServer(data_dir=mnt / "data", args=["--durability", "fsync"]).start()
        try:
            c = srv.boto3()
            name = make_stream(c, "full", 1)
            acked: list[tuple[str, bytes]] = []
            for i in range(20):
                data = bytes([i]) * 1000
                r = c.put_record(StreamName=name, Data=data, PartitionKey=f"k{i}")
                acked.append((r["SequenceNumber"], data))
            # Fill what is left but about 1 MiB.
            st = os.statvfs(mnt)
            free = st.f_bavail * st.f_frsize
            with open(filler, "wb") as f:
                f.write(b"\0" * max(0, free - (1 << 20)))
            failures = 0
            codes: set[str] = set()
            for i in range(400):
                batch = [{"Data": os.urandom(4000), "PartitionKey": f"f{i}-{j}"} for j in range(50)]
                r = c.put_records(StreamName=name, Records=batch)
                for e, rec in zip(r["Records"], batch):
                    if "ErrorCode" in e:
                        failures += 1
                        codes.add(e["ErrorCode"])
                    else:
                        acked.append((e["SequenceNumber"], rec["Data"]))
                if failures > 200:
                    break
            assert failures > 0, "the disk never filled up"
            assert codes == {"InternalFailure"}, codes
            status, body = _get(srv.endpoint + "/health")
            assert status == 503 and "writes are failing" in body, (status, body)
            metrics = _get(srv.endpoint + "/metrics")[1]
            line = next(l for l in metrics.splitlines() if l.startswith("freshet_put_failures_total"))
            assert float(line.split()[-1]) > 0
            # Reads keep working, and what was acknowledged is intact, in order.
            it = c.get_shard_iterator(StreamName=name, ShardId=harness.shard_id(0),
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            got: list[tuple[str, bytes]] = []
            for _ in range(100):
                r = c.get_records(ShardIterator=it, Limit=10000)
                got += [(g["SequenceNumber"], g["Data"]) for g in r["Records"]]
                if not r["Records"]:
                    break
                it = r["NextShardIterator"]
            assert got == acked
            # Space comes back: the same stream takes writes again, without a restart.
            filler.unlink()
            r = c.put_record(StreamName=name, Data=b"after", PartitionKey="again")
            assert int(r["SequenceNumber"]) > int(acked[-1][0])
            status, body = _get(srv.endpoint + "/health")
            assert status == 200, body
            # The error log stayed bounded: no line per failed put.
            log_lines = [l for l in srv.log_path().read_text(errors="replace").splitlines()
                         if "[error]" in l]
            assert len(log_lines) < 60, f"{len(log_lines)} error lines for {failures} failures"
        finally:
            srv.stop()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)
        os.rmdir(mnt)
