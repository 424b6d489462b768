// Quickstart in JavaScript: create a key for a customer, verify it, list, update, rotate and revoke it.
// Node 20 or later (fetch is built in); no npm packages.
//
//   TRONCH_URL      the server (default http://127.0.0.1:8080)
//   TRONCH_API_KEY  a key with admin (the root key) or with keys:read, keys:write and keys:verify
//
// Exits non-zero on the first failure. scripts/check-docs runs it: node docs/examples/js/quickstart.mjs
import assert from "node:assert/strict";

const TRONCH_URL = process.env.TRONCH_URL ?? "http://127.0.0.1:8080";
const API_KEY = process.env.TRONCH_API_KEY;
if (!API_KEY) throw new Error("set TRONCH_API_KEY to the root key printed by tronch serve");

/** One call to Tronch's API. Returns the parsed answer; throws on a 4xx or 5xx with the problem's code. */
async function tronch(method, path, body) {
  const response = await fetch(TRONCH_URL + path, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = await response.json(); // errors are application/problem+json: JSON too
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${answer.code}: ${answer.detail} (request ${answer.request_id})`);
  }
  return answer;
}

const verify = (key, scopes) => tronch("POST", "/api/v1/keys/verify", { key, scopes });

// 1. Create a key for a customer. The secret (`key`) is in this answer and nowhere else, ever.
const created = await tronch("POST", "/api/v1/keys", {
  name: "Acme production",
  owner_id: "cus_123",
  scopes: ["orders:read", "orders:write"],
  meta: { plan: "pro" },
});
console.log("created", created.id, `${created.start}…${created.end}`);

// 2. Verify it, as your API does on each request. Every verdict is a 200: read `valid` and `code`.
const result = await verify(created.key, ["orders:read"]);
assert.equal(result.valid, true);
assert.equal(result.code, "VALID");
assert.equal(result.owner_id, "cus_123");
assert.equal((await verify(created.key, ["orders:delete"])).code, "INSUFFICIENT_SCOPES");
console.log("verify:", result.code, "owner:", result.owner_id, "plan:", result.meta.plan);

// 3. List the customer's keys, newest first, following next_cursor to the last page.
const ids = [];
let cursor = null;
do {
  const params = new URLSearchParams({ owner_id: "cus_123", limit: "100" });
  if (cursor) params.set("cursor", cursor);
  const page = await tronch("GET", `/api/v1/keys?${params}`);
  ids.push(...page.data.map((key) => key.id));
  cursor = page.next_cursor;
} while (cursor);
assert.ok(ids.includes(created.id));
console.log("cus_123 has", ids.length, "keys");

// 4. Change its name and metadata. Fields you leave out stay as they are.
const updated = await tronch("PATCH", `/api/v1/keys/${created.id}`, {
  name: "Acme production (EU)",
  meta: { plan: "enterprise" },
});
assert.equal(updated.name, "Acme production (EU)");
assert.deepEqual(updated.scopes, ["orders:read", "orders:write"]);

// 5. Rotate it: a new secret with the same settings; the old one keeps working for an hour.
const rotated = await tronch("POST", `/api/v1/keys/${created.id}/rotate`, { grace_period_seconds: 3600 });
assert.equal(rotated.rotated_from, created.id);
assert.equal((await verify(created.key, ["orders:read"])).code, "VALID");
assert.equal((await verify(rotated.key, ["orders:read"])).code, "VALID");
console.log("rotated to", rotated.id);

// 6. Revoke the old key once the customer has switched: it stops at once.
const revoked = await tronch("DELETE", `/api/v1/keys/${created.id}`);
assert.equal(revoked.status, "revoked");
assert.equal((await verify(created.key, ["orders:read"])).code, "REVOKED");
assert.equal((await verify(rotated.key, ["orders:read"])).code, "VALID");

// Errors are problem+json with a stable `code`: a key id that does not exist is a 404 NOT_FOUND.
await assert.rejects(tronch("GET", "/api/v1/keys/01a213e5-0000-7000-8000-000000000000"), /404 NOT_FOUND/);

await tronch("DELETE", `/api/v1/keys/${rotated.id}`); // clean up
console.log("quickstart done");
