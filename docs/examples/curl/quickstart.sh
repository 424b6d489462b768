#!/usr/bin/env bash
# Quickstart with curl: create a key for a customer, verify it, list, update, rotate and revoke it.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with admin (the root key) or with keys:read, keys:write and keys:verify
#
# Needs curl and jq. Exits non-zero on the first failure. scripts/check-docs runs it.
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"

# api METHOD PATH [JSON]: one call to Tronch's API; prints the answer and fails on a 4xx or 5xx.
api() {
  curl -sS --fail-with-body --max-time 10 -X "$1" "$TRONCH_URL$2" \
    -H "Authorization: Bearer $TRONCH_API_KEY" \
    -H 'Content-Type: application/json' \
    ${3:+--data "$3"}
}

# expect WHAT ACTUAL WANTED: stops the script when a value is not the one the guide promises.
expect() {
  if [ "$2" != "$3" ]; then echo "FAILED: $1 is '$2', expected '$3'" >&2; exit 1; fi
  echo "ok: $1 = $3"
}

# 1. Create a key for a customer. The secret ("key") is in this answer and nowhere else, ever.
created=$(api POST /api/v1/keys '{
  "name": "Acme production",
  "owner_id": "cus_123",
  "scopes": ["orders:read", "orders:write"],
  "meta": {"plan": "pro"}
}')
key=$(jq -r .key <<<"$created")
id=$(jq -r .id <<<"$created")
echo "created $id, shown as $(jq -r '.start + "…" + .end' <<<"$created")"

# 2. Verify it, as your API does on each request. Every verdict is a 200: read "valid" and "code".
verify() {
  api POST /api/v1/keys/verify "$(jq -n --arg key "$1" --arg scope "$2" '{key: $key, scopes: [$scope]}')"
}
expect "verify with orders:read" "$(verify "$key" orders:read | jq -r .code)" VALID
expect "verify with orders:delete" "$(verify "$key" orders:delete | jq -r .code)" INSUFFICIENT_SCOPES

# 3. List the customer's keys, newest first. Follow next_cursor while it is not null.
listed=$(api GET "/api/v1/keys?owner_id=cus_123&limit=10")
expect "the new key is listed" "$(jq --arg id "$id" '[.data[].id] | index($id) != null' <<<"$listed")" true

# 4. Change its name and metadata. Fields you leave out stay as they are.
updated=$(api PATCH "/api/v1/keys/$id" '{"name": "Acme production (EU)", "meta": {"plan": "enterprise"}}')
expect "new name" "$(jq -r .name <<<"$updated")" "Acme production (EU)"
expect "scopes unchanged" "$(jq -c .scopes <<<"$updated")" '["orders:read","orders:write"]'

# 5. Rotate it: a new secret with the same settings; the old one keeps working for an hour.
rotated=$(api POST "/api/v1/keys/$id/rotate" '{"grace_period_seconds": 3600}')
new_key=$(jq -r .key <<<"$rotated")
new_id=$(jq -r .id <<<"$rotated")
expect "successor's rotated_from" "$(jq -r .rotated_from <<<"$rotated")" "$id"
expect "old key during the grace period" "$(verify "$key" orders:read | jq -r .code)" VALID
expect "new key" "$(verify "$new_key" orders:read | jq -r .code)" VALID

# 6. Revoke the old key once the customer has switched: it stops at once, before its grace period ends.
revoked=$(api DELETE "/api/v1/keys/$id")
expect "old key's status" "$(jq -r .status <<<"$revoked")" revoked
expect "old key after revoke" "$(verify "$key" orders:read | jq -r .code)" REVOKED
expect "new key after revoke" "$(verify "$new_key" orders:read | jq -r .code)" VALID

# Clean up: revoke the successor too (revoked keys stay listed, with status "revoked").
api DELETE "/api/v1/keys/$new_id" >/dev/null
echo "quickstart done"
