#!/usr/bin/env bash
# Least privilege: a provisioning service's key may issue customers' keys with the scopes it holds, and
# nothing more. It cannot grant Tronch's reserved scopes, touch keys that hold scopes it lacks, or verify.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with admin (the root key)
#
# Needs curl and jq. Exits non-zero on the first failure. scripts/check-docs runs it.
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"

# call KEY METHOD PATH [JSON]: prints "STATUS BODY" whatever the status.
call() {
  curl -sS --max-time 10 -w '\n%{http_code}' -X "$2" "$TRONCH_URL$3" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' ${4:+--data "$4"} \
    | { body=$(cat); echo "${body##*$'\n'} ${body%$'\n'*}"; }
}
expect() {
  if [ "$2" != "$3" ]; then echo "FAILED: $1 is '$2', expected '$3'" >&2; exit 1; fi
  echo "ok: $1 = $3"
}

# The keys an administrator makes once, with the root key.
PROVISIONING_KEY=$(call "$TRONCH_API_KEY" POST /api/v1/keys \
  '{"name": "signup service", "scopes": ["keys:read", "keys:write", "orders:*"]}' | cut -d' ' -f2- | jq -r .key)
backend_id=$(call "$TRONCH_API_KEY" POST /api/v1/keys \
  '{"name": "orders-api backend", "scopes": ["keys:verify"]}' | cut -d' ' -f2- | jq -r .id)

# It issues a customer's key with scopes it holds (orders:* covers both).
answer=$(call "$PROVISIONING_KEY" POST /api/v1/keys '{"owner_id": "cus_9", "scopes": ["orders:read", "orders:write"]}')
expect "create a customer key" "${answer%% *}" 201

# It cannot grant a scope it does not hold, reserved or not.
answer=$(call "$PROVISIONING_KEY" POST /api/v1/keys '{"scopes": ["keys:verify"]}')
expect "grant keys:verify" "${answer%% *}" 403
echo "    $(jq -r .detail <<<"${answer#* }")"

# It cannot revoke (nor update, nor rotate) a key that holds a scope it lacks.
answer=$(call "$PROVISIONING_KEY" DELETE "/api/v1/keys/$backend_id")
expect "revoke the backend key" "${answer%% *}" 403
echo "    $(jq -r .detail <<<"${answer#* }")"

# It cannot verify keys: that is the backend key's job.
answer=$(call "$PROVISIONING_KEY" POST /api/v1/keys/verify '{"key": "tronch_sk_live_not-a-real-key"}')
expect "verify" "${answer%% *}" 403
echo "    $(jq -r .detail <<<"${answer#* }")"

# A customer's key holding the wildcard * has no access to Tronch's own API.
WILDCARD_KEY=$(call "$TRONCH_API_KEY" POST /api/v1/keys '{"scopes": ["*"]}' | cut -d' ' -f2- | jq -r .key)
answer=$(call "$WILDCARD_KEY" GET /api/v1/keys)
expect "list keys with *" "${answer%% *}" 403
echo "least-privilege done"
