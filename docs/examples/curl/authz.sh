#!/usr/bin/env bash
# Permissions: groups nested in groups, ACL and DACL entries on a small tree (the tenant acme and its projects
# web and api), and a resource server asking Tronch whether a person or a key may act, with the rule and the
# entry that decided. Every rule of the evaluation order appears once: acl_allow, acl_deny, dacl_allow,
# dacl_deny, fallback and key_scope.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with admin (the root key): it manages groups and entries (authz:manage)
#
# Needs curl and jq. Exits non-zero on the first failure. scripts/check-docs runs it.
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"

# call KEY METHOD PATH [JSON]: prints "STATUS BODY" whatever the status.
call() {
  curl -sS --max-time 30 -w '\n%{http_code}' -X "$2" "$TRONCH_URL$3" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' ${4:+--data "$4"} \
    | { body=$(cat); echo "${body##*$'\n'} ${body%$'\n'*}"; }
}
expect() {
  if [ "$2" != "$3" ]; then echo "FAILED: $1 is '$2', expected '$3'" >&2; exit 1; fi
  echo "ok: $1 = $3"
}
# field ANSWER FILTER: a field of the body of a "STATUS BODY" answer.
field() { jq -r "$2" <<<"${1#* }"; }
# entry RESOURCE PRINCIPAL ACTION EFFECT KIND: creates an ACL entry and prints its id.
entry() {
  local answer
  answer=$(call "$TRONCH_API_KEY" POST /api/v1/acl-entries "$(jq -n --arg r "$1" --arg p "$2" --arg a "$3" \
    --arg e "$4" --arg k "$5" '{resource: $r, principal: $p, action: $a, effect: $e, kind: $k}')")
  [ "${answer%% *}" = 201 ] || { echo "FAILED: entry $*: $answer" >&2; exit 1; }
  field "$answer" .id
}
# check KEY PRINCIPAL ACTION RESOURCE: prints "allowed rule resource-that-decided" (- for none).
check() {
  local answer
  answer=$(call "$1" POST /api/v1/authz/check "$(jq -n --arg p "$2" --arg a "$3" --arg r "$4" \
    '{principal: $p, action: $a, resource: $r}')")
  [ "${answer%% *}" = 200 ] || { echo "FAILED: check $2 $3 $4: $answer" >&2; exit 1; }
  field "$answer" '"\(.allowed) \(.reason.rule) \(.reason.resource // "-")"'
}

# Group names are unique: a suffix lets the script run twice against one server.
run=$RANDOM$RANDOM

# 1. Two people: Mia builds the website, Noah the API.
MIA=user:$(call "$TRONCH_API_KEY" POST /api/v1/users "$(jq -n --arg u "mia-$run" \
  '{username: $u, email: ($u + "@example.com"), display_name: "Mia Moreau"}')" | cut -d' ' -f2- | jq -r .id)
NOAH=user:$(call "$TRONCH_API_KEY" POST /api/v1/users "$(jq -n --arg u "noah-$run" \
  '{username: $u, email: ($u + "@example.com"), display_name: "Noah Berg"}')" | cut -d' ' -f2- | jq -r .id)

# 2. Two groups, one inside the other: every member of "acme web" is also one of "acme engineers".
answer=$(call "$TRONCH_API_KEY" POST /api/v1/groups "$(jq -n --arg n "acme engineers $run" \
  '{name: $n, description: "Everyone who builds Acme'"'"'s products"}')")
expect "create a group" "${answer%% *}" 201
ENGINEERS=group:$(field "$answer" .id)
answer=$(call "$TRONCH_API_KEY" POST /api/v1/groups "$(jq -n --arg n "acme web $run" '{name: $n}')")
WEB_TEAM=group:$(field "$answer" .id)
answer=$(call "$TRONCH_API_KEY" PUT "/api/v1/groups/${ENGINEERS#group:}/members/$WEB_TEAM")
expect "nest acme web in acme engineers" "${answer%% *}" 201
answer=$(call "$TRONCH_API_KEY" PUT "/api/v1/groups/${WEB_TEAM#group:}/members/$MIA")
expect "add Mia to acme web" "${answer%% *}" 201
answer=$(call "$TRONCH_API_KEY" PUT "/api/v1/groups/${ENGINEERS#group:}/members/$NOAH")
expect "add Noah to acme engineers" "${answer%% *}" 201
answer=$(call "$TRONCH_API_KEY" PUT "/api/v1/groups/${ENGINEERS#group:}/members/$NOAH")
expect "add Noah again (nothing changes)" "${answer%% *}" 204
answer=$(call "$TRONCH_API_KEY" PUT "/api/v1/groups/${WEB_TEAM#group:}/members/$ENGINEERS")
expect "a cycle" "${answer%% *} $(field "$answer" .code)" "400 VALIDATION_FAILED"
echo "    $(field "$answer" '.errors[0].message')"

