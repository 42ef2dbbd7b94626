"""Firehose delivery streams end to end: boto3 and the AWS CLI v2 put records, the server
buffers them durably and delivers compressed objects to its local buckets, and the tests
read them back through the S3 API, decompress them and compare byte for byte."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import time
import zipfile

import pytest

import harness
from test_s3 import s3_client

ROLE = "arn:aws:iam::000000000000:role/firehose"


def clients(endpoint: str, validate: bool = False):
    """Firehose and S3 clients. Debian's botocore model predates IntervalInSeconds < 60, so
    client-side validation is off unless asked for (the server validates)."""
    import boto3
    import botocore.config
    import botocore.session
    bs = botocore.session.Session()
    bs.set_config_variable("config_file", "/dev/null")
    bs.set_config_variable("credentials_file", "/dev/null")
    session = boto3.session.Session(botocore_session=bs, aws_access_key_id="test",
                                    aws_secret_access_key="test", region_name=harness.REGION)
    cfg = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                 connect_timeout=5, read_timeout=60,
                                 parameter_validation=validate)
    return session.client("firehose", endpoint_url=endpoint, config=cfg), s3_client(endpoint)


@pytest.fixture(scope="module")
def fh_server():
    s = harness.FreshetServer(args=["--durability", "os"])
    s.start()
    yield s
    rc = s.stop()
    s.cleanup()
    assert rc == 0, f"freshet did not exit 0 on SIGTERM (rc={rc})"


def dest(bucket: str, **kw) -> dict:
    d = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}",
         "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}}
    d.update(kw)
    return d


def wait_objects(s3, bucket: str, prefix: str = "", count: int = 1, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        r = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        objs = r.get("Contents", [])
        if len(objs) >= count or time.monotonic() > deadline:
            return objs
        time.sleep(0.1)


def _crc32c(data: bytes) -> int:
    table = _crc32c.table
    if table is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
        _crc32c.table = table
    c = 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


_crc32c.table = None


def snappy_framed_decompress(data: bytes) -> bytes:
    """The Snappy framing format, checked chunk by chunk (Debian's python3-snappy cannot
    compute its CRC32C on Python 3.11, so the framing is read here; chunks use snappy)."""
    import snappy
    import struct
    assert data[:10] == b"\xff\x06\x00\x00sNaPpY", data[:10]
    out, pos = [], 10
    while pos < len(data):
        kind = data[pos]
        length = int.from_bytes(data[pos + 1:pos + 4], "little")
        crc = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 4 + length]
        chunk = snappy.uncompress(body) if kind == 0 else body
        assert kind in (0, 1), kind
        c = _crc32c(chunk)
        assert ((((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF) == crc
        out.append(chunk)
        pos += 4 + length
    return b"".join(out)


def decompress(fmt: str, data: bytes) -> bytes:
    if fmt == "UNCOMPRESSED":
        return data
    if fmt == "GZIP":
        return gzip.decompress(data)
    if fmt == "ZIP":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            assert len(names) == 1
            return z.read(names[0])
    if fmt == "Snappy":
        return snappy_framed_decompress(data)
    if fmt == "HADOOP_SNAPPY":
        import snappy.hadoop_snappy as hs
        out = io.BytesIO()
        hs.stream_decompress(io.BytesIO(data), out)
        return out.getvalue()
    if fmt == "ZSTD":
        import zstandard
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD"])
def test_every_compression_round_trips(fh_server, fmt):
    fh, s3 = clients(fh_server.endpoint)
    bucket = f"fh-{fmt.lower().replace('_', '-')}"
    s3.create_bucket(Bucket=bucket)
    name = f"comp-{fmt}"
    fh.create_delivery_stream(DeliveryStreamName=name, DeliveryStreamType="DirectPut",
                              ExtendedS3DestinationConfiguration=dest(
                                  bucket, CompressionFormat=fmt, Prefix="in/"))
    records = [json.dumps({"i": i, "pad": "x" * (i % 50)}).encode() + b"\n" for i in range(1200)]
    for k in range(0, len(records), 500):
        r = fh.put_record_batch(DeliveryStreamName=name,
                                Records=[{"Data": d} for d in records[k:k + 500]])
        assert r["FailedPutCount"] == 0
        assert all("RecordId" in e for e in r["RequestResponses"])
    objs = wait_objects(s3, bucket, "in/")
    assert objs, "nothing delivered"
    ext = {"UNCOMPRESSED": "", "GZIP": ".gz", "ZIP": ".zip", "Snappy": ".snappy",
           "HADOOP_SNAPPY": ".hsnappy", "ZSTD": ".zst"}[fmt]
    pat = re.compile(r"^in/\d{4}/\d{2}/\d{2}/\d{2}/" + re.escape(name) +
                     r"-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}" + re.escape(ext) + "$")
    got = b""
    # Objects in key order hold the records in order (one batch per object here).
    time.sleep(1.5)
    for o in sorted(s3.list_objects_v2(Bucket=bucket, Prefix="in/")["Contents"],
                    key=lambda o: o["Key"]):
        assert pat.match(o["Key"]), o["Key"]
        got += decompress(fmt, s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
    assert sorted(got.splitlines()) == sorted(r.rstrip(b"\n") for r in records)
    assert len(got) == sum(len(r) for r in records)


def test_describe_list_tags_update_and_errors(fh_server):
    import botocore.exceptions as bex
    fh, s3 = clients(fh_server.endpoint)
    fhr = fh
    s3.create_bucket(Bucket="fh-describe")
    fh.create_delivery_stream(DeliveryStreamName="desc-1",
                              S3DestinationConfiguration=dest("fh-describe"),
                              Tags=[{"Key": "team", "Value": "data"}])
    d = fh.describe_delivery_stream(DeliveryStreamName="desc-1")["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE"
    assert d["DeliveryStreamType"] == "DirectPut"
    assert d["VersionId"] == "1"
    assert d["HasMoreDestinations"] is False
    s3d = d["Destinations"][0]["S3DestinationDescription"]
    assert s3d["CompressionFormat"] == "UNCOMPRESSED"
    assert s3d["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
    assert s3d["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 1}
    with pytest.raises(bex.ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName="desc-1",
                                  S3DestinationConfiguration=dest("fh-describe"))
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"
    names = fh.list_delivery_streams(Limit=100)["DeliveryStreamNames"]
    assert "desc-1" in names
    assert fh.list_tags_for_delivery_stream(DeliveryStreamName="desc-1")["Tags"] == [
        {"Key": "team", "Value": "data"}]
    fh.tag_delivery_stream(DeliveryStreamName="desc-1", Tags=[{"Key": "env", "Value": "t"}])
    fh.untag_delivery_stream(DeliveryStreamName="desc-1", TagKeys=["team"])
    assert fh.list_tags_for_delivery_stream(DeliveryStreamName="desc-1")["Tags"] == [
        {"Key": "env", "Value": "t"}]
    fh.start_delivery_stream_encryption(
        DeliveryStreamName="desc-1",
        DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"})
    d = fh.describe_delivery_stream(DeliveryStreamName="desc-1")["DeliveryStreamDescription"]
    assert d["DeliveryStreamEncryptionConfiguration"]["Status"] == "ENABLED"
    fh.stop_delivery_stream_encryption(DeliveryStreamName="desc-1")

    with pytest.raises(bex.ClientError) as e:
        fh.update_destination(DeliveryStreamName="desc-1", CurrentDeliveryStreamVersionId="7",
                              DestinationId="destinationId-000000000001",
                              S3DestinationUpdate={"Prefix": "x/"})
    assert e.value.response["Error"]["Code"] == "ConcurrentModificationException"
    fh.update_destination(DeliveryStreamName="desc-1", CurrentDeliveryStreamVersionId="1",
                          DestinationId="destinationId-000000000001",
                          S3DestinationUpdate={"Prefix": "updated/"})
    d = fh.describe_delivery_stream(DeliveryStreamName="desc-1")["DeliveryStreamDescription"]
    assert d["VersionId"] == "2"
    assert d["Destinations"][0]["S3DestinationDescription"]["Prefix"] == "updated/"

    def code(call, **kw):
        with pytest.raises(bex.ClientError) as ei:
            call(**kw)
        return ei.value.response["Error"]["Code"], ei.value.response["Error"]["Message"]

    assert code(fh.put_record, DeliveryStreamName="missing", Record={"Data": b"x"})[0] == \
        "ResourceNotFoundException"
    assert code(fhr.put_record_batch, DeliveryStreamName="desc-1",
                Records=[{"Data": b"x"}] * 501)[0] == "ValidationException"
    c, m = code(fhr.put_record_batch, DeliveryStreamName="desc-1",
                Records=[{"Data": b"x" * 1_000_000}] * 5)
    assert c == "InvalidArgumentException" and "4 MB" in m
    assert code(fhr.put_record, DeliveryStreamName="desc-1",
                Record={"Data": b"x" * 1_024_001})[0] == "ValidationException"
    assert code(fhr.create_delivery_stream, DeliveryStreamName="bad-hints",
                S3DestinationConfiguration=dest("b", BufferingHints={"SizeInMBs": 129}))[0] == \
        "ValidationException"
    assert code(fhr.create_delivery_stream, DeliveryStreamName="bad name!",
                S3DestinationConfiguration=dest("b"))[0] == "ValidationException"
    c, m = code(fh.create_delivery_stream, DeliveryStreamName="expr-no-error-prefix",
                ExtendedS3DestinationConfiguration=dest("b", Prefix="!{timestamp:yyyy}/"))
    assert c == "InvalidArgumentException" and "ErrorOutputPrefix" in m
    assert code(fh.create_delivery_stream, DeliveryStreamName="bad-expr",
                ExtendedS3DestinationConfiguration=dest(
                    "b", Prefix="!{nope:x}/", ErrorOutputPrefix="e/"))[0] == \
        "InvalidArgumentException"
    fh.delete_delivery_stream(DeliveryStreamName="desc-1")
    deadline = time.monotonic() + 10
    while "desc-1" in fh.list_delivery_streams(Limit=100)["DeliveryStreamNames"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert code(fh.describe_delivery_stream, DeliveryStreamName="desc-1")[0] == \
        "ResourceNotFoundException"


def test_prefix_expressions_and_dynamic_partitioning(fh_server):
    fh, s3 = clients(fh_server.endpoint)
    s3.create_bucket(Bucket="fh-prefix")
    fh.create_delivery_stream(
        DeliveryStreamName="prefixed",
        ExtendedS3DestinationConfiguration=dest(
            "fh-prefix", Prefix="year=!{timestamp:yyyy}/r=!{firehose:random-string}/",
            ErrorOutputPrefix="errors/!{firehose:error-output-type}/"))
    fh.put_record(DeliveryStreamName="prefixed", Record={"Data": b"hello"})
    objs = wait_objects(s3, "fh-prefix", "year=")
    assert len(objs) == 1
    assert re.match(r"^year=\d{4}/r=[a-z0-9]{11}/prefixed-1-", objs[0]["Key"]), objs[0]["Key"]

    s3.create_bucket(Bucket="fh-dynamic")
    fh.create_delivery_stream(
        DeliveryStreamName="dynamic",
        ExtendedS3DestinationConfiguration=dest(
            "fh-dynamic", Prefix="customer=!{partitionKeyFromQuery:customer}/",
            ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
            BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 1},
            DynamicPartitioningConfiguration={"Enabled": True,
                                              "RetryOptions": {"DurationInSeconds": 10}},
            ProcessingConfiguration={"Enabled": True, "Processors": [
                {"Type": "MetadataExtraction", "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery",
                     "ParameterValue": "{customer: .customer.id}"},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]},
                {"Type": "AppendDelimiterToRecord", "Parameters": []}]}))
    recs = [{"customer": {"id": c}, "n": i} for i, c in enumerate(["a", "b", "a", "c"])]
    fh.put_record_batch(DeliveryStreamName="dynamic",
                        Records=[{"Data": json.dumps(r).encode()} for r in recs] +
                        [{"Data": b"not json"}])
    objs = wait_objects(s3, "fh-dynamic", count=4)
    by_dir = {}
    for o in objs:
        by_dir.setdefault(o["Key"].split("/")[0], []).append(o["Key"])
    assert sorted(by_dir) == ["customer=a", "customer=b", "customer=c", "errors"]
    body = s3.get_object(Bucket="fh-dynamic", Key=by_dir["customer=a"][0])["Body"].read()
    assert body == (json.dumps(recs[0]) + "\n" + json.dumps(recs[2]) + "\n").encode()
    err_key = by_dir["errors"][0]
    assert err_key.startswith("errors/partitioning-failed/")
    err = json.loads(s3.get_object(Bucket="fh-dynamic", Key=err_key)["Body"].read())
    assert err["rawData"] == "bm90IGpzb24="


def test_aws_cli_firehose(fh_server, tmp_path):
    def aws(*args):
        cmd = [harness.AWS_CLI, "--endpoint-url", fh_server.endpoint, "--region", harness.REGION,
               "--output", "json", "--no-cli-pager", *args]
        p = subprocess.run(cmd, env=harness.client_env(), capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout) if p.stdout.lstrip().startswith("{") else p.stdout
    aws("s3api", "create-bucket", "--bucket", "fh-cli")
    # The CLI's model (2.9) wants IntervalInSeconds >= 60: created with 60 here, then made
    # quicker through boto3's UpdateDestination (the current model allows 0).
    cfg = json.dumps(dest("fh-cli", CompressionFormat="GZIP", Prefix="cli/",
                          BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60}))
    arn = aws("firehose", "create-delivery-stream", "--delivery-stream-name", "cli-stream",
              "--extended-s3-destination-configuration", cfg)["DeliveryStreamARN"]
    assert arn.endswith(":deliverystream/cli-stream")
    fh, _ = clients(fh_server.endpoint)
    fh.update_destination(DeliveryStreamName="cli-stream", CurrentDeliveryStreamVersionId="1",
                          DestinationId="destinationId-000000000001",
                          ExtendedS3DestinationUpdate={"BufferingHints": {
                              "SizeInMBs": 1, "IntervalInSeconds": 1}})
    assert "cli-stream" in aws("firehose", "list-delivery-streams")["DeliveryStreamNames"]
    rid = aws("firehose", "put-record", "--delivery-stream-name", "cli-stream",
              "--cli-binary-format", "raw-in-base64-out", "--record", "Data=from-the-cli")
    assert rid["RecordId"]
    desc = aws("firehose", "describe-delivery-stream", "--delivery-stream-name", "cli-stream")
    assert desc["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"
    _, s3 = clients(fh_server.endpoint)
    objs = wait_objects(s3, "fh-cli", "cli/")
    assert objs
    out = tmp_path / "obj.gz"
    aws("s3", "cp", f"s3://fh-cli/{objs[0]['Key']}", str(out))
    assert gzip.decompress(out.read_bytes()) == b"from-the-cli"


def test_kill9_between_put_and_delivery(tmp_path):
    s = harness.FreshetServer()  # fsync durability
    s.start()
    try:
        fh, s3 = clients(s.endpoint)
        s3.create_bucket(Bucket="fh-crash")
        fh.create_delivery_stream(
            DeliveryStreamName="crashy",
            ExtendedS3DestinationConfiguration=dest(
                "fh-crash", CompressionFormat="GZIP",
                BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 900}))
        records = [f"record-{i:05d}\n".encode() for i in range(2000)]
        for k in range(0, len(records), 500):
            assert fh.put_record_batch(DeliveryStreamName="crashy", Records=[
                {"Data": d} for d in records[k:k + 500]])["FailedPutCount"] == 0
        time.sleep(0.3)
        assert s3.list_objects_v2(Bucket="fh-crash").get("KeyCount", 0) == 0
        s.kill9()
        s.start()
        fh, s3 = clients(s.endpoint)
        # Deleting a stream delivers what it buffered first.
        fh.delete_delivery_stream(DeliveryStreamName="crashy")
        objs = wait_objects(s3, "fh-crash")
        assert len(objs) == 1
        body = gzip.decompress(s3.get_object(Bucket="fh-crash", Key=objs[0]["Key"])["Body"].read())
        assert body == b"".join(records)
    finally:
        s.cleanup()


def test_destination_down_then_up(fh_server):
    fh, s3 = clients(fh_server.endpoint)
    fh.create_delivery_stream(DeliveryStreamName="late-bucket",
                              ExtendedS3DestinationConfiguration=dest("fh-late"))
    fh.put_record(DeliveryStreamName="late-bucket", Record={"Data": b"waited"})
    time.sleep(1.5)  # delivery fails: the bucket does not exist yet
    s3.create_bucket(Bucket="fh-late")
    objs = wait_objects(s3, "fh-late", timeout=30)
    assert len(objs) == 1
    assert s3.get_object(Bucket="fh-late", Key=objs[0]["Key"])["Body"].read() == b"waited"


def test_kinesis_stream_as_source(tmp_path):
    import botocore.exceptions as bex
    s = harness.FreshetServer()
    s.start()
    try:
        kin = s.boto3()
        fh, s3 = clients(s.endpoint)
        s3.create_bucket(Bucket="fh-from-kinesis")
        kin.create_stream(StreamName="clicks", ShardCount=2)
        harness.wait_active(kin, "clicks")
        first = [f"click-{i:04d}".encode() for i in range(300)]
        kin.put_records(StreamName="clicks", Records=[
            {"Data": d, "PartitionKey": f"pk{i}"} for i, d in enumerate(first)])
        fh.create_delivery_stream(
            DeliveryStreamName="from-clicks", DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={
                "KinesisStreamARN": harness.stream_arn("clicks"), "RoleARN": ROLE},
            ExtendedS3DestinationConfiguration=dest(
                "fh-from-kinesis", ProcessingConfiguration={"Enabled": True, "Processors": [
                    {"Type": "AppendDelimiterToRecord", "Parameters": []}]}))
        d = fh.describe_delivery_stream(DeliveryStreamName="from-clicks")
        src = d["DeliveryStreamDescription"]["Source"]["KinesisStreamSourceDescription"]
        assert src["KinesisStreamARN"] == harness.stream_arn("clicks")
        with pytest.raises(bex.ClientError) as e:
            fh.put_record(DeliveryStreamName="from-clicks", Record={"Data": b"x"})
        assert e.value.response["Error"]["Code"] == "InvalidArgumentException"
        with pytest.raises(bex.ClientError) as e:
            fh.create_delivery_stream(
                DeliveryStreamName="from-nothing", DeliveryStreamType="KinesisStreamAsSource",
                KinesisStreamSourceConfiguration={
                    "KinesisStreamARN": harness.stream_arn("nothing"), "RoleARN": ROLE},
                ExtendedS3DestinationConfiguration=dest("fh-from-kinesis"))
        assert e.value.response["Error"]["Code"] == "InvalidArgumentException"

        def lines():
            out = []
            for o in s3.list_objects_v2(Bucket="fh-from-kinesis").get("Contents", []):
                out += s3.get_object(Bucket="fh-from-kinesis", Key=o["Key"])["Body"].read() \
                    .splitlines()
            return out

        deadline = time.monotonic() + 20
        while len(lines()) < 300 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(lines()) == sorted(first)
        # Restart hard; the checkpoint keeps what was delivered from being delivered again.
        s.kill9()
        s.start()
        kin = s.boto3()
        fh, s3 = clients(s.endpoint)
        second = [f"later-{i:04d}".encode() for i in range(100)]
        kin.put_records(StreamName="clicks", Records=[
            {"Data": d, "PartitionKey": f"q{i}"} for i, d in enumerate(second)])
        deadline = time.monotonic() + 20
        while len(lines()) < 400 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)
        assert sorted(lines()) == sorted(first + second)
        metrics = harness.http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        metrics.request("GET", "/metrics")
        text = metrics.getresponse().read().decode()
        assert "freshet_firehose_DataReadFromKinesisStream_Records" in text
        assert "freshet_firehose_KinesisMillisBehindLatest" in text
    finally:
        s.cleanup()


def test_creating_state_refuses_records_and_deletion(slow_server):
    """With --state-delay-ms 1500 a new delivery stream is CREATING: PutRecord answers
    ResourceNotFoundException and DeleteDeliveryStream ResourceInUseException (AWS: "You can't
    delete a Firehose stream that is in the CREATING state"), then it turns ACTIVE."""
    from botocore.exceptions import ClientError
    fh, s3 = clients(slow_server.endpoint)
    s3.create_bucket(Bucket="creating")
    fh.create_delivery_stream(DeliveryStreamName="creating-1",
                              ExtendedS3DestinationConfiguration=dest("creating"))
    d = fh.describe_delivery_stream(DeliveryStreamName="creating-1")["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "CREATING"
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName="creating-1", Record={"Data": b"x"})
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        fh.delete_delivery_stream(DeliveryStreamName="creating-1")
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        d = fh.describe_delivery_stream(DeliveryStreamName="creating-1")
        if d["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    assert d["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"
    fh.put_record(DeliveryStreamName="creating-1", Record={"Data": b"x"})
