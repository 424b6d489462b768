#!/usr/bin/env bash
# How your API checks a customer's key: with a backend key that holds only keys:verify, one call per
# request, and one HTTP answer of your API for each verification code. Makes a key for every code.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with admin (the root key): it creates the backend key and the customer keys
#
# Needs curl and jq. Exits non-zero on the first failure. scripts/check-docs runs it.
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"

# admin METHOD PATH [JSON]: a management call with TRONCH_API_KEY; fails on a 4xx or 5xx.
admin() {
  curl -sS --fail-with-body --max-time 10 -X "$1" "$TRONCH_URL$2" \
    -H "Authorization: Bearer $TRONCH_API_KEY" -H 'Content-Type: application/json' ${3:+--data "$3"}
}
expect() {
  if [ "$2" != "$3" ]; then echo "FAILED: $1 is '$2', expected '$3'" >&2; exit 1; fi
  echo "ok: $1 = $3"
}

# Set-up, once: the key your API's backend uses. It may verify keys and do nothing else.
BACKEND_KEY=$(admin POST /api/v1/keys '{"name": "orders-api backend", "scopes": ["keys:verify"]}' | jq -r .key)

# check_key KEY SCOPE CLIENT_IP: what your API does on each request. Prints the HTTP status your API
# answers its own client with. Tronch answers 200 for every verdict; any other status, a timeout or a
# refused connection means the check itself failed, and the request is refused (fail closed).
check_key() {
  local answer
  answer=$(curl -sS --fail --max-time 2 -X POST "$TRONCH_URL/api/v1/keys/verify" \
    -H "Authorization: Bearer $BACKEND_KEY" -H 'Content-Type: application/json' \
    --data "$(jq -n --arg key "$1" --arg scope "$2" --arg ip "$3" '{key: $key, scopes: [$scope], ip: $ip}')") \
    || { echo 503; return; }
  case $(jq -r .code <<<"$answer") in
    VALID) echo 200 ;;                                      # go ahead; owner_id, scopes and meta are in $answer
    NOT_FOUND | REVOKED | DISABLED | EXPIRED) echo 401 ;;   # not a usable key
    SIGNATURE_INVALID | SIGNATURE_EXPIRED | SIGNATURE_REPLAYED) echo 401 ;;  # a signing key, without a good signature
    FORBIDDEN | INSUFFICIENT_SCOPES) echo 403 ;;            # a good key, but not for this address or action
    RATE_LIMITED) echo 429 ;;                               # too many requests for this key right now
    USAGE_EXCEEDED) echo 402 ;;                             # credits used up (402, 403 or 429: your choice)
    *) echo 500 ;;                                          # a code added by a later Tronch: refuse
  esac
}

# verdict KEY [SCOPE] [CLIENT_IP]: the verification code itself, to show which check decided.
verdict() {
  curl -sS --fail --max-time 2 -X POST "$TRONCH_URL/api/v1/keys/verify" \
    -H "Authorization: Bearer $BACKEND_KEY" -H 'Content-Type: application/json' \
    --data "$(jq -n --arg key "$1" --arg scope "${2:-orders:read}" --arg ip "${3:-203.0.113.7}" \
      '{key: $key, scopes: [$scope], ip: $ip}')" | jq -r .code
}

customer_key() { admin POST /api/v1/keys "$1" | jq -r .key; }

# VALID, and the fields your API can use without another call.
good=$(customer_key '{"owner_id": "cus_123", "scopes": ["orders:read"], "meta": {"plan": "pro"}}')
answer=$(curl -sS --fail -X POST "$TRONCH_URL/api/v1/keys/verify" -H "Authorization: Bearer $BACKEND_KEY" \
  -H 'Content-Type: application/json' --data "{\"key\": \"$good\", \"scopes\": [\"orders:read\"]}")
expect "VALID: owner_id" "$(jq -r .owner_id <<<"$answer")" cus_123
expect "VALID: meta.plan" "$(jq -r .meta.plan <<<"$answer")" pro
expect "VALID: your API answers" "$(check_key "$good" orders:read 203.0.113.7)" 200

