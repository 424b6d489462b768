// Checking your customers' keys in a Node.js API: a small middleware that asks Tronch about the key of each
// request, then a demonstration that starts a plain node:http server on a free port, calls it with good,
// bad and missing keys, and checks every answer. Node 20 or later; no npm packages.
//
//   TRONCH_URL      the server (default http://127.0.0.1:8080)
//   TRONCH_API_KEY  a key with admin (the root key). The demonstration uses it only to create the backend
//                   key (keys:verify only) and the customer keys; in your API, configure the backend key.
//
// Exits non-zero on the first failure. scripts/check-docs runs it: node docs/examples/js/verify-middleware.mjs
import assert from "node:assert/strict";
import http from "node:http";

// ---------------------------------------------------------------------------------------------------------
// The middleware. Copy this part into your API.

/**
 * Returns `requireKey(scopes)`, which makes an Express-style middleware `(req, res, next)`: it lets a request
 * through (calling `next()`, with the verified key in `req.apiKey`) only when Tronch answers VALID for the key
 * the client sent and the scopes the route needs. Otherwise it answers the request itself.
 *
 * `verifierKey` is your backend's Tronch key, holding only `keys:verify`.
 */
export function tronchAuth({ tronchUrl, verifierKey, timeoutMs = 2000 }) {
  return function requireKey(scopes = []) {
    return async function (req, res, next) {
      const key = presentedKey(req);
      if (!key) return refuse(res, 401, "missing_key", { "WWW-Authenticate": 'Bearer realm="api"' });

      let answer;
      try {
        const response = await fetch(`${tronchUrl}/api/v1/keys/verify`, {
          method: "POST",
          headers: { Authorization: `Bearer ${verifierKey}`, "Content-Type": "application/json" },
          // The client's address, for keys with an IP allowlist. Behind your own proxy or load balancer,
          // take it from the header that proxy sets instead of the socket.
          body: JSON.stringify({ key, scopes, ip: req.socket.remoteAddress }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        // Every verdict is a 200. Anything else (401/403: the backend key is wrong; 503: Tronch cannot
        // reach its database) means the check failed, and so does a timeout: refuse (fail closed).
        if (response.status !== 200) throw new Error(`Tronch answered ${response.status}: ${await response.text()}`);
        answer = await response.json();
      } catch (error) {
        console.error("key check failed:", error.message);
        return refuse(res, 503, "auth_unavailable", { "Retry-After": "1" });
      }

      switch (answer.code) {
        case "VALID":
          // owner_id, scopes, meta, remaining and ratelimits describe the key: no second call needed.
          req.apiKey = answer;
          return next();
        case "NOT_FOUND":
        case "REVOKED":
        case "DISABLED":
        case "EXPIRED":
          return refuse(res, 401, "invalid_key", { "WWW-Authenticate": 'Bearer realm="api", error="invalid_token"' });
        case "SIGNATURE_INVALID": // a key that signs its requests, sent without a good signature (this
        case "SIGNATURE_EXPIRED": // middleware passes no `request`: see signed-requests.mjs for one that does)
        case "SIGNATURE_REPLAYED":
          return refuse(res, 401, "invalid_signature", { "WWW-Authenticate": 'Bearer realm="api", error="invalid_token"' });
        case "FORBIDDEN": // the key's IP allowlist does not include this client
        case "INSUFFICIENT_SCOPES":
          return refuse(res, 403, "forbidden");
        case "RATE_LIMITED": {
          // reset_seconds of the exhausted windows bounds the wait from above; ratelimits is null when the
          // limiter could not decide (Tronch's "closed" failure mode).
          const waits = (answer.ratelimits ?? []).filter((w) => w.remaining < 1).map((w) => w.reset_seconds);
          return refuse(res, 429, "rate_limited", { "Retry-After": String(Math.max(1, ...waits)) });
        }
        case "USAGE_EXCEEDED":
          return refuse(res, 402, "quota_exceeded");
        default:
          // A code added by a later version of Tronch: refuse rather than guess.
          return refuse(res, 403, "forbidden");
      }
    };
  };
}

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`; never from the URL. */
function presentedKey(req) {
  const match = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  if (match) return match[1];
  const header = req.headers["x-api-key"];
  return typeof header === "string" && header !== "" ? header : null;
}

function refuse(res, status, error, headers = {}) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify({ error }));
}

// ---------------------------------------------------------------------------------------------------------
// The demonstration.

const TRONCH_URL = process.env.TRONCH_URL ?? "http://127.0.0.1:8080";
const ADMIN_KEY = process.env.TRONCH_API_KEY;
if (!ADMIN_KEY) throw new Error("set TRONCH_API_KEY to the root key printed by tronch serve");

async function createKey(settings) {
  const response = await fetch(`${TRONCH_URL}/api/v1/keys`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify(settings),
  });
  const body = await response.json();
  assert.equal(response.status, 201, JSON.stringify(body));
  return body;
}

const backend = await createKey({ name: "orders-api backend", scopes: ["keys:verify"] });
const customer = await createKey({ name: "Acme production", owner_id: "cus_123", scopes: ["orders:read"] });
const limited = await createKey({ scopes: ["orders:read"], ratelimits: [{ limit: 1, period_seconds: 60 }] });

const requireKey = tronchAuth({ tronchUrl: TRONCH_URL, verifierKey: backend.key });
// The same middleware, pointed at an address where nothing listens: Tronch is unreachable.
const requireKeyUnreachable = tronchAuth({ tronchUrl: "http://127.0.0.1:9", verifierKey: backend.key });

// A tiny API on plain node:http. With Express: app.get("/orders", requireKey(["orders:read"]), handler).
const routes = {
  "GET /orders": [requireKey(["orders:read"]), (req, res) => send(res, { orders: [], owner: req.apiKey.owner_id })],
  "POST /orders": [requireKey(["orders:write"]), (req, res) => send(res, { created: true })],
  "GET /unreachable": [requireKeyUnreachable(["orders:read"]), (req, res) => send(res, {})],
};
function send(res, body) {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}
const server = http.createServer((req, res) => {
  const route = routes[`${req.method} ${req.url}`];
  if (!route) return refuse(res, 404, "not_found");
  const [middleware, handler] = route;
  middleware(req, res, () => handler(req, res));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const api = `http://127.0.0.1:${server.address().port}`;

async function call(method, path, headers = {}) {
  const response = await fetch(api + path, { method, headers });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

try {
  const ok = await call("GET", "/orders", { Authorization: `Bearer ${customer.key}` });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.owner, "cus_123");
  console.log("valid key:          ", ok.status, ok.body);

  const viaHeader = await call("GET", "/orders", { "X-API-Key": customer.key });
  assert.equal(viaHeader.status, 200);
  console.log("valid key, X-API-Key:", viaHeader.status);

  const wrong = await call("GET", "/orders", { Authorization: "Bearer tronch_sk_live_not-a-real-key" });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get("www-authenticate"), /invalid_token/);
  console.log("invalid key:        ", wrong.status, wrong.body);

  const missing = await call("GET", "/orders");
  assert.equal(missing.status, 401);
  console.log("no key:             ", missing.status, missing.body);

  const scope = await call("POST", "/orders", { Authorization: `Bearer ${customer.key}` });
  assert.equal(scope.status, 403);
  console.log("missing scope:      ", scope.status, scope.body);

  assert.equal((await call("GET", "/orders", { Authorization: `Bearer ${limited.key}` })).status, 200);
  const tooMany = await call("GET", "/orders", { Authorization: `Bearer ${limited.key}` });
  assert.equal(tooMany.status, 429);
  assert.ok(Number(tooMany.headers.get("retry-after")) >= 1);
  console.log("over its rate limit:", tooMany.status, tooMany.body, "Retry-After:", tooMany.headers.get("retry-after"));

  const down = await call("GET", "/unreachable", { Authorization: `Bearer ${customer.key}` });
  assert.equal(down.status, 503);
  console.log("Tronch unreachable: ", down.status, down.body);
} finally {
  server.close();
}
console.log("verify-middleware done");
