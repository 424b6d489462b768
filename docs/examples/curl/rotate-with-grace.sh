#!/usr/bin/env bash
# The rotation playbook: rotate with a grace period, let the customer deploy the new key, see from
# last_used_at and usage that the old key is no longer sent, then revoke the old key.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with admin (the root key) or with keys:read, keys:write and keys:verify
#
# Needs curl and jq. Exits non-zero on the first failure. scripts/check-docs runs it (about 10 s: it waits
# for the server to write key uses, every TRONCH_USAGE_FLUSH_INTERVAL, 2 s by default).
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"

api() {
  curl -sS --fail-with-body --max-time 10 -X "$1" "$TRONCH_URL$2" \
    -H "Authorization: Bearer $TRONCH_API_KEY" -H 'Content-Type: application/json' ${3:+--data "$3"}
}
expect() {
  if [ "$2" != "$3" ]; then echo "FAILED: $1 is '$2', expected '$3'" >&2; exit 1; fi
  echo "ok: $1 = $3"
}
# The customer's traffic: your API verifies whichever key the customer sends.
customer_request() {
  api POST /api/v1/keys/verify "{\"key\": \"$1\", \"scopes\": [\"orders:read\"]}" | jq -r .code
}
# wait_for_use ID AFTER: waits until the key's last_used_at is later than AFTER (uses are written in batches).
wait_for_use() {
  for _ in $(seq 1 50); do
    used=$(api GET "/api/v1/keys/$1" | jq -r '.last_used_at // ""')
    if [ -n "$used" ] && [[ "$used" > "$2" ]]; then echo "$used"; return; fi
    sleep 0.2
  done
  echo "FAILED: last_used_at of $1 did not move past $2" >&2
  exit 1
}

old=$(api POST /api/v1/keys '{"name": "Acme production", "owner_id": "cus_123", "scopes": ["orders:read"]}')
old_id=$(jq -r .id <<<"$old")
old_key=$(jq -r .key <<<"$old")
expect "before the rotation" "$(customer_request "$old_key")" VALID

# 1. Rotate with a grace period long enough for the customer to deploy (here one day).
rotated=$(api POST "/api/v1/keys/$old_id/rotate" '{"grace_period_seconds": 86400}')
new_id=$(jq -r .id <<<"$rotated")
new_key=$(jq -r .key <<<"$rotated")   # hand this to the customer; Tronch never shows it again
rotated_at=$(jq -r .created_at <<<"$rotated")
echo "old key works until $(api GET "/api/v1/keys/$old_id" | jq -r .grace_until)"

# 2. Until the customer deploys, the old key still works, and each use moves its last_used_at.
expect "old key during the grace period" "$(customer_request "$old_key")" VALID
old_used=$(wait_for_use "$old_id" "$rotated_at")
echo "old key last used at $old_used"

# 3. The customer deploys the new key. Its own last_used_at now moves; the old key's stays put.
expect "new key" "$(customer_request "$new_key")" VALID
new_used=$(wait_for_use "$new_id" "$rotated_at")
echo "new key first used at $new_used"
expect "old key's last_used_at since the deploy" "$(api GET "/api/v1/keys/$old_id" | jq -r .last_used_at)" "$old_used"

# Usage per minute tells the same story: the old key's verifications, minute by minute, from the minute
# of the rotation on ("from" is rounded down to the minute). Look for minutes after the deploy.
usage=$(api GET "/api/v1/keys/$old_id/usage?granularity=minute&from=$rotated_at")
jq -c '.series[] | {start, verifications}' <<<"$usage"

# 4. The old key is no longer sent: revoke it rather than wait for the end of the grace period.
expect "old key's status" "$(api DELETE "/api/v1/keys/$old_id" | jq -r .status)" revoked
expect "old key after revoke" "$(customer_request "$old_key")" REVOKED
expect "new key after revoke" "$(customer_request "$new_key")" VALID
echo "rotate-with-grace done"
