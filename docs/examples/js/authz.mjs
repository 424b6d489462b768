// Permissions in JavaScript: groups nested in groups, ACL and DACL entries on a small tree (the tenant acme and
// its projects web and api), and a resource server asking Tronch whether a person or a key may act, with the
// rule and the entry that decided. Every rule of the evaluation order appears: acl_allow, acl_deny,
// dacl_allow, dacl_deny, fallback and key_scope. Node 20 or later (fetch is built in); no npm packages.
//
//   TRONCH_URL      the server (default http://127.0.0.1:8080)
//   TRONCH_API_KEY  a key with admin (the root key): it manages users, keys, groups and entries (authz:manage)
//
// The demo removes what it made (groups, their entries, the people and the keys), also when a step fails.
// Exits non-zero on the first failure. scripts/check-docs runs it: node docs/examples/js/authz.mjs
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

const TRONCH_URL = process.env.TRONCH_URL ?? "http://127.0.0.1:8080";
const API_KEY = process.env.TRONCH_API_KEY;
if (!API_KEY) throw new Error("set TRONCH_API_KEY to the root key printed by tronch serve");

/**
 * One call to Tronch's API with `key` (a key or an access token). Returns the status and the parsed answer
 * (null when there is no body); throws on a 4xx or 5xx with the problem's code (the error carries status,
 * code and errors).
 */
async function call(key, method, path, body) {
  const response = await fetch(TRONCH_URL + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text(); // errors are application/problem+json: JSON too
  const answer = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(`${method} ${path}: ${response.status} ${answer.code}: ${answer.detail} (request ${answer.request_id})`);
    throw Object.assign(error, { status: response.status, code: answer.code, errors: answer.errors });
  }
  return { status: response.status, answer };
}

/** The same, as the root key, returning only the answer. */
const tronch = async (method, path, body) => (await call(API_KEY, method, path, body)).answer;

/** Creates an ACL entry (kind "acl" applies to its resource, "dacl" to everything below it). */
const entry = (resource, principal, action, effect, kind) =>
  tronch("POST", "/api/v1/acl-entries", { resource, principal, action, effect, kind });

/** The same question as the resource server asks it: may `principal` do `action` on `resource`? */
const ask = async (key, principal, action, resource) =>
  (await call(key, "POST", "/api/v1/authz/check", { principal, action, resource })).answer;

/** A decision in short: "allowed rule resource-that-decided" (- for none). */
const brief = (decision) => `${decision.allowed} ${decision.reason.rule} ${decision.reason.resource ?? "-"}`;

// Group names are unique: a suffix lets the demo run twice against one server.
const run = randomUUID().slice(0, 8);
const made = { users: [], groups: [], keys: [] }; // what to remove at the end

