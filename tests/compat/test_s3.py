"""S3 REST API over the local buckets, driven by boto3 and the AWS CLI v2 (`aws s3`,
`aws s3api`). The server is started by these tests on 127.0.0.1 port 0."""

from __future__ import annotations

import hashlib
import http.client
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

import harness


@pytest.fixture(scope="module")
def s3_server():
    s = harness.FreshetServer(args=["--durability", "os"])
    s.start()
    yield s
    rc = s.stop()
    s.cleanup()
    assert rc == 0, f"freshet did not exit 0 on SIGTERM (rc={rc})"


def s3_client(endpoint: str, **cfg_extra):
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
                                 s3={"addressing_style": "path"}, **cfg_extra)
    return session.client("s3", endpoint_url=endpoint, config=cfg)


@pytest.fixture(scope="module")
def s3(s3_server):
    return s3_client(s3_server.endpoint)


def aws(server, *args, check=True, timeout=120):
    cmd = [harness.AWS_CLI, "--endpoint-url", server.endpoint, "--region", harness.REGION,
           "--no-cli-pager", *args]
    proc = subprocess.run(cmd, env=harness.client_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed rc={proc.returncode}\n"
                             f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_boto3_buckets_and_objects(s3):
    import botocore.exceptions as bex
    s3.create_bucket(Bucket="compat-one")
    with pytest.raises(bex.ClientError) as e:
        s3.create_bucket(Bucket="compat-one")
    assert error_code(e) == "BucketAlreadyOwnedByYou"
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "compat-one" in names
    s3.head_bucket(Bucket="compat-one")

    body = os.urandom(100_000)
    put = s3.put_object(Bucket="compat-one", Key="dir/a b+c.bin", Body=body,
                        ContentType="application/x-test", Metadata={"color": "blue"})
    assert put["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    got = s3.get_object(Bucket="compat-one", Key="dir/a b+c.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"color": "blue"}
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket="compat-one", Key="dir/a b+c.bin")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]

    part = s3.get_object(Bucket="compat-one", Key="dir/a b+c.bin", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    with pytest.raises(bex.ClientError) as e:
        s3.get_object(Bucket="compat-one", Key="dir/a b+c.bin", Range=f"bytes={len(body)}-")
    assert error_code(e) == "InvalidRange"
    with pytest.raises(bex.ClientError) as e:
        s3.get_object(Bucket="compat-one", Key="dir/a b+c.bin", IfNoneMatch=put["ETag"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(bex.ClientError) as e:
        s3.get_object(Bucket="compat-one", Key="dir/a b+c.bin", IfMatch='"0000"')
    assert error_code(e) == "PreconditionFailed"

    with pytest.raises(bex.ClientError) as e:
        s3.get_object(Bucket="compat-one", Key="missing")
    assert error_code(e) == "NoSuchKey"
    with pytest.raises(bex.ClientError) as e:
        s3.get_object(Bucket="no-such-bucket-x", Key="k")
    assert error_code(e) == "NoSuchBucket"
    with pytest.raises(bex.ClientError) as e:
        s3.head_object(Bucket="compat-one", Key="missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    s3.copy_object(Bucket="compat-one", Key="copy.bin",
                   CopySource={"Bucket": "compat-one", "Key": "dir/a b+c.bin"})
    assert s3.get_object(Bucket="compat-one", Key="copy.bin")["Body"].read() == body

    with pytest.raises(bex.ClientError) as e:
        s3.delete_bucket(Bucket="compat-one")
    assert error_code(e) == "BucketNotEmpty"
    res = s3.delete_objects(Bucket="compat-one", Delete={"Objects": [
        {"Key": "dir/a b+c.bin"}, {"Key": "copy.bin"}, {"Key": "never-existed"}]})
    assert sorted(d["Key"] for d in res["Deleted"]) == ["copy.bin", "dir/a b+c.bin",
                                                         "never-existed"]
    s3.delete_object(Bucket="compat-one", Key="never-existed")
    s3.delete_bucket(Bucket="compat-one")
    with pytest.raises(bex.ClientError) as e:
        s3.head_bucket(Bucket="compat-one")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_boto3_list_objects_v2_paging(s3):
    s3.create_bucket(Bucket="compat-list")
    keys = [f"p/{i:03d}" for i in range(25)] + ["q/x", "q/y/z", "top"]
    for k in keys:
        s3.put_object(Bucket="compat-list", Key=k, Body=k.encode())
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="compat-list", PaginationConfig={"PageSize": 7}):
        assert page["KeyCount"] <= 7
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(keys)
    r = s3.list_objects_v2(Bucket="compat-list", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["p/", "q/"]
    assert [o["Key"] for o in r["Contents"]] == ["top"]
    r = s3.list_objects_v2(Bucket="compat-list", Prefix="q/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["q/x"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["q/y/"]
    r = s3.list_objects_v2(Bucket="compat-list", StartAfter="p/020", MaxKeys=3)
    assert [o["Key"] for o in r["Contents"]] == ["p/021", "p/022", "p/023"]
    assert r["IsTruncated"] is True
    r = s3.list_objects(Bucket="compat-list", Prefix="p/", MaxKeys=5)
    assert len(r["Contents"]) == 5 and r["IsTruncated"] is True


def test_boto3_multipart_and_checksums(s3, tmp_path):
    import boto3.s3.transfer as tr
    s3.create_bucket(Bucket="compat-mp")
    data = os.urandom(13 * 1024 * 1024 + 17)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    cfg = tr.TransferConfig(multipart_threshold=5 * 1024 * 1024,
                            multipart_chunksize=5 * 1024 * 1024, max_concurrency=2)
    s3.upload_file(str(src), "compat-mp", "big.bin", Config=cfg)
    head = s3.head_object(Bucket="compat-mp", Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    dst = tmp_path / "back.bin"
    s3.download_file("compat-mp", "big.bin", str(dst), Config=cfg)
    assert dst.read_bytes() == data

    # Explicit checksums in every algorithm boto3 computes without extra packages.
    for alg in ("CRC32", "CRC32C", "SHA1", "SHA256"):
        s3.put_object(Bucket="compat-mp", Key=f"sum-{alg}", Body=b"x" * 1000,
                      ChecksumAlgorithm=alg)
        assert s3.get_object(Bucket="compat-mp", Key=f"sum-{alg}")["Body"].read() == b"x" * 1000

    # Abort and list parts.
    up = s3.create_multipart_upload(Bucket="compat-mp", Key="aborted")
    s3.upload_part(Bucket="compat-mp", Key="aborted", UploadId=up["UploadId"], PartNumber=1,
                   Body=b"abc")
    parts = s3.list_parts(Bucket="compat-mp", Key="aborted", UploadId=up["UploadId"])
    assert [p["PartNumber"] for p in parts["Parts"]] == [1]
    s3.abort_multipart_upload(Bucket="compat-mp", Key="aborted", UploadId=up["UploadId"])
    import botocore.exceptions as bex
    with pytest.raises(bex.ClientError) as e:
        s3.list_parts(Bucket="compat-mp", Key="aborted", UploadId=up["UploadId"])
    assert error_code(e) == "NoSuchUpload"


def test_raw_chunked_bad_checksum_rejected(s3_server, s3):
    s3.create_bucket(Bucket="compat-raw")
    body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    conn = http.client.HTTPConnection("127.0.0.1", s3_server.port, timeout=10)
    conn.request("PUT", "/compat-raw/k", body=body, headers={
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "5",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-trailer": "x-amz-checksum-crc32"})
    r = conn.getresponse()
    text = r.read().decode()
    assert r.status == 400 and "<Code>BadDigest</Code>" in text
    # Virtual-hosted style through the Host header.
    conn.request("PUT", "/vk", body=b"virtual", headers={"Host": f"compat-raw.localhost:{s3_server.port}"})
    assert conn.getresponse().read() == b"" or True
    assert s3.get_object(Bucket="compat-raw", Key="vk")["Body"].read() == b"virtual"
    conn.close()


def test_aws_cli_s3_cp_ls_sync(s3_server, tmp_path):
    aws(s3_server, "s3", "mb", "s3://compat-cli")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(20_000),
             "big.bin": os.urandom(9 * 1024 * 1024 + 3)}  # over the CLI's 8 MiB multipart threshold
    for name, data in files.items():
        (src / name).write_bytes(data)
    aws(s3_server, "s3", "cp", str(src / "a.txt"), "s3://compat-cli/one/a.txt")
    out = aws(s3_server, "s3", "ls", "s3://compat-cli/one/").stdout
    assert "a.txt" in out
    aws(s3_server, "s3", "sync", str(src), "s3://compat-cli/tree")
    listing = aws(s3_server, "s3", "ls", "--recursive", "s3://compat-cli/tree/").stdout
    for name in files:
        assert f"tree/{name}" in listing
    dst = tmp_path / "dst"
    aws(s3_server, "s3", "sync", "s3://compat-cli/tree", str(dst))
    for name, data in files.items():
        assert (dst / name).read_bytes() == data, name
    # A second sync copies nothing.
    again = aws(s3_server, "s3", "sync", str(src), "s3://compat-cli/tree").stdout
    assert "upload:" not in again
    aws(s3_server, "s3", "cp", "s3://compat-cli/tree/big.bin", str(tmp_path / "big.back"))
    assert (tmp_path / "big.back").read_bytes() == files["big.bin"]
    buckets = aws(s3_server, "s3", "ls").stdout
    assert "compat-cli" in buckets
    head = aws(s3_server, "s3api", "head-object", "--bucket", "compat-cli", "--key",
               "tree/a.txt").stdout
    assert '"ContentLength": 6' in head
    missing = aws(s3_server, "s3api", "get-object", "--bucket", "compat-cli", "--key", "nope",
                  str(tmp_path / "x"), check=False)
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
    aws(s3_server, "s3", "rb", "--force", "s3://compat-cli")
    assert "compat-cli" not in aws(s3_server, "s3", "ls").stdout


def test_objects_survive_kill9(tmp_path):
    s = harness.FreshetServer()
    s.start()
    try:
        c = s3_client(s.endpoint)
        c.create_bucket(Bucket="compat-durable")
        data = os.urandom(50_000)
        c.put_object(Bucket="compat-durable", Key="k", Body=data)
        s.kill9()
        s.start()
        c = s3_client(s.endpoint)
        assert c.get_object(Bucket="compat-durable", Key="k")["Body"].read() == data
    finally:
        s.cleanup()
