// SubscribeToShard with the AWS SDK for JavaScript v3: subscribes, runs some calls while
// subscribed, collects the events, and prints JSON. Driven by tests/compat/harness.py
// (run_js_subscribe).
//
// stdin:  {"endpoint", "region", "http": "default" (NodeHttp2Handler) | "1.1",
//          "input": SubscribeToShard input ({"$date": ms} for timestamps),
//          "after": [{"op", "input"}]   calls made once the subscription is established,
//          "records": N                 stop after N records ...
//          "untilEnd": bool             ... or only when the server ends the stream,
//          "timeoutMs": ms}
// stdout: {"events": [{"Records": [{"SequenceNumber", "Data": base64, "PartitionKey"}],
//                      "ContinuationSequenceNumber", "MillisBehindLatest", "ChildShards"}],
//          "ended": bool, "error": {"name", "message"} | null, "after": [results],
//          "httpStatusCode": 200}
import * as sdk from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function decode(v) {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === "object") {
    if ("$b64" in v) return new Uint8Array(Buffer.from(v.$b64, "base64"));
    if ("$date" in v) return new Date(v.$date);
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = decode(x);
    return out;
  }
  return v;
}

async function main() {
  const req = await readStdin();
  const client = new sdk.KinesisClient({
    endpoint: req.endpoint,
    region: req.region,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
    ...(req.http === "1.1" ? { requestHandler: new NodeHttpHandler() } : {}),
  });
  const out = { events: [], ended: false, error: null, after: [] };
  const timer = setTimeout(() => {
    process.stdout.write(JSON.stringify({ ...out, timedOut: true }));
    process.exit(0);
  }, req.timeoutMs || 20000);
  let records = 0;
  try {
    const res = await client.send(new sdk.SubscribeToShardCommand(decode(req.input)));
    out.httpStatusCode = res.$metadata.httpStatusCode;
    for (const call of req.after || []) {
      try {
        await client.send(new sdk[call.op + "Command"](decode(call.input)));
        out.after.push({ ok: true });
      } catch (e) {
        out.after.push({ error: { name: e.name, message: e.message } });
      }
    }
    for await (const ev of res.EventStream) {
      const e = ev.SubscribeToShardEvent;
      if (!e) {
        out.events.push({ other: Object.keys(ev) });
        continue;
      }
      out.events.push({
        Records: e.Records.map((r) => ({
          SequenceNumber: r.SequenceNumber,
          Data: Buffer.from(r.Data).toString("base64"),
          PartitionKey: r.PartitionKey,
          ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp.getTime(),
        })),
        ContinuationSequenceNumber: e.ContinuationSequenceNumber ?? null,
        MillisBehindLatest: e.MillisBehindLatest,
        ChildShards: e.ChildShards ?? null,
      });
      records += e.Records.length;
      if (!req.untilEnd && records >= (req.records || 1)) break;
    }
    out.ended = !(!req.untilEnd && records >= (req.records || 1));
  } catch (e) {
    out.error = { name: e.name, message: e.message };
  }
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(out));
  client.destroy();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
