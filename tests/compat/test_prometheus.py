"""/metrics read by real Prometheus software: Debian's python3-prometheus-client text parser
(names, HELP and TYPE, _total counters, base units, values equal to the traffic), and Debian's
Prometheus server (started here on 127.0.0.1, a free port) scraping it, with a series queried
back through its HTTP API."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import harness
from cloudwatch_harness import client, prometheus, wait_for

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


@pytest.fixture(scope="module")
def server():
    yield from harness.running_server(["--durability", "os"])


@pytest.fixture(scope="module")
def sent(server):
    """A stream with a known number of records; a latency histogram and a CloudWatch call."""
    k = client(server, "kinesis")
    harness.create_active_stream(k, "prom", 1)
    n = 0
    for i in range(5):
        r = k.put_records(StreamName="prom", Records=[
            {"Data": b"x" * 10, "PartitionKey": str(j)} for j in range(20)])
        n += 20 - r["FailedRecordCount"]
    client(server, "cloudwatch").list_metrics()
    return n


def families(text: str) -> dict:
    out = {}
    for f in text_string_to_metric_families(text):
        assert f.name not in out, f"family {f.name} exposed twice"
        out[f.name] = f
    return out


def test_exposition_parses_and_follows_prometheus_naming(server, sent):
    text = prometheus(server)
    fams = families(text)
    assert len(fams) > 20
    for name, f in fams.items():
        assert f.documentation, f"{name} has no HELP"
        assert f.type in ("counter", "gauge", "histogram"), (name, f.type)
        assert "_ms" not in name, f"{name}: milliseconds are exposed in seconds"
        if f.type == "counter":
            # The parser strips _total from a counter family's name; its samples keep it.
            assert {s.name for s in f.samples} <= {name + "_total"}, (name, f.samples[:2])
    # HELP and TYPE lines precede each family's samples and name it as the samples do.
    types = [ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE ")]
    helps = [ln.split()[2] for ln in text.splitlines() if ln.startswith("# HELP ")]
    assert types == helps and len(types) == len(set(types))
    assert all(t.endswith("_total") for t, f in zip(types, fams.values()) if f.type == "counter")

    # The CloudWatch metric behind a family is in its HELP, its unit in the name.
    rec = fams["freshet_kinesis_IncomingRecords"]
    assert rec.type == "counter"
    assert "[CloudWatch AWS/Kinesis IncomingRecords, Count]" in rec.documentation
    [s] = [s for s in rec.samples if s.labels == {"stream": "prom"}]
    assert (s.name, s.value) == ("freshet_kinesis_IncomingRecords_total", sent)
    by = fams["freshet_kinesis_IncomingBytes_bytes"]
    # Data and partition keys, as Kinesis counts IncomingBytes.
    assert [s.value for s in by.samples if s.labels == {"stream": "prom"}] == \
        [5 * sum(10 + len(str(j)) for j in range(20))]
    # A latency histogram in seconds: buckets cumulative, +Inf equal to _count, bounds in s.
    lat = fams["freshet_kinesis_PutRecords_Latency_seconds"]
    assert lat.type == "histogram"
    assert "PutRecords.Latency, Milliseconds" in lat.documentation
    samples = [s for s in lat.samples if s.labels.get("stream") == "prom"]
    buckets = [(s.labels["le"], s.value) for s in samples if s.name.endswith("_bucket")]
    bounds = [float(le) for le, _ in buckets]
    assert bounds == sorted(bounds) and bounds[0] == 0.0001 and bounds[-2] == 10.0
    counts = [v for _, v in buckets]
    assert counts == sorted(counts)
    [count] = [s.value for s in samples if s.name.endswith("_count")]
    [total] = [s.value for s in samples if s.name.endswith("_sum")]
    assert count == 5 and counts[-1] == count
    assert 0 < total < 5 * 10  # seconds: five calls on this machine, each well under 10 s
    # Freshet's own families keep their names, with units as suffixes.
    assert fams["freshet_api_requests"].type == "counter"
    assert fams["freshet_api_request_duration_seconds"].type == "histogram"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_prometheus_server_scrapes_and_a_series_is_queried_back(server, sent):
    port = free_port()
    d = tempfile.mkdtemp(prefix="freshet-prometheus-")
    cfg = f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: freshet
    metrics_path: /metrics
    static_configs: [{{targets: ["127.0.0.1:{server.port}"]}}]
"""
    with open(f"{d}/prometheus.yml", "w") as f:
        f.write(cfg)
    log = open(f"{d}/prometheus.log", "w")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={d}/prometheus.yml",
                             f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{port}",
                             "--storage.tsdb.retention.time=1h"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        def ready():
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=2) as r:
                    return r.status == 200
            except OSError:
                assert proc.poll() is None, open(f"{d}/prometheus.log").read()[-2000:]
                return False
        wait_for(ready, 30, "Prometheus to be ready")

        def target_up():
            t = get_json(base + "/api/v1/targets")["data"]["activeTargets"]
            return t and t[0]["health"] == "up" and t[0]
        t = wait_for(target_up, 30, "the freshet target to be scraped")
        assert t["lastError"] == ""

        def query(q: str):
            r = get_json(base + "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
            assert r["status"] == "success", r
            return r["data"]["result"]
        got = wait_for(lambda: query('freshet_kinesis_IncomingRecords_total{stream="prom"}'), 30,
                       "the series in Prometheus")
        assert float(got[0]["value"][1]) == sent
        assert got[0]["metric"]["job"] == "freshet"
        # A histogram quantile over the latency buckets (seconds) evaluates.
        q = query('histogram_quantile(0.5, sum by (le) (freshet_kinesis_PutRecords_Latency_seconds_bucket{stream="prom"}))')
        assert q and 0 < float(q[0]["value"][1]) <= 10
        # Prometheus found nothing to complain about in the exposition.
        assert query("scrape_samples_scraped") and float(query("scrape_samples_scraped")[0]["value"][1]) > 50
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(d, ignore_errors=True)
