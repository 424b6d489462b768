#!/usr/bin/env bash
# Signed requests from the shell: a key that signs its requests (RFC 9421, hmac-sha256), a request signed
# with openssl, your API's verification of it (with the body's SHA-256), a replay and a tampered body
# refused, the same through forward authentication, and a rotation that draws a new signing secret.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with admin (the root key): it creates the backend key and the customer's key
#
# Needs curl, jq, openssl and base64. Exits non-zero on the first failure. scripts/check-docs runs it.
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"

admin() {
  curl -sS --fail-with-body --max-time 10 -X "$1" "$TRONCH_URL$2" \
    -H "Authorization: Bearer $TRONCH_API_KEY" -H 'Content-Type: application/json' ${3:+--data "$3"}
}
expect() {
  if [ "$2" != "$3" ]; then echo "FAILED: $1 is '$2', expected '$3'" >&2; exit 1; fi
  echo "ok: $1 = $3"
}

# A key that signs its requests. signing_secret is in this answer and nowhere else, like the key.
created=$(admin POST /api/v1/keys '{"name": "Acme signer", "owner_id": "cus_123", "scopes": ["orders:write"], "signing": true}')
KEY=$(jq -r .key <<<"$created")
SIGNING_SECRET=$(jq -r .signing_secret <<<"$created")
expect "signing" "$(jq -r .signing <<<"$created")" true
expect "signing_secret length" "${#SIGNING_SECRET}" 43

# sign METHOD PATH?QUERY BODY: the client's side. Sets CONTENT_DIGEST, SIGNATURE_INPUT and SIGNATURE, the
# three headers to send with the request. The HMAC key is the signing secret decoded from base64url.
sign() {
  local method=$1 target=$2 body=$3 path query params base hex_key mac
  path=${target%%\?*}
  query=${target#"$path"} && query="?${query#\?}"             # "?" and the query, or just "?" without one
  CONTENT_DIGEST="sha-256=:$(printf '%s' "$body" | openssl dgst -sha256 -binary | base64):"
  params="(\"@method\" \"@path\" \"@query\" \"content-digest\");created=${CREATED:-$(date +%s)};nonce=\"$(openssl rand -hex 16)\""
  base=$(printf '"@method": %s\n"@path": %s\n"@query": %s\n"content-digest": %s\n"@signature-params": %s' \
    "$method" "$path" "$query" "$CONTENT_DIGEST" "$params")
  hex_key=$(printf '%s=' "$SIGNING_SECRET" | tr '_-' '/+' | base64 -d | od -An -v -tx1 | tr -d ' \n')
  mac=$(printf '%s' "$base" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex_key" -binary | base64)
  SIGNATURE_INPUT="sig1=$params"
  SIGNATURE="sig1=:$mac:"
}

body='{"sku": "A-1", "quantity": 2}'
sign POST '/orders?expand=items' "$body"
echo "Content-Digest: $CONTENT_DIGEST"
echo "Signature-Input: $SIGNATURE_INPUT"
echo "Signature: $SIGNATURE"
# The client sends: curl -X POST "https://api.example.com/orders?expand=items" -H "Authorization: Bearer $KEY" \
#   -H "Content-Digest: $CONTENT_DIGEST" -H "Signature-Input: $SIGNATURE_INPUT" -H "Signature: $SIGNATURE" \
#   --data "$body"

# Your API's side: a backend key that may only verify, and one verification per request, with the request
# as received and the SHA-256 of the body received (base64, not hex).
backend=$(admin POST /api/v1/keys '{"name": "orders-api backend", "scopes": ["keys:verify"]}')
BACKEND_KEY=$(jq -r .key <<<"$backend")
verify() { # verify BODY_RECEIVED: the code Tronch answers for the request signed last
  curl -sS --fail --max-time 2 -X POST "$TRONCH_URL/api/v1/keys/verify" \
    -H "Authorization: Bearer $BACKEND_KEY" -H 'Content-Type: application/json' \
    --data "$(jq -n --arg key "$KEY" --arg input "$SIGNATURE_INPUT" --arg signature "$SIGNATURE" \
      --arg digest "$CONTENT_DIGEST" --arg body_sha256 "$(printf '%s' "$1" | openssl dgst -sha256 -binary | base64)" \
      '{key: $key, scopes: ["orders:write"], request: {method: "POST", path: "/orders", query: "expand=items",
        headers: {"signature-input": $input, "signature": $signature, "content-digest": $digest},
        body_sha256: $body_sha256}}')" | jq -r .code
}
expect "the signed request" "$(verify "$body")" VALID
expect "the same request again" "$(verify "$body")" SIGNATURE_REPLAYED
sign POST '/orders?expand=items' "$body"
expect "another body under a fresh signature" "$(verify '{"sku": "A-1", "quantity": 200}')" SIGNATURE_INVALID
CREATED=$(($(date +%s) - 600)) sign POST '/orders?expand=items' "$body"
expect "a signature made ten minutes ago" "$(verify "$body")" SIGNATURE_EXPIRED
answer=$(curl -sS --fail -X POST "$TRONCH_URL/api/v1/keys/verify" -H "Authorization: Bearer $BACKEND_KEY" \
  -H 'Content-Type: application/json' --data "{\"key\": \"$KEY\"}")
expect "the key alone, without its request" "$(jq -r .code <<<"$answer")" SIGNATURE_INVALID

# Forward authentication: a gateway passes the client's headers to /api/v1/auth/check, with the client's
# method and URI. The signature headers go along with the key.
check() {
  curl -sS -o /dev/null -w '%{http_code} %header{x-tronch-code}' "$TRONCH_URL/api/v1/auth/check" \
    -H "X-API-Key: $KEY" -H 'X-Forwarded-Method: GET' -H 'X-Forwarded-Uri: /orders/1?expand=items' \
    -H "Content-Digest: $CONTENT_DIGEST" -H "Signature-Input: $SIGNATURE_INPUT" -H "Signature: $SIGNATURE"
}
sign GET '/orders/1?expand=items' ''
expect "forward authentication" "$(check)" "200 VALID"
expect "forward authentication, replayed" "$(check)" "401 SIGNATURE_REPLAYED"

# Rotation: the new key signs too (unless the rotation says "signing": false), with a new secret.
rotated=$(admin POST "/api/v1/keys/$(jq -r .id <<<"$created")/rotate" '{"grace_period_seconds": 0}')
expect "rotated key signs" "$(jq -r .signing <<<"$rotated")" true
[ "$(jq -r .signing_secret <<<"$rotated")" != "$SIGNING_SECRET" ] || { echo "FAILED: same secret" >&2; exit 1; }
echo "ok: the rotated key has a new signing_secret"

admin DELETE "/api/v1/keys/$(jq -r .id <<<"$rotated")" >/dev/null
admin DELETE "/api/v1/keys/$(jq -r .id <<<"$backend")" >/dev/null
echo "signed-requests done"
