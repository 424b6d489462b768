#!/usr/bin/env bash
# People and tokens: the root key creates the first administrator, who logs in with a password and works
# with an access token; a member gets an account, logs in and makes a key of their own; refresh tokens
# rotate, a replayed one ends its session, logout ends a session, and deleting a user revokes their keys.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with admin (the root key): it creates the first administrator
#
# Needs curl and jq. Exits non-zero on the first failure. scripts/check-docs runs it.
set -euo pipefail

TRONCH_URL=${TRONCH_URL:-http://127.0.0.1:8080}
: "${TRONCH_API_KEY:?set TRONCH_API_KEY to the root key printed by tronch serve}"

# call CREDENTIAL METHOD PATH [JSON]: prints "STATUS BODY" whatever the status. CREDENTIAL is a key or an
# access token (both go in Authorization: Bearer), or - for none.
call() {
  local auth=()
  [ "$1" = - ] || auth=(-H "Authorization: Bearer $1")
  curl -sS --max-time 30 -w '\n%{http_code}' -X "$2" "$TRONCH_URL$3" \
    "${auth[@]}" -H 'Content-Type: application/json' ${4:+--data "$4"} \
    | { body=$(cat); echo "${body##*$'\n'} ${body%$'\n'*}"; }
}
expect() {
  if [ "$2" != "$3" ]; then echo "FAILED: $1 is '$2', expected '$3'" >&2; exit 1; fi
  echo "ok: $1 = $3"
}
# field ANSWER FILTER: a field of the body of a "STATUS BODY" answer.
field() { jq -r "$2" <<<"${1#* }"; }

# login USERNAME PASSWORD: the answer of POST /api/v1/auth/login. Every attempt counts toward the limit per
# client address (TRONCH_RATELIMIT_LOGIN, 5 a minute): on a 429, wait for the next one and try again.
login() {
  local answer
  for _ in 1 2 3 4 5 6; do
    answer=$(call - POST /api/v1/auth/login "$(jq -n --arg u "$1" --arg p "$2" '{username: $u, password: $p}')")
    [ "${answer%% *}" = 429 ] || break
    sleep 12
  done
  echo "$answer"
}

# Usernames and e-mail addresses are unique: a suffix lets the script run twice against one server.
run=$RANDOM$RANDOM
ADMIN=ada-$run
MEMBER=grace-$run

# 1. The root key creates the first administrator (the only thing it has to do with people).
answer=$(call "$TRONCH_API_KEY" POST /api/v1/users "$(jq -n --arg u "$ADMIN" '{username: $u,
  email: ($u + "@example.com"), display_name: "Ada Lovelace", role: "admin", password: "correct horse battery staple"}')")
expect "create the first admin" "${answer%% *}" 201

# 2. A wrong password, an unknown user, a disabled or a locked account: one answer for all of them.
answer=$(login "$ADMIN" "not her password")
expect "log in with a wrong password" "${answer%% *}" 401
expect "its code" "$(field "$answer" .code)" INVALID_CREDENTIALS

# 3. She logs in: an access token (a JWT for 10 minutes), a refresh token and the session's id.
answer=$(login "$ADMIN" "correct horse battery staple")
expect "log in" "${answer%% *}" 200
ACCESS_TOKEN=$(field "$answer" .access_token)
REFRESH_TOKEN=$(field "$answer" .refresh_token)
echo "    token_type $(field "$answer" .token_type), expires_in $(field "$answer" .expires_in)"

# 4. The access token goes where a key goes: Authorization: Bearer.
answer=$(call "$ACCESS_TOKEN" GET /api/v1/users/me)
expect "who am I" "$(field "$answer" '.username + " " + .role')" "$ADMIN admin"

# 5. The administrator creates a member (the default role).
answer=$(call "$ACCESS_TOKEN" POST /api/v1/users "$(jq -n --arg u "$MEMBER" '{username: $u,
  email: ($u + "@example.com"), display_name: "Grace Hopper", password: "a long and unusual passphrase"}')")
expect "create a member" "$(field "$answer" .role)" member
MEMBER_ID=$(field "$answer" .id)

# 6. Before the access token expires, the refresh token buys a new pair; the one presented dies.
answer=$(call - POST /api/v1/auth/refresh "$(jq -n --arg t "$REFRESH_TOKEN" '{refresh_token: $t}')")
expect "refresh" "${answer%% *}" 200
ACCESS_TOKEN=$(field "$answer" .access_token)
REFRESH_TOKEN=$(field "$answer" .refresh_token)
expect "the new access token" "$(call "$ACCESS_TOKEN" GET /api/v1/users/me | cut -d' ' -f1)" 200

# 7. Logout ends the session: its access tokens and its refresh token stop at once.
answer=$(call "$ACCESS_TOKEN" POST /api/v1/auth/logout)
expect "log out" "${answer%% *}" 204
answer=$(call "$ACCESS_TOKEN" GET /api/v1/users/me)
expect "the access token after logout" "${answer%% *} $(field "$answer" .code)" "401 TOKEN_INVALID"
answer=$(call - POST /api/v1/auth/refresh "$(jq -n --arg t "$REFRESH_TOKEN" '{refresh_token: $t}')")
expect "the refresh token after logout" "${answer%% *} $(field "$answer" .code)" "401 SESSION_REVOKED"

# 8. The member logs in and makes a key of her own: without owner_id it is hers (user:<id>).
answer=$(login "$MEMBER" "a long and unusual passphrase")
MEMBER_TOKEN=$(field "$answer" .access_token)
MEMBER_REFRESH=$(field "$answer" .refresh_token)
answer=$(call "$MEMBER_TOKEN" POST /api/v1/keys '{"name": "grace laptop", "scopes": ["keys:read", "orders:read"]}')
expect "a member's own key" "${answer%% *} $(field "$answer" .owner_id)" "201 user:$MEMBER_ID"
MEMBER_KEY=$(field "$answer" .key)

# 9. Her role bounds what she and her keys may do: no Tronch scope beyond keys:read and keys:write, only
#    her own keys, no other people.
answer=$(call "$MEMBER_TOKEN" POST /api/v1/keys '{"name": "log reader", "scopes": ["audit:read"]}')
expect "a member grants audit:read" "${answer%% *}" 403
answer=$(call "$MEMBER_KEY" GET /api/v1/keys)
expect "the keys her key lists" "$(field "$answer" '[.data[].owner_id] | unique | join(",")')" "user:$MEMBER_ID"
answer=$(call "$MEMBER_KEY" GET /api/v1/users)
expect "her key lists users" "${answer%% *}" 403

# 10. A refresh token presented twice was copied: the session ends, with every token of it.
answer=$(call - POST /api/v1/auth/refresh "$(jq -n --arg t "$MEMBER_REFRESH" '{refresh_token: $t}')")
expect "her refresh" "${answer%% *}" 200
MEMBER_TOKEN=$(field "$answer" .access_token)
answer=$(call - POST /api/v1/auth/refresh "$(jq -n --arg t "$MEMBER_REFRESH" '{refresh_token: $t}')")
expect "the same refresh token again" "${answer%% *} $(field "$answer" .code)" "401 REFRESH_TOKEN_REUSED"
answer=$(call "$MEMBER_TOKEN" GET /api/v1/users/me)
expect "her newest access token" "${answer%% *} $(field "$answer" .code)" "401 TOKEN_INVALID"
expect "her key (keys are not sessions)" "$(call "$MEMBER_KEY" GET /api/v1/keys | cut -d' ' -f1)" 200

# 11. Deleting a user revokes her keys and ends her sessions, in the same transaction.
answer=$(call "$TRONCH_API_KEY" DELETE "/api/v1/users/$MEMBER_ID")
expect "delete the member" "${answer%% *}" 200
answer=$(call "$MEMBER_KEY" GET /api/v1/keys)
expect "her key after the deletion" "${answer%% *} $(field "$answer" .detail)" "401 the API key has been revoked"
echo "people done"
