#!/usr/bin/env bash
# The Swift middleware (docs/swift.md) in front of an API of your own: Examples/ProtectedAPI, a Hummingbird app
# whose routes TronchMiddleware protects, started with a verifier key, then called with a customer's key and
# with a person's access token.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  the root key (or a key that may create keys with keys:verify)
#   PROTECTED_API   the example app's binary (default: built by `swift build`, in its bin path)
#
# Needs curl and jq. scripts/check-docs runs it.
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"
PROTECTED_API=${PROTECTED_API:-$(swift build --show-bin-path)/ProtectedAPI}

api() {
  curl -sS --fail-with-body --max-time 10 -X "$1" "$TRONCH_URL$2" \
    -H "Authorization: Bearer $TRONCH_API_KEY" -H 'Content-Type: application/json' ${3:+--data "$3"}
}

# A key the app verifies with, and a customer's key that may read orders.
verifier=$(api POST /api/v1/keys '{"name":"orders API verifier","scopes":["keys:verify"]}' | jq -r .key)
customer=$(api POST /api/v1/keys '{"name":"Acme","owner_id":"cus_acme","scopes":["orders:read"]}' | jq -r .key)

# The app, on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
issuer=$(curl -sS "$TRONCH_URL/.well-known/oauth-authorization-server" | jq -r .issuer)
TRONCH_URL=$TRONCH_URL TRONCH_VERIFY_KEY=$verifier TRONCH_ISSUER=$issuer PORT=$port "$PROTECTED_API" >/dev/null 2>&1 &
app=$!
trap 'kill $app 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done

# The customer's key reaches /orders; the app sees who is calling.
curl -sS --fail-with-body "http://127.0.0.1:$port/orders" -H "Authorization: Bearer $customer" | jq -c .
# No key: 401 with Tronch's problem; a key without orders:write: 403 on POST /orders.
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/orders")
[ "$code" = 401 ] || { echo "expected 401 without a key, got $code" >&2; exit 1; }
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/orders" -H "Authorization: Bearer $customer")
[ "$code" = 403 ] || { echo "expected 403 without orders:write, got $code" >&2; exit 1; }
echo "no key: 401; missing scope: 403"

# A person's access token is checked by the app itself, against Tronch's JWKS.
api POST /api/v1/users '{"username":"swift-example","email":"swift-example@example.com","password":"a password for the example","role":"member"}' >/dev/null
token=$(curl -sS --fail-with-body "$TRONCH_URL/api/v1/auth/login" -H 'Content-Type: application/json' \
  --data '{"username":"swift-example","password":"a password for the example"}' | jq -r .access_token)
curl -sS --fail-with-body "http://127.0.0.1:$port/me" -H "Authorization: Bearer $token" | jq -c '{kind, role}'