# 3. The entries. DACLs are defaults for everything below their resource; ACLs apply to their resource.
#    project:acme                 DACL allow read    acme engineers
#    project:acme/web             ACL  allow deploy  acme web
#    project:acme/api             DACL deny  deploy  acme engineers
#    project:acme/api/sandbox     DACL allow deploy  acme engineers
#    project:acme/api/secrets     ACL  deny  read    acme web
READ_ALL=$(entry project:acme "$ENGINEERS" read allow dacl)
entry project:acme/web "$WEB_TEAM" deploy allow acl >/dev/null
entry project:acme/api "$ENGINEERS" deploy deny dacl >/dev/null
entry project:acme/api/sandbox "$ENGINEERS" deploy allow dacl >/dev/null
NO_SECRETS=$(entry project:acme/api/secrets "$WEB_TEAM" read deny acl)
answer=$(call "$TRONCH_API_KEY" POST /api/v1/acl-entries "$(jq -n --arg p "$ENGINEERS" \
  '{resource: "project:acme", principal: $p, action: "read", effect: "allow", kind: "dacl"}')")
expect "the same entry twice" "${answer%% *} $(field "$answer" .code)" "409 CONFLICT"

# 4. The entries that bear on one resource: its own, and its ancestors' (the DACLs among them apply).
answer=$(call "$TRONCH_API_KEY" GET "/api/v1/acl-entries?resource=project:acme/api/secrets&include_ancestors=true")
expect "entries on project:acme/api/secrets and above" \
  "$(field "$answer" "[.data[] | select(.principal == \"$ENGINEERS\" or .principal == \"$WEB_TEAM\") | .resource] | join(\" \")")" \
  "project:acme project:acme/api project:acme/api/secrets"

# 5. The resource server's key: it may ask questions (authz:check), not change the answers.
CHECKER=$(call "$TRONCH_API_KEY" POST /api/v1/keys '{"name": "acme backend", "scopes": ["authz:check"]}' \
  | cut -d' ' -f2- | jq -r .key)
answer=$(call "$CHECKER" GET /api/v1/groups)
expect "the checker lists groups" "${answer%% *}" 403

# 6. Questions, and the rule that answered each one.
expect "Mia deploys web" "$(check "$CHECKER" "$MIA" deploy project:acme/web)" "true acl_allow project:acme/web"
expect "Mia reads web's assets" "$(check "$CHECKER" "$MIA" read project:acme/web/assets)" "true dacl_allow project:acme"
expect "Mia reads the API's secrets" "$(check "$CHECKER" "$MIA" read project:acme/api/secrets)" "false acl_deny project:acme/api/secrets"
expect "Noah reads the API's secrets" "$(check "$CHECKER" "$NOAH" read project:acme/api/secrets)" "true dacl_allow project:acme"
expect "Noah deploys the API's gateway" "$(check "$CHECKER" "$NOAH" deploy project:acme/api/gateway)" "false dacl_deny project:acme/api"
expect "Noah deploys a sandbox demo" "$(check "$CHECKER" "$NOAH" deploy project:acme/api/sandbox/demo)" "true dacl_allow project:acme/api/sandbox"
expect "Noah deploys web" "$(check "$CHECKER" "$NOAH" deploy project:acme/web)" "false fallback -"
expect "Mia reads the tenant itself" "$(check "$CHECKER" "$MIA" read project:acme)" "false fallback -"

# 7. The full answer names the entry that decided.
answer=$(call "$CHECKER" POST /api/v1/authz/check "$(jq -n --arg p "$MIA" \
  '{principal: $p, action: "read", resource: "project:acme/api/secrets"}')")
echo "    ${answer#* }"
expect "the deciding entry" "$(field "$answer" .reason.entry_id)" "$NO_SECRETS"

# 8. A key Mia owns acts with her rights, narrowed by its scopes (<type>:<action>).
MIA_KEY=key:$(call "$TRONCH_API_KEY" POST /api/v1/keys "$(jq -n --arg o "$MIA" \
  '{name: "mia laptop", owner_id: $o, scopes: ["project:read"]}')" | cut -d' ' -f2- | jq -r .id)
expect "Mia's key reads web's assets" "$(check "$CHECKER" "$MIA_KEY" read project:acme/web/assets)" "true dacl_allow project:acme"
expect "Mia's key deploys web" "$(check "$CHECKER" "$MIA_KEY" deploy project:acme/web)" "false key_scope -"

# 9. Up to 100 questions at once, answered in order.
answer=$(call "$CHECKER" POST /api/v1/authz/check-batch "$(jq -n --arg m "$MIA" --arg n "$NOAH" '{checks: [
  {principal: $m, action: "deploy", resource: "project:acme/web"},
  {principal: $n, action: "deploy", resource: "project:acme/web"},
  {principal: $n, action: "deploy", resource: "project:acme/api/sandbox/demo"}]}')")
expect "a batch" "${answer%% *} $(field "$answer" '[.results[] | "\(.allowed) \(.reason.rule)"] | join(", ")')" \
  "200 true acl_allow, false fallback, true dacl_allow"

# 10. A change is seen by the very next check: Mia leaves the web team, and with it its rights.
answer=$(call "$TRONCH_API_KEY" DELETE "/api/v1/groups/${WEB_TEAM#group:}/members/$MIA")
expect "remove Mia from acme web" "${answer%% *}" 204
expect "Mia deploys web" "$(check "$CHECKER" "$MIA" deploy project:acme/web)" "false fallback -"
answer=$(call "$TRONCH_API_KEY" DELETE "/api/v1/acl-entries/$READ_ALL")
expect "delete the default read" "${answer%% *}" 204
expect "Noah reads the API's secrets" "$(check "$CHECKER" "$NOAH" read project:acme/api/secrets)" "false fallback -"
echo "authz done"
