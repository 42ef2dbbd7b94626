// Performs a list of Kinesis calls with the AWS SDK for JavaScript v3 and prints the results
// as JSON. Driven by tests/compat/harness.py (run_js).
//
// stdin:  {"endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
//          "calls": [{"op": "PutRecord", "input": {...}},
//                    {"waiter": "StreamExists", "input": {...}, "maxWaitTime": 20}, ...]}
// Input encodings: {"$b64": "..."} -> Uint8Array, {"$date": epochMs} -> Date,
//                  {"$ref": [callIndex, "Member", 0, ...]} -> a value from an earlier output.
// stdout: [{"ok": output} | {"error": {"name", "message", "httpStatusCode", "fault"}}, ...]
//         with Uint8Array as {"$b64"} and Date as {"$date": epochMs}; $metadata is dropped
//         except httpStatusCode.
// "http": "1.1" in the request selects NodeHttpHandler (HTTP/1.1); by default the client keeps
// its own default handler, which for Kinesis is NodeHttp2Handler (HTTP/2, h2c on http://).
import * as sdk from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

function decodeInput(v, results) {
  if (Array.isArray(v)) return v.map((x) => decodeInput(x, results));
  if (v && typeof v === "object") {
    if ("$b64" in v) return new Uint8Array(Buffer.from(v.$b64, "base64"));
    if ("$date" in v) return new Date(v.$date);
    if ("$ref" in v) {
      const [index, ...path] = v.$ref;
      let cur = results[index] && results[index].ok;
      for (const p of path) cur = cur == null ? undefined : cur[p];
      return cur;
    }
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = decodeInput(x, results);
    return out;
  }
  return v;
}

function encodeOutput(v) {
  if (v instanceof Uint8Array) return { $b64: Buffer.from(v).toString("base64") };
  if (v instanceof Date) return { $date: v.getTime() };
  if (Array.isArray(v)) return v.map(encodeOutput);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "$metadata") continue;
      out[k] = encodeOutput(x);
    }
    return out;
  }
  return v;
}

async function main() {
  const req = JSON.parse(await readStdin());
  const client = new sdk.KinesisClient({
    endpoint: req.endpoint,
    region: req.region,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
    ...(req.http === "1.1"
      ? { requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 30000 }) }
      : {}),
  });
  const results = [];
  for (const call of req.calls) {
    const input = decodeInput(call.input || {}, results);
    try {
      if (call.waiter) {
        const fn = sdk["waitUntil" + call.waiter];
        if (!fn) throw new Error("no such waiter: " + call.waiter);
        const r = await fn(
          { client, maxWaitTime: call.maxWaitTime || 20, minDelay: 1, maxDelay: 2 },
          input,
        );
        results.push({ ok: { state: r.state, reason: encodeOutput(r.reason) } });
        continue;
      }
      const Cmd = sdk[call.op + "Command"];
      if (!Cmd) throw new Error("no such command: " + call.op);
      const out = await client.send(new Cmd(input));
      const enc = encodeOutput(out);
      enc.$httpStatusCode = out.$metadata && out.$metadata.httpStatusCode;
      results.push({ ok: enc });
    } catch (e) {
      results.push({
        error: {
          name: e.name,
          message: e.message,
          httpStatusCode: e.$metadata ? e.$metadata.httpStatusCode : undefined,
          fault: e.$fault,
        },
      });
    }
  }
  process.stdout.write(JSON.stringify(results));
  client.destroy();
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
