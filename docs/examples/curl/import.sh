#!/usr/bin/env bash
# Bringing existing keys to Tronch: one key whose secret the old system still has in plain text, one it
# only kept as a SHA-256 hash; both verify afterwards, and the hashed one is upgraded on first use.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with keys:write and keys:verify (and every scope the imported keys get)
#
# Needs curl, jq and sha256sum. Exits non-zero on the first failure. scripts/check-docs runs it.
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"

api() {
  curl -sS --fail-with-body --max-time 10 -X "$1" "$TRONCH_URL$2" \
    -H "Authorization: Bearer $TRONCH_API_KEY" \
    -H 'Content-Type: application/json' \
    ${3:+--data "$3"}
}

expect() {
  if [ "$2" != "$3" ]; then echo "FAILED: $1 is '$2', expected '$3'" >&2; exit 1; fi
  echo "ok: $1 = $3"
}

# Two keys your customers already hold (made up here; random so the example can run again).
plain_key="acme_live_$(openssl rand -hex 16)"
hashed_key="acme_live_$(openssl rand -hex 16)"
# The old system stored only this for the second one:
hashed_value=$(printf '%s' "$hashed_key" | sha256sum | cut -d' ' -f1)

# 1. Import both in one request: stored together or not at all.
imported=$(api POST /api/v1/keys/import "{
  \"keys\": [
    {\"key\": \"$plain_key\", \"name\": \"Acme (from the old system)\", \"owner_id\": \"cus_acme\",
     \"scopes\": [\"orders:read\"]},
    {\"hash\": {\"algorithm\": \"sha256\", \"value\": \"$hashed_value\"}, \"owner_id\": \"cus_acme\",
     \"expires_at\": \"2030-01-01T00:00:00Z\"}
  ]
}")
expect "imported" "$(echo "$imported" | jq -r '.imported')" "2"

# 2. Both verify like keys Tronch issued.
verify() { api POST /api/v1/keys/verify "{\"key\": \"$1\"}" | jq -r '.code'; }
expect "plain-text key" "$(verify "$plain_key")" "VALID"
expect "hashed key" "$(verify "$hashed_key")" "VALID"
expect "hashed key, now under Tronch's own hash" "$(verify "$hashed_key")" "VALID"

# 3. Importing the same keys again is refused as a whole, naming the first key already there.
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$TRONCH_URL/api/v1/keys/import" \
  -H "Authorization: Bearer $TRONCH_API_KEY" -H 'Content-Type: application/json' \
  --data "{\"keys\": [{\"key\": \"$plain_key\"}]}")
expect "second import" "$status" "409"
