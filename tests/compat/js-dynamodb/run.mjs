// Performs a list of DynamoDB calls with the AWS SDK for JavaScript v3 DynamoDBDocumentClient
// (@aws-sdk/lib-dynamodb) and prints the results as JSON. Driven by
// tests/compat/dynamodb_harness.py (js).
//
// stdin:  {"endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
//          "calls": [{"op": "Put", "input": {...}}, {"client": "CreateTable", "input": {...}}]}
// "op" names a DynamoDBDocumentClient command (Put, Get, Update, Delete, Query, Scan,
// BatchWrite, BatchGet, TransactWrite, TransactGet); "client" a low-level DynamoDBClient
// command. Numbers in inputs are plain JSON numbers; {"$set": [...]} becomes a JS Set.
// stdout: [{"ok": output} | {"error": {"name", "message", "httpStatusCode"}}, ...] with Sets
//         as {"$set": [...]} and Uint8Array as {"$b64": "..."}.
import * as ddb from "@aws-sdk/client-dynamodb";
import * as lib from "@aws-sdk/lib-dynamodb";

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

function decode(v) {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === "object") {
    if ("$set" in v) return new Set(v.$set.map(decode));
    if ("$b64" in v) return new Uint8Array(Buffer.from(v.$b64, "base64"));
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = decode(x);
    return out;
  }
  return v;
}

function encode(v) {
  if (v instanceof Set) return { $set: [...v].map(encode) };
  if (v instanceof Uint8Array) return { $b64: Buffer.from(v).toString("base64") };
  if (v instanceof Date) return { $date: v.getTime() };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "$metadata") continue;
      out[k] = encode(x);
    }
    return out;
  }
  return v;
}

const req = JSON.parse(await readStdin());
const base = new ddb.DynamoDBClient({
  endpoint: req.endpoint,
  region: req.region,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
});
const doc = lib.DynamoDBDocumentClient.from(base, {
  marshallOptions: { removeUndefinedValues: true },
});
const results = [];
for (const call of req.calls) {
  try {
    let out;
    if (call.client) {
      out = await base.send(new ddb[`${call.client}Command`](decode(call.input)));
    } else {
      out = await doc.send(new lib[`${call.op}Command`](decode(call.input)));
    }
    results.push({ ok: encode(out) });
  } catch (e) {
    results.push({
      error: {
        name: e.name,
        message: e.message,
        httpStatusCode: e.$metadata ? e.$metadata.httpStatusCode : undefined,
        CancellationReasons: e.CancellationReasons,
      },
    });
  }
}
process.stdout.write(JSON.stringify(results));
base.destroy();