try {
  // 1. Two people: Mia builds the website, Noah the API.
  const person = async (username, display_name) => {
    const user = await tronch("POST", "/api/v1/users", { username, email: `${username}@example.com`, display_name });
    made.users.push(user.id);
    return `user:${user.id}`;
  };
  const MIA = await person(`mia-${run}`, "Mia Moreau");
  const NOAH = await person(`noah-${run}`, "Noah Berg");

  // 2. Two groups, one inside the other: every member of "acme web" is also one of "acme engineers".
  const engineers = await tronch("POST", "/api/v1/groups", {
    name: `acme engineers ${run}`,
    description: "Everyone who builds Acme's products",
  });
  const web = await tronch("POST", "/api/v1/groups", { name: `acme web ${run}` });
  made.groups.push(web.id, engineers.id);
  const ENGINEERS = `group:${engineers.id}`;
  const WEB_TEAM = `group:${web.id}`;
  // PUT a member: 201 when it is new, 204 when it was one already (nothing changes).
  const addMember = async (group, principal) =>
    (await call(API_KEY, "PUT", `/api/v1/groups/${group.id}/members/${principal}`)).status;
  assert.equal(await addMember(engineers, WEB_TEAM), 201);
  assert.equal(await addMember(web, MIA), 201);
  assert.equal(await addMember(engineers, NOAH), 201);
  assert.equal(await addMember(engineers, NOAH), 204);
  const members = await tronch("GET", `/api/v1/groups/${engineers.id}/members`);
  console.log(`members of ${engineers.name}:`, members.data.map((m) => m.principal).join(", "));
  await assert.rejects(addMember(web, ENGINEERS), (error) => {
    assert.equal(`${error.status} ${error.code}`, "400 VALIDATION_FAILED");
    console.log("a cycle is refused:", error.errors[0].message);
    return true;
  });

  // 3. The entries. DACLs are defaults for everything below their resource; ACLs apply to their resource.
  //    project:acme                 DACL allow read    acme engineers
  //    project:acme/web             ACL  allow deploy  acme web
  //    project:acme/api             DACL deny  deploy  acme engineers
  //    project:acme/api/sandbox     DACL allow deploy  acme engineers
  //    project:acme/api/secrets     ACL  deny  read    acme web
  const readAll = await entry("project:acme", ENGINEERS, "read", "allow", "dacl");
  await entry("project:acme/web", WEB_TEAM, "deploy", "allow", "acl");
  await entry("project:acme/api", ENGINEERS, "deploy", "deny", "dacl");
  await entry("project:acme/api/sandbox", ENGINEERS, "deploy", "allow", "dacl");
  const noSecrets = await entry("project:acme/api/secrets", WEB_TEAM, "read", "deny", "acl");
  await assert.rejects(entry("project:acme", ENGINEERS, "read", "allow", "dacl"), { status: 409, code: "CONFLICT" });

  // 4. The entries that bear on one resource: its own, and its ancestors' (the DACLs among them apply).
  const bearing = await tronch("GET", "/api/v1/acl-entries?resource=project:acme/api/secrets&include_ancestors=true");
  const ours = bearing.data.filter((e) => e.principal === ENGINEERS || e.principal === WEB_TEAM);
  for (const e of ours) console.log(`entry on ${e.resource}: ${e.kind} ${e.effect} ${e.action} ${e.principal}`);
  assert.deepEqual(
    ours.map((e) => e.resource),
    ["project:acme", "project:acme/api", "project:acme/api/secrets"],
  );

  // 5. The resource server's key: it may ask questions (authz:check), not change the answers.
  const checker = await tronch("POST", "/api/v1/keys", { name: `acme backend ${run}`, scopes: ["authz:check"] });
  made.keys.push(checker.id);
  const CHECKER = checker.key;
  await assert.rejects(call(CHECKER, "GET", "/api/v1/groups"), { status: 403 });

  // 6. Questions, and the rule that answered each one.
  const expect = async (what, principal, action, resource, expected) => {
    const decision = await ask(CHECKER, principal, action, resource);
    assert.equal(brief(decision), expected, what);
    console.log(`ok: ${what}: ${expected}`);
    return decision;
  };
  await expect("Mia deploys web", MIA, "deploy", "project:acme/web", "true acl_allow project:acme/web");
  await expect("Mia reads web's assets", MIA, "read", "project:acme/web/assets", "true dacl_allow project:acme");
  await expect("Mia reads the API's secrets", MIA, "read", "project:acme/api/secrets", "false acl_deny project:acme/api/secrets");
  await expect("Noah reads the API's secrets", NOAH, "read", "project:acme/api/secrets", "true dacl_allow project:acme");
  await expect("Noah deploys the API's gateway", NOAH, "deploy", "project:acme/api/gateway", "false dacl_deny project:acme/api");
  await expect("Noah deploys a sandbox demo", NOAH, "deploy", "project:acme/api/sandbox/demo", "true dacl_allow project:acme/api/sandbox");
  await expect("Noah deploys web", NOAH, "deploy", "project:acme/web", "false fallback -");
  await expect("Mia reads the tenant itself", MIA, "read", "project:acme", "false fallback -");

  // 7. The full answer names the entry that decided.
  const denied = await ask(CHECKER, MIA, "read", "project:acme/api/secrets");
  console.log("   ", JSON.stringify(denied));
  assert.equal(denied.reason.entry_id, noSecrets.id);

  // 8. A key Mia owns acts with her rights, narrowed by its scopes (<type>:<action>).
  const laptop = await tronch("POST", "/api/v1/keys", { name: `mia laptop ${run}`, owner_id: MIA, scopes: ["project:read"] });
  const MIA_KEY = `key:${laptop.id}`; // revoked with Mia at the end
  await expect("Mia's key reads web's assets", MIA_KEY, "read", "project:acme/web/assets", "true dacl_allow project:acme");
  await expect("Mia's key deploys web", MIA_KEY, "deploy", "project:acme/web", "false key_scope -");

  // 9. Up to 100 questions at once, answered in order.
  const batch = await call(CHECKER, "POST", "/api/v1/authz/check-batch", {
    checks: [
      { principal: MIA, action: "deploy", resource: "project:acme/web" },
      { principal: NOAH, action: "deploy", resource: "project:acme/web" },
      { principal: NOAH, action: "deploy", resource: "project:acme/api/sandbox/demo" },
    ],
  });
  assert.deepEqual(batch.answer.results.map(brief), [
    "true acl_allow project:acme/web",
    "false fallback -",
    "true dacl_allow project:acme/api/sandbox",
  ]);
  console.log("ok: a batch:", batch.answer.results.map(brief).join(", "));

  // 10. A change is seen by the very next check: Mia leaves the web team, and with it its rights.
  await tronch("DELETE", `/api/v1/groups/${web.id}/members/${MIA}`);
  await expect("Mia deploys web, having left", MIA, "deploy", "project:acme/web", "false fallback -");
  await tronch("DELETE", `/api/v1/acl-entries/${readAll.id}`);
  await expect("Noah reads the API's secrets, without the default", NOAH, "read", "project:acme/api/secrets", "false fallback -");
} finally {
  // 11. Deleting a group removes its memberships and the entries that name it; deleting a user revokes
  //     their keys.
  for (const id of made.groups) await tronch("DELETE", `/api/v1/groups/${id}`);
  for (const id of made.users) await tronch("DELETE", `/api/v1/users/${id}`);
  for (const id of made.keys) await tronch("DELETE", `/api/v1/keys/${id}`);
  console.log("removed the groups, their entries, the users and the keys");
}
console.log("authz done");
