// People and tokens in JavaScript: the root key creates an administrator, who logs in with a password and
// works with an access token; a member gets an account, logs in and makes a key of her own; refresh tokens
// rotate, a replayed one ends its session, logout ends a session, and deleting a user revokes their keys.
// Node 20 or later (fetch is built in); no npm packages.
//
//   TRONCH_URL      the server (default http://127.0.0.1:8080)
//   TRONCH_API_KEY  a key with admin (the root key): it creates the first administrator
//
// The demo removes the people it made (and with them their keys and sessions), also when a step fails.
// Exits non-zero on the first failure. scripts/check-docs runs it: node docs/examples/js/people.mjs
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

const TRONCH_URL = process.env.TRONCH_URL ?? "http://127.0.0.1:8080";
const API_KEY = process.env.TRONCH_API_KEY;
if (!API_KEY) throw new Error("set TRONCH_API_KEY to the root key printed by tronch serve");

/**
 * One call to Tronch's API. `credential` is a key or an access token (both go in Authorization: Bearer), or
 * null for none. Returns the status, the parsed answer (null when there is no body) and the headers.
 */
async function call(credential, method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (credential) headers.Authorization = `Bearer ${credential}`;
  const response = await fetch(TRONCH_URL + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text(); // errors are application/problem+json: JSON too
  return { status: response.status, answer: text ? JSON.parse(text) : null, headers: response.headers };
}

/** The answer of a call; throws on a 4xx or 5xx with the problem's code (the error carries status and code). */
function answerOf(method, path, { status, answer }) {
  if (status >= 400) {
    const error = new Error(`${method} ${path}: ${status} ${answer.code}: ${answer.detail} (request ${answer.request_id})`);
    throw Object.assign(error, { status, code: answer.code });
  }
  return answer;
}

const tronch = async (credential, method, path, body) => answerOf(method, path, await call(credential, method, path, body));

/**
 * POST /api/v1/auth/login. Every attempt counts toward the limit per client address (TRONCH_RATELIMIT_LOGIN,
 * 5 a minute): on a 429, wait as long as Retry-After says and try again.
 */
async function login(username, password) {
  for (let attempt = 1; ; attempt++) {
    const result = await call(null, "POST", "/api/v1/auth/login", { username, password });
    if (result.status !== 429 || attempt === 6) return answerOf("POST", "/api/v1/auth/login", result);
    await sleep(1000 * Number(result.headers.get("retry-after") ?? 12));
  }
}

const refresh = (refreshToken) => tronch(null, "POST", "/api/v1/auth/refresh", { refresh_token: refreshToken });

// Usernames and e-mail addresses are unique: a suffix lets the demo run twice against one server.
const run = randomUUID().slice(0, 8);
const ADMIN = `ada-${run}`;
const MEMBER = `grace-${run}`;
const people = []; // what to delete at the end

try {
  // 1. The root key creates the first administrator (the only thing it has to do with people).
  const admin = await tronch(API_KEY, "POST", "/api/v1/users", {
    username: ADMIN,
    email: `${ADMIN}@example.com`,
    display_name: "Ada Lovelace",
    role: "admin",
    password: "correct horse battery staple",
  });
  people.push(admin);
  assert.equal(admin.role, "admin");
  console.log("created", admin.username, admin.id, "role", admin.role);

  // 2. A wrong password, an unknown user, a disabled or a locked account: one answer for all of them.
  await assert.rejects(login(ADMIN, "not her password"), { status: 401, code: "INVALID_CREDENTIALS" });

  // 3. She logs in: an access token (a JWT for 10 minutes), a refresh token and the session's id.
  let pair = await login(ADMIN, "correct horse battery staple");
  assert.equal(pair.token_type, "Bearer");
  console.log("logged in: session", pair.session_id, "access token for", pair.expires_in, "s");

  // 4. The access token goes where a key goes: Authorization: Bearer.
  const me = await tronch(pair.access_token, "GET", "/api/v1/users/me");
  assert.equal(`${me.username} ${me.role}`, `${ADMIN} admin`);

  // 5. Her sessions: one a login, listed newest first, with the login's address and user agent.
  const sessions = await tronch(pair.access_token, "GET", "/api/v1/sessions");
  const session = sessions.data.find((s) => s.id === pair.session_id);
  assert.ok(session, "the new session is listed");
  assert.deepEqual(session.amr, ["pwd"]);
  console.log("session", session.id, "from", session.ip, "until", session.expires_at);

  // 6. The administrator creates a member (the default role).
  const member = await tronch(pair.access_token, "POST", "/api/v1/users", {
    username: MEMBER,
    email: `${MEMBER}@example.com`,
    display_name: "Grace Hopper",
    password: "a long and unusual passphrase",
  });
  people.push(member);
  assert.equal(member.role, "member");

  // 7. Before the access token expires, the refresh token buys a new pair; the one presented dies.
  pair = await refresh(pair.refresh_token);
  assert.equal((await tronch(pair.access_token, "GET", "/api/v1/users/me")).username, ADMIN);

  // 8. Logout ends the session: its access tokens and its refresh token stop at once.
  assert.equal(await tronch(pair.access_token, "POST", "/api/v1/auth/logout"), null); // 204
  await assert.rejects(tronch(pair.access_token, "GET", "/api/v1/users/me"), { status: 401, code: "TOKEN_INVALID" });
  await assert.rejects(refresh(pair.refresh_token), { status: 401, code: "SESSION_REVOKED" });
  const introspected = await tronch(API_KEY, "POST", "/api/v1/auth/introspect", { token: pair.access_token });
  assert.equal(introspected.active, false);
  console.log("logged out; the access token is active:", introspected.active);

  // 9. The member logs in and makes a key of her own: without owner_id it is hers (user:<id>).
  const memberPair = await login(MEMBER, "a long and unusual passphrase");
  const key = await tronch(memberPair.access_token, "POST", "/api/v1/keys", {
    name: "grace laptop",
    scopes: ["keys:read", "orders:read"],
  });
  assert.equal(key.owner_id, `user:${member.id}`);
  console.log("her key", key.id, "owner", key.owner_id);

  // 10. Her role bounds what she and her keys may do: no Tronch scope beyond keys:read and keys:write, only
  //     her own keys, no other people.
  await assert.rejects(
    tronch(memberPair.access_token, "POST", "/api/v1/keys", { name: "log reader", scopes: ["audit:read"] }),
    { status: 403 },
  );
  const hers = await tronch(key.key, "GET", "/api/v1/keys");
  assert.deepEqual([...new Set(hers.data.map((k) => k.owner_id))], [`user:${member.id}`]);
  await assert.rejects(tronch(key.key, "GET", "/api/v1/users"), { status: 403 });

  // 11. A refresh token presented twice was copied: the session ends, with every token of it.
  const newer = await refresh(memberPair.refresh_token);
  await assert.rejects(refresh(memberPair.refresh_token), { status: 401, code: "REFRESH_TOKEN_REUSED" });
  await assert.rejects(tronch(newer.access_token, "GET", "/api/v1/users/me"), { status: 401, code: "TOKEN_INVALID" });
  await assert.rejects(refresh(newer.refresh_token), { status: 401, code: "SESSION_REVOKED" });
  const left = await tronch(API_KEY, "GET", `/api/v1/sessions?user_id=${member.id}`);
  assert.equal(left.data.length, 0);
  await tronch(key.key, "GET", "/api/v1/keys"); // her key goes on: keys are not sessions
  console.log("a replayed refresh token ended her session; her key still works");

  // 12. Deleting a user revokes her keys and ends her sessions, in the same transaction.
  await tronch(API_KEY, "DELETE", `/api/v1/users/${member.id}`);
  people.splice(people.indexOf(member), 1);
  await assert.rejects(tronch(key.key, "GET", "/api/v1/keys"), { status: 401 });
  assert.equal((await tronch(API_KEY, "GET", `/api/v1/keys/${key.id}`)).status, "revoked");
  console.log("deleted", member.username, "and her key is revoked");
} finally {
  for (const person of people) await tronch(API_KEY, "DELETE", `/api/v1/users/${person.id}`); // clean up
}
console.log("people done");
