#!/usr/bin/env bash
# Multi-factor authentication: an administrator enrols an authenticator app (TOTP), confirms it with a code
# and keeps her recovery codes; from then on her logins need a code after the password; making another
# administrator in a session that has no code asks for one (step-up); a recovery code stands in for a lost
# phone; and an administrator resets the second factor of someone who lost everything.
#
#   TRONCH_URL      the server (default http://127.0.0.1:8080)
#   TRONCH_API_KEY  a key with admin (the root key): it creates the administrator
#
# Needs curl, jq and python3 (its standard library computes the codes an authenticator app would show).
# Exits non-zero on the first failure. scripts/check-docs runs it.
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

# amr ACCESS_TOKEN: the token's amr claim, comma-separated (how the person proved who they are). The payload
# of a JWT is base64url JSON; this only reads it, it does not check the signature.
amr() {
  python3 -c 'import base64, json, sys; p = sys.argv[1].split(".")[1]
print(",".join(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["amr"]))' "$1"
}

# totp SECRET STEP: the code of one 30-second step, as an authenticator app computes it (RFC 6238: HMAC-SHA-1
# of the step number under the base32 secret, 6 digits).
totp() {
  python3 - "$1" "$2" <<'PY'
import base64, hashlib, hmac, struct, sys
secret, step = sys.argv[1], int(sys.argv[2])
key = base64.b32decode(secret + "=" * (-len(secret) % 8))
mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
offset = mac[-1] & 0x0F
print("%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000))
PY
}

# next_code SECRET: sets CODE to a code Tronch has not accepted yet. Tronch takes the code of the current
# step or of the step just before or after it (clocks drift), and each step's code once. A person waits for
# the app to show a new code; this script takes the next step's code at once, and waits only when it has
# used that one too.
last_step=0
next_code() {
  local step=$(($(date +%s) / 30))
  [ "$step" -gt "$last_step" ] || step=$((last_step + 1))
  while [ "$step" -gt $(($(date +%s) / 30 + 1)) ]; do sleep 1; done
  last_step=$step
  CODE=$(totp "$1" "$step")
}

# Usernames and e-mail addresses are unique: a suffix lets the script run twice against one server.
run=$RANDOM$RANDOM
ADMIN=mia-$run
PASSWORD="kettle orchard violet 1907"

# 1. The root key creates an administrator, who logs in with her password alone.
answer=$(call "$TRONCH_API_KEY" POST /api/v1/users "$(jq -n --arg u "$ADMIN" --arg p "$PASSWORD" '{username: $u,
  email: ($u + "@example.com"), display_name: "Mia Moreau", role: "admin", password: $p}')")
expect "create an administrator" "${answer%% *}" 201
ADMIN_ID=$(field "$answer" .id)
answer=$(login "$ADMIN" "$PASSWORD")
ACCESS_TOKEN=$(field "$answer" .access_token)
expect "the amr of a password login" "$(amr "$ACCESS_TOKEN")" pwd

# 2. She starts enrolling: a new secret, for her authenticator app (as a QR code of otpauth_uri, or typed).
answer=$(call "$ACCESS_TOKEN" POST /api/v1/users/me/mfa/totp)
expect "start enrolling" "${answer%% *}" 200
SECRET=$(field "$answer" .secret)
echo "    otpauth_uri $(field "$answer" .otpauth_uri | sed "s/$SECRET/<secret>/")"
answer=$(call "$ACCESS_TOKEN" GET /api/v1/users/me)
expect "mfa_enabled before she confirms" "$(field "$answer" .mfa_enabled)" false

# 3. She confirms with the code her app shows. The answer holds her ten recovery codes, shown this once.
next_code "$SECRET"
answer=$(call "$ACCESS_TOKEN" POST /api/v1/users/me/mfa/totp/confirm "$(jq -n --arg c "$CODE" '{code: $c}')")
expect "confirm" "${answer%% *}" 200
expect "recovery codes" "$(field "$answer" '.recovery_codes | length')" 10
RECOVERY_CODE=$(field "$answer" '.recovery_codes[0]')
answer=$(call "$ACCESS_TOKEN" GET /api/v1/users/me)
expect "mfa_enabled once confirmed" "$(field "$answer" .mfa_enabled)" true

# 4. Her next login: the right password is only the first step. The answer is 401 MFA_REQUIRED with an
#    mfa_token (single use, 5 minutes); POST /api/v1/auth/mfa with the token and a code finishes the login.
answer=$(login "$ADMIN" "$PASSWORD")
expect "log in with the password" "${answer%% *} $(field "$answer" .code)" "401 MFA_REQUIRED"
MFA_TOKEN=$(field "$answer" .mfa_token)
answer=$(call - POST /api/v1/auth/mfa "$(jq -n --arg t "$MFA_TOKEN" '{mfa_token: $t, code: "000000"}')")
expect "a wrong code" "${answer%% *} $(field "$answer" .code)" "401 MFA_INVALID"
next_code "$SECRET"
answer=$(call - POST /api/v1/auth/mfa "$(jq -n --arg t "$MFA_TOKEN" --arg c "$CODE" '{mfa_token: $t, code: $c}')")
expect "the second step" "${answer%% *}" 200
expect "the amr of the new access token" "$(amr "$(field "$answer" .access_token)")" pwd,otp

# 5. Step-up: the session of step 1 has no second factor in its amr, and making an administrator needs one.
#    Tronch asks for a code; the new session that answers it replaces that session, and the request is repeated.
NEW_ADMIN=sam-$run
new_admin=$(jq -n --arg u "$NEW_ADMIN" '{username: $u, email: ($u + "@example.com"), role: "admin"}')
answer=$(call "$ACCESS_TOKEN" POST /api/v1/users "$new_admin")
expect "make an administrator" "${answer%% *} $(field "$answer" .code)" "401 MFA_REQUIRED"
MFA_TOKEN=$(field "$answer" .mfa_token)
next_code "$SECRET"
answer=$(call - POST /api/v1/auth/mfa "$(jq -n --arg t "$MFA_TOKEN" --arg c "$CODE" '{mfa_token: $t, code: $c}')")
expect "the step-up" "${answer%% *}" 200
OLD_TOKEN=$ACCESS_TOKEN
ACCESS_TOKEN=$(field "$answer" .access_token)
expect "the amr after the step-up" "$(amr "$ACCESS_TOKEN")" pwd,otp
answer=$(call "$OLD_TOKEN" GET /api/v1/users/me)
expect "the replaced session's access token" "${answer%% *} $(field "$answer" .code)" "401 TOKEN_INVALID"
answer=$(call "$ACCESS_TOKEN" POST /api/v1/users "$new_admin")
expect "make an administrator again" "${answer%% *} $(field "$answer" .role)" "201 admin"

# 6. A lost phone: a recovery code finishes the login instead of a code. Each recovery code works once.
answer=$(login "$ADMIN" "$PASSWORD")
MFA_TOKEN=$(field "$answer" .mfa_token)
answer=$(call - POST /api/v1/auth/mfa "$(jq -n --arg t "$MFA_TOKEN" --arg r "$RECOVERY_CODE" '{mfa_token: $t, recovery_code: $r}')")
expect "log in with a recovery code" "${answer%% *} $(amr "$(field "$answer" .access_token)")" "200 pwd,recovery_code"
answer=$(login "$ADMIN" "$PASSWORD")
MFA_TOKEN=$(field "$answer" .mfa_token)
answer=$(call - POST /api/v1/auth/mfa "$(jq -n --arg t "$MFA_TOKEN" --arg r "$RECOVERY_CODE" '{mfa_token: $t, recovery_code: $r}')")
expect "the same recovery code again" "${answer%% *} $(field "$answer" .code)" "401 MFA_INVALID"

# 7. Phone and recovery codes both lost: an administrator (here the root key) removes her second factor, and
#    she logs in with her password alone until she enrols again.
answer=$(call "$TRONCH_API_KEY" DELETE "/api/v1/users/$ADMIN_ID/mfa")
expect "reset her second factor" "${answer%% *}" 204
answer=$(login "$ADMIN" "$PASSWORD")
expect "log in after the reset" "${answer%% *} $(amr "$(field "$answer" .access_token)")" "200 pwd"
echo "mfa done"
