// Signed requests in JavaScript: a key that signs its requests (RFC 9421 HTTP Message Signatures with
// hmac-sha256), a client that signs each request with node:crypto, and a small node:http API that checks the
// key and the signature with Tronch (POST /api/v1/keys/verify with `request` and `body_sha256`). Then a
// replayed request and a tampered body, both refused. Node 20 or later; no npm packages.
//
//   TRONCH_URL      the server (default http://127.0.0.1:8080)
//   TRONCH_API_KEY  a key with admin (the root key). The demonstration uses it only to create the backend
//                   key (keys:verify only) and the customer's key; in your API, configure the backend key.
//
// Exits non-zero on the first failure. scripts/check-docs runs it: node docs/examples/js/signed-requests.mjs
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import http from "node:http";

// ---------------------------------------------------------------------------------------------------------
// The client's side: sign a request. Copy this function into the code that calls the API.

/**
 * The headers that sign one request: `Content-Digest` (RFC 9530), `Signature-Input` and `Signature`
 * (RFC 9421), covering the method, the path, the query and the body's digest, with the time and a nonce.
 * `url` is what the request goes to, `body` the exact bytes (or string) sent, `secret` the key's
 * `signing_secret` (base64url: the HMAC key is the 32 bytes it decodes to).
 */
export function signRequest({ method, url, body = "", secret, keyId }) {
  const { pathname, search } = new URL(url, "http://unused");
  const digest = `sha-256=:${createHash("sha256").update(body).digest("base64")}:`;
  const values = {
    "@method": method.toUpperCase(),
    "@path": pathname,
    "@query": search || "?", // "?" and the query; just "?" without one
    "content-digest": digest,
  };
  const covered = Object.keys(values).map((name) => `"${name}"`).join(" ");
  const created = Math.floor(Date.now() / 1000);
  const nonce = randomBytes(16).toString("base64url"); // each one is accepted once
  const params = `(${covered});created=${created};nonce="${nonce}"` + (keyId ? `;keyid="${keyId}"` : "");
  const base = [...Object.entries(values).map(([name, value]) => `"${name}": ${value}`), `"@signature-params": ${params}`];
  const mac = createHmac("sha256", Buffer.from(secret, "base64url")).update(base.join("\n")).digest("base64");
  return { "Content-Digest": digest, "Signature-Input": `sig1=${params}`, Signature: `sig1=:${mac}:` };
}

// ---------------------------------------------------------------------------------------------------------
// Your API's side: verify the key and the signature of each request. Copy this part into your API.

/**
 * Asks Tronch about a request's key and signature. `req` is the node:http request and `body` the raw body
 * you read from it (a Buffer). Returns Tronch's answer: `code` is `VALID` or why not.
 */
export async function verifySignedRequest({ tronchUrl, verifierKey, req, body, scopes = [] }) {
  const key = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1] ?? req.headers["x-api-key"] ?? "";
  const [path, query = ""] = req.url.split(/\?(.*)/s); // the path and query exactly as received
  const headers = {}; // the signature's fields (add any other header your clients' signatures cover)
  for (const name of ["signature-input", "signature", "content-digest"]) {
    if (typeof req.headers[name] === "string") headers[name] = req.headers[name];
  }
  const response = await fetch(`${tronchUrl}/api/v1/keys/verify`, {
    method: "POST",
    headers: { Authorization: `Bearer ${verifierKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      key,
      scopes,
      ip: req.socket.remoteAddress,
      // With body_sha256, Tronch also checks that the signed Content-Digest is the body's.
      request: { method: req.method, path, query, headers, body_sha256: createHash("sha256").update(body).digest("base64") },
    }),
    signal: AbortSignal.timeout(2000),
  });
  // Every verdict is a 200; anything else means the check itself failed: refuse (fail closed).
  if (response.status !== 200) throw new Error(`Tronch answered ${response.status}: ${await response.text()}`);
  return response.json();
}

// ---------------------------------------------------------------------------------------------------------
// The demonstration.

const TRONCH_URL = process.env.TRONCH_URL ?? "http://127.0.0.1:8080";
const ADMIN_KEY = process.env.TRONCH_API_KEY;
if (!ADMIN_KEY) throw new Error("set TRONCH_API_KEY to the root key printed by tronch serve");

async function admin(method, path, body) {
  const response = await fetch(TRONCH_URL + path, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

const backend = await admin("POST", "/api/v1/keys", { name: "orders-api backend", scopes: ["keys:verify"] });
// signing: true makes a key that signs its requests; signing_secret is shown in this answer only.
const customer = await admin("POST", "/api/v1/keys", {
  name: "Acme signer",
  owner_id: "cus_123",
  scopes: ["orders:write"],
  signing: true,
});
assert.equal(customer.signing, true);
assert.match(customer.signing_secret, /^[A-Za-z0-9_-]{43}$/);

// A tiny API on plain node:http: POST /orders needs a valid key, a good signature and orders:write.
const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  let verdict;
  try {
    verdict = await verifySignedRequest({ tronchUrl: TRONCH_URL, verifierKey: backend.key, req, body, scopes: ["orders:write"] });
  } catch (error) {
    console.error("key check failed:", error.message);
    res.writeHead(503, { "Content-Type": "application/json" }).end(JSON.stringify({ error: "auth_unavailable" }));
    return;
  }
  const status = verdict.valid ? 201 : verdict.code === "INSUFFICIENT_SCOPES" ? 403 : 401;
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ code: verdict.code, owner: verdict.owner_id }));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const api = `http://127.0.0.1:${server.address().port}`;

/** Sends a request to the API with the key and the given signature headers. */
async function send(path, body, signature) {
  const response = await fetch(api + path, {
    method: "POST",
    headers: { Authorization: `Bearer ${customer.key}`, "Content-Type": "application/json", ...signature },
    body,
  });
  return { status: response.status, ...(await response.json()) };
}

try {
  const body = JSON.stringify({ sku: "A-1", quantity: 2 });
  const signature = signRequest({ method: "POST", url: `${api}/orders?expand=items`, body, secret: customer.signing_secret, keyId: customer.id });
  const ok = await send("/orders?expand=items", body, signature);
  assert.equal(ok.code, "VALID");
  assert.equal(ok.status, 201);
  console.log("signed request:     ", ok.status, ok.code, "owner", ok.owner);

  // Someone who captured that request sends it again, byte for byte: its nonce was used.
  const replayed = await send("/orders?expand=items", body, signature);
  assert.equal(replayed.code, "SIGNATURE_REPLAYED");
  assert.equal(replayed.status, 401);
  console.log("replayed:           ", replayed.status, replayed.code);

  // A fresh signature, but the body changed on the way: the body's SHA-256 no longer matches Content-Digest.
  const fresh = signRequest({ method: "POST", url: `${api}/orders?expand=items`, body, secret: customer.signing_secret });
  const tampered = await send("/orders?expand=items", JSON.stringify({ sku: "A-1", quantity: 200 }), fresh);
  assert.equal(tampered.code, "SIGNATURE_INVALID");
  assert.equal(tampered.status, 401);
  console.log("tampered body:      ", tampered.status, tampered.code);

  // The key alone, as someone who copied it from a log would send it: no signature, no entry.
  const copied = await send("/orders", body, {});
  assert.equal(copied.code, "SIGNATURE_INVALID");
  console.log("key without a signature:", copied.status, copied.code);
} finally {
  server.close();
  await admin("DELETE", `/api/v1/keys/${customer.id}`);
  await admin("DELETE", `/api/v1/keys/${backend.id}`);
}
console.log("signed-requests done");
