"""Two-factor logins: a person enrols a TOTP authenticator app, logs in with a password and a code from the app
(or one of their recovery codes), then turns the second factor off; an administrator made and removes the
account.

    pip install ./clients/python
    TRONCH_URL=http://127.0.0.1:8080 TRONCH_API_KEY=tronch_sk_live_... python docs/examples/python/mfa.py

TRONCH_API_KEY must be allowed to manage users (the root key printed by `tronch serve` is). The authenticator
app is played by `totp()` below (RFC 6238 with the standard library; pyotp.TOTP(secret).now() gives the same
codes). A code works once, and the one that confirms the enrolment counts as used, so the demo waits for the
app's next code (up to 30 s). It logs in three times (logins are limited to five a minute per address by
default) and removes what it made. Exits with 0 when every step worked, 1 otherwise.
"""

import base64
import hashlib
import hmac
import os
import secrets
import struct
import sys
import time
import uuid

import tronch


def totp(secret: str, at: float) -> str:
    """The code an authenticator app shows at time `at` for a base32 secret: HMAC-SHA1 of the 30-second step,
    truncated to 6 digits (RFC 6238, RFC 4226)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def next_code(secret: str, used_at: float) -> str:
    """The app's first code after the one shown at `used_at`: wait for the next 30-second step."""
    wait = 30 - used_at % 30 + 0.1
    print(f"waiting {wait:.0f} s for the app's next code (a code works once)")
    time.sleep(wait)
    return totp(secret, time.time())


def main() -> int:
    url = os.environ.get("TRONCH_URL", "http://127.0.0.1:8080")
    api_key = os.environ.get("TRONCH_API_KEY")
    if not api_key:
        print("set TRONCH_API_KEY to a Tronch key that may manage users (for example the root key)", file=sys.stderr)
        return 2
    username = f"mia_{uuid.uuid4().hex[:8]}"
    password = f"correct-{secrets.token_urlsafe(16)}"

    with tronch.Client(url, api_key=api_key) as admin:
        user = admin.users.create(username=username, email=f"{username}@example.com", password=password)
        print(f"created user {user.username} mfa_enabled={user.mfa_enabled}")
        try:
            # 1. Mia logs in with her password and enrols an authenticator app: the secret (show otpauth_uri
            #    as a QR code), then a first code from the app confirms it and answers ten recovery codes.
            with tronch.Client(url) as laptop:
                laptop.login(username, password=password)
                enrolment = laptop.users.enrol_totp()
                print(f"add to the app: {enrolment.otpauth_uri.replace(enrolment.secret, '…')}")
                confirmed_at = time.time()
                recovery_codes = laptop.users.confirm_totp(totp(enrolment.secret, confirmed_at))
                print(f"TOTP enabled: mfa_enabled={laptop.users.me().mfa_enabled}, "
                      f"{len(recovery_codes)} recovery codes to keep somewhere safe")

            # 2. From now on the password alone is not enough: login() raises MFARequiredError, whose
            #    mfa_token (five minutes, single use) and a code from the app finish the login.
            with tronch.Client(url) as phone:
                try:
                    phone.login(username, password=password)
                    print("logged in without a second factor: unexpected")
                    return 1
                except tronch.MFARequiredError as challenge:
                    print(f"second factor required: methods={','.join(challenge.methods)}")
                    pair = phone.complete_mfa(challenge, code=next_code(enrolment.secret, confirmed_at))
                print(f"logged in: session {pair.session_id}")
                for session in phone.sessions.list():
                    if session.id == pair.session_id:
                        print(f"amr={','.join(session.amr)}")

            # 3. The phone is lost: a recovery code (each works once) logs in, and turns TOTP off.
            with tronch.Client(url) as desktop:
                try:
                    desktop.login(username, password=password)
                    return 1
                except tronch.MFARequiredError as challenge:
                    desktop.complete_mfa(challenge, recovery_code=recovery_codes[0])
                amr = [s.amr for s in desktop.sessions.list() if s.id == desktop.session_id]
                print(f"logged in with a recovery code: amr={','.join(amr[0])}")
                try:
                    desktop.users.disable_totp(recovery_code=recovery_codes[0])
                    print("a used recovery code was accepted: unexpected")
                    return 1
                except tronch.MFAInvalidError as error:
                    print(f"a used recovery code is refused ({error.code})")
                desktop.users.disable_totp(recovery_code=recovery_codes[1])
                print(f"TOTP disabled: mfa_enabled={desktop.users.me().mfa_enabled}")
        finally:
            admin.users.delete(user.id)
            print(f"deleted user {user.username}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except tronch.TronchError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
