// The AWS SDK for JavaScript v3 against Freshet's S3 and Firehose APIs (driven by
// tests/compat/test_js_s3_firehose.py). stdin: {"endpoint", "region"}; stdout: a JSON object
// of observations the test checks. Exits non-zero on an unexpected error.
import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import * as s3sdk from "@aws-sdk/client-s3";
import * as fhsdk from "@aws-sdk/client-firehose";
import { NodeHttpHandler } from "@smithy/node-http-handler";

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const req = await readStdin();
const common = {
  endpoint: req.endpoint,
  region: req.region,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler(),
};
const s3 = new s3sdk.S3Client({ ...common, forcePathStyle: true });
const fh = new fhsdk.FirehoseClient(common);
const out = {};

await s3.send(new s3sdk.CreateBucketCommand({ Bucket: "js-bucket" }));
// A buffer body, and a stream body of unknown length (the SDK sends it aws-chunked with a
// trailing checksum).
const payload = Buffer.alloc(300000);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) % 251;
await s3.send(new s3sdk.PutObjectCommand({ Bucket: "js-bucket", Key: "buffer.bin", Body: payload }));
const streamed = Readable.from([payload.subarray(0, 100000), payload.subarray(100000)]);
await s3.send(new s3sdk.PutObjectCommand({
  Bucket: "js-bucket", Key: "stream.bin", Body: streamed, ContentLength: payload.length,
  ChecksumAlgorithm: "CRC32",
}));
for (const key of ["buffer.bin", "stream.bin"]) {
  const got = await s3.send(new s3sdk.GetObjectCommand({ Bucket: "js-bucket", Key: key }));
  const bytes = Buffer.from(await got.Body.transformToByteArray());
  out[key] = bytes.equals(payload);
}
const range = await s3.send(new s3sdk.GetObjectCommand({
  Bucket: "js-bucket", Key: "buffer.bin", Range: "bytes=5-9" }));
out.range = Buffer.from(await range.Body.transformToByteArray()).equals(payload.subarray(5, 10));
const listed = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: "js-bucket" }));
out.keys = (listed.Contents || []).map((o) => o.Key);
try {
  await s3.send(new s3sdk.GetObjectCommand({ Bucket: "js-bucket", Key: "missing" }));
  out.missing = "no error";
} catch (e) {
  out.missing = e.name;
}

// Firehose: put, wait for the GZIP object, read it back through S3.
await fh.send(new fhsdk.CreateDeliveryStreamCommand({
  DeliveryStreamName: "js-stream",
  DeliveryStreamType: "DirectPut",
  ExtendedS3DestinationConfiguration: {
    RoleARN: "arn:aws:iam::000000000000:role/r",
    BucketARN: "arn:aws:s3:::js-bucket",
    Prefix: "fh/",
    CompressionFormat: "GZIP",
    BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
  },
}));
const records = [];
for (let i = 0; i < 250; i++) records.push(Buffer.from(`js-record-${i}\n`));
const put = await fh.send(new fhsdk.PutRecordBatchCommand({
  DeliveryStreamName: "js-stream", Records: records.map((r) => ({ Data: r })) }));
out.failedPutCount = put.FailedPutCount;
out.recordIds = put.RequestResponses.filter((r) => r.RecordId).length;
const deadline = Date.now() + 20000;
let delivered = [];
while (Date.now() < deadline) {
  const l = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: "js-bucket", Prefix: "fh/" }));
  delivered = l.Contents || [];
  if (delivered.length > 0) break;
  await new Promise((r) => setTimeout(r, 200));
}
out.deliveredObjects = delivered.length;
if (delivered.length > 0) {
  const got = await s3.send(new s3sdk.GetObjectCommand({ Bucket: "js-bucket", Key: delivered[0].Key }));
  const body = gunzipSync(Buffer.from(await got.Body.transformToByteArray()));
  out.deliveredEqual = body.equals(Buffer.concat(records));
  out.deliveredKey = delivered[0].Key;
}
const desc = await fh.send(new fhsdk.DescribeDeliveryStreamCommand({ DeliveryStreamName: "js-stream" }));
out.status = desc.DeliveryStreamDescription.DeliveryStreamStatus;
process.stdout.write(JSON.stringify(out));