# NOT_FOUND: unknown, malformed, or one character changed (the checksum fails; no lookup is made).
expect "NOT_FOUND (garbage)" "$(verdict not-a-key)" NOT_FOUND
typo=${good%?}$([ "${good: -1}" = x ] && echo y || echo x)
expect "NOT_FOUND (typo)" "$(verdict "$typo")" NOT_FOUND
expect "NOT_FOUND: your API answers" "$(check_key not-a-key orders:read 203.0.113.7)" 401

# INSUFFICIENT_SCOPES: the key lacks a scope the route needs.
expect "INSUFFICIENT_SCOPES" "$(verdict "$good" orders:write)" INSUFFICIENT_SCOPES
expect "INSUFFICIENT_SCOPES: your API answers" "$(check_key "$good" orders:write 203.0.113.7)" 403

# FORBIDDEN: the key has an IP allowlist and the client's address is outside it (or was not sent).
fenced=$(customer_key '{"scopes": ["orders:read"], "allowed_ips": ["203.0.113.0/24"]}')
expect "allowlisted address" "$(verdict "$fenced" orders:read 203.0.113.7)" VALID
expect "FORBIDDEN" "$(verdict "$fenced" orders:read 198.51.100.1)" FORBIDDEN

# RATE_LIMITED: this key may be verified twice a minute.
limited=$(customer_key '{"scopes": ["orders:read"], "ratelimits": [{"limit": 2, "period_seconds": 60}]}')
verdict "$limited" >/dev/null
verdict "$limited" >/dev/null
expect "RATE_LIMITED" "$(verdict "$limited")" RATE_LIMITED
expect "RATE_LIMITED: your API answers" "$(check_key "$limited" orders:read 203.0.113.7)" 429

# USAGE_EXCEEDED: one credit, spent by the first verification.
metered=$(customer_key '{"scopes": ["orders:read"], "remaining": 1}')
expect "first verification" "$(verdict "$metered")" VALID
expect "USAGE_EXCEEDED" "$(verdict "$metered")" USAGE_EXCEEDED

# DISABLED: switched off, and back on.
paused=$(admin POST /api/v1/keys '{"scopes": ["orders:read"]}')
admin PATCH "/api/v1/keys/$(jq -r .id <<<"$paused")" '{"enabled": false}' >/dev/null
expect "DISABLED" "$(verdict "$(jq -r .key <<<"$paused")")" DISABLED
admin PATCH "/api/v1/keys/$(jq -r .id <<<"$paused")" '{"enabled": true}' >/dev/null
expect "enabled again" "$(verdict "$(jq -r .key <<<"$paused")")" VALID

# EXPIRED: past expires_at, or past the grace period of a rotation (one second here).
old=$(admin POST /api/v1/keys '{"scopes": ["orders:read"]}')
admin POST "/api/v1/keys/$(jq -r .id <<<"$old")/rotate" '{"grace_period_seconds": 1}' >/dev/null
sleep 1.5
expect "EXPIRED" "$(verdict "$(jq -r .key <<<"$old")")" EXPIRED

# REVOKED: revoked for good.
gone=$(admin POST /api/v1/keys '{"scopes": ["orders:read"]}')
admin DELETE "/api/v1/keys/$(jq -r .id <<<"$gone")" >/dev/null
expect "REVOKED" "$(verdict "$(jq -r .key <<<"$gone")")" REVOKED
expect "REVOKED: your API answers" "$(check_key "$(jq -r .key <<<"$gone")" orders:read 203.0.113.7)" 401

# The backend key can verify and nothing else: listing keys is a 403.
status=$(curl -sS -o /dev/null -w '%{http_code}' "$TRONCH_URL/api/v1/keys" -H "Authorization: Bearer $BACKEND_KEY")
expect "backend key lists keys" "$status" 403
echo "verify-in-your-api done"
