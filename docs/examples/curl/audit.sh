#!/usr/bin/env bash
# Reading the audit log with a key that holds only audit:read: the history of one key, a revoked key
# that is still in use, and every page of a filtered list.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with admin (the root key): it creates the auditor key and a key to audit
#
# Needs curl and jq. Exits non-zero on the first failure. scripts/check-docs runs it.
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"

# call KEY METHOD PATH [JSON]: one call to Tronch's API with KEY; fails on a 4xx or 5xx.
call() {
  curl -sS --fail-with-body --max-time 10 -X "$2" "$TRONCH_URL$3" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' ${4:+--data "$4"}
}
expect() {
  if [ "$2" != "$3" ]; then echo "FAILED: $1 is '$2', expected '$3'" >&2; exit 1; fi
  echo "ok: $1 = $3"
}

# A key for whoever reads the log (a SIEM exporter, a person on call): audit:read and nothing else.
auditor=$(call "$TRONCH_API_KEY" POST /api/v1/keys '{"name": "audit reader", "scopes": ["audit:read"]}')
AUDIT_KEY=$(jq -r .key <<<"$auditor")

# Some history: a key is created, changed and revoked; then its owner still sends it to Tronch's API.
created=$(call "$TRONCH_API_KEY" POST /api/v1/keys '{"name": "Acme support tool", "owner_id": "cus_123", "scopes": ["keys:read"]}')
id=$(jq -r .id <<<"$created")
call "$TRONCH_API_KEY" PATCH "/api/v1/keys/$id" '{"name": "Acme support tool (old)"}' >/dev/null
call "$TRONCH_API_KEY" DELETE "/api/v1/keys/$id" >/dev/null
status=$(curl -sS -o /dev/null -w '%{http_code}' "$TRONCH_URL/api/v1/keys" \
  -H "Authorization: Bearer $(jq -r .key <<<"$created")" -H 'User-Agent: acme-support/2.1')
expect "a revoked key on Tronch's API" "$status" 401

# 1. Everything done to the key, newest first.
history=$(call "$AUDIT_KEY" GET "/api/v1/audit-logs?target_id=$id")
jq -c '.data[] | {sequence, time, action, actor: .actor.id, details}' <<<"$history"
expect "actions on the key" "$(jq -c '[.data[].action]' <<<"$history")" '["key.revoked","key.updated","key.created"]'
expect "fields the update sent" "$(jq -c '.data[1].details.fields' <<<"$history")" '["name"]'

# 2. The revoked key still in use: auth.failed, with the key itself as the actor and the reason.
failures=$(call "$AUDIT_KEY" GET "/api/v1/audit-logs?action=auth.failed&actor_id=$id")
jq -c '.data[] | {time, reason: .details.reason, route: .details.route, client_ip, user_agent, request_id}' <<<"$failures"
expect "reason" "$(jq -r '.data[0].details.reason' <<<"$failures")" REVOKED
expect "user agent" "$(jq -r '.data[0].user_agent' <<<"$failures")" acme-support/2.1

# 3. Every key.created entry, page by page: pass next_cursor back as cursor until it is null.
cursor=""
count=0
while :; do
  page=$(call "$AUDIT_KEY" GET "/api/v1/audit-logs?action=key.created&limit=2${cursor:+&cursor=$cursor}")
  count=$((count + $(jq '.data | length' <<<"$page")))
  cursor=$(jq -r '.next_cursor // empty' <<<"$page")
  [ -n "$cursor" ] || break
done
echo "key.created entries: $count"
[ "$count" -ge 2 ] || { echo "FAILED: expected at least 2 key.created entries" >&2; exit 1; }

# 4. The auditor key may read the log and nothing else. The refusal is itself recorded, as auth.denied.
status=$(curl -sS -o /dev/null -w '%{http_code}' "$TRONCH_URL/api/v1/keys" -H "Authorization: Bearer $AUDIT_KEY")
expect "the auditor key lists keys" "$status" 403
denied=$(call "$AUDIT_KEY" GET "/api/v1/audit-logs?action=auth.denied&actor_id=$(jq -r .id <<<"$auditor")")
expect "latest denial's route" "$(jq -r '.data[0].details.route' <<<"$denied")" /api/v1/keys
echo "audit done"
