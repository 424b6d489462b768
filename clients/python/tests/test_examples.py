"""The scripts in docs/examples/python run against the live server and exit with 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

import pytest

from conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "docs" / "examples" / "python"


def run(script: str, base_url: str, api_key: Optional[str], args: Optional[List[str]] = None) -> "subprocess.CompletedProcess[str]":
    env: Dict[str, str] = {k: v for k, v in os.environ.items() if not k.startswith("TRONCH_")}
    env["TRONCH_URL"] = base_url
    if api_key is not None:
        env["TRONCH_API_KEY"] = api_key
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *(args or [])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == [
        "async_client.py", "audit_export.py", "authz.py", "mfa.py", "people.py", "quickstart.py",
        "sdk_readme.py", "signed_requests.py", "verify_in_your_api.py"
    ]


def test_sdk_readme(base_url: str, root_key: str) -> None:
    """The README's quick start, which it quotes from this script, runs as written."""
    result = run("sdk_readme.py", base_url, root_key)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[1] == "True VALID cus_123", result.stdout
    assert "tronch_sk_live_" in lines[0] and "…" in lines[0], "the key's id and hint, never its secret"
    assert root_key not in result.stdout + result.stderr


def test_quickstart(base_url: str, root_key: str) -> None:
    result = run("quickstart.py", base_url, root_key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify: VALID" in result.stdout
    assert "listed " in result.stdout and "rotated " in result.stdout
    assert "verify after revoke: REVOKED" in result.stdout
    assert root_key not in result.stdout + result.stderr


def test_verify_in_your_api(base_url: str, root_key: str) -> None:
    result = run("verify_in_your_api.py", base_url, root_key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BAD" not in result.stdout
    assert result.stdout.count("ok ") == 7


def test_signed_requests(base_url: str, root_key: str) -> None:
    result = run("signed_requests.py", base_url, root_key)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "BAD" not in result.stdout
    assert lines[0].startswith("created tronch_sk_live_") and lines[0].endswith(": signing=True")
    assert lines[1:] == [
        "ok  signed request: 201 VALID",
        "ok  first sending: 201 VALID",
        "ok  replayed: 401 SIGNATURE_REPLAYED",
        "ok  tampered body: 401 SIGNATURE_INVALID",
        "ok  key without a signature: 401 SIGNATURE_INVALID",
    ]
    assert root_key not in result.stdout + result.stderr


def test_audit_export(base_url: str, root_key: str) -> None:
    result = run("audit_export.py", base_url, root_key, ["--since-hours", "1"])
    assert result.returncode == 0, result.stdout + result.stderr
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert entries, result.stderr
    assert {"id", "sequence", "action", "hash"} <= set(entries[0])
    sequences = [e["sequence"] for e in entries]
    assert sequences == sorted(sequences, reverse=True) and len(set(sequences)) == len(sequences)
    assert any(e["action"] == "server.started" for e in entries)
    assert "exported" in result.stderr

    filtered = run("audit_export.py", base_url, root_key, ["--action", "server.started"])
    assert filtered.returncode == 0, filtered.stderr
    assert {json.loads(line)["action"] for line in filtered.stdout.splitlines()} == {"server.started"}


def test_people(base_url: str, root_key: str) -> None:
    result = run("people.py", base_url, root_key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "logged in: session " in result.stdout
    assert "role=member" in result.stdout and "amr=pwd" in result.stdout
    assert "logged out; the access token is active: False" in result.stdout
    assert "as the key: me=ada_" in result.stdout and "create refused (FORBIDDEN)" in result.stdout
    assert "their key is revoked" in result.stdout
    assert root_key not in result.stdout + result.stderr
    assert "eyJ" not in result.stdout + result.stderr  # no token printed


def test_mfa(base_url: str, root_key: str) -> None:
    result = run("mfa.py", base_url, root_key)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "add to the app: otpauth://totp/Tronch:mia_" in result.stdout and "secret=…&issuer=Tronch" in result.stdout
    assert "TOTP enabled: mfa_enabled=True, 10 recovery codes" in result.stdout
    assert "second factor required: methods=totp,recovery_code" in lines
    assert "amr=pwd,otp" in lines
    assert "logged in with a recovery code: amr=pwd,recovery_code" in lines
    assert "a used recovery code is refused (MFA_INVALID)" in lines
    assert "TOTP disabled: mfa_enabled=False" in lines
    assert "deleted user mia_" in result.stdout
    assert root_key not in result.stdout + result.stderr
    assert "eyJ" not in result.stdout + result.stderr and "mfa_" not in result.stdout.replace("mfa_enabled", "")


def test_the_mfa_examples_authenticator_agrees_with_pyotp() -> None:
    import importlib.util

    import pyotp

    spec = importlib.util.spec_from_file_location("mfa_example", EXAMPLES / "mfa.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59) == "287082"  # RFC 6238 appendix B, 6 digits
    for _ in range(5):
        secret = pyotp.random_base32(32)
        for moment in (0, 59, 1_111_111_109, 1_234_567_890, 2_000_000_000):
            assert example.totp(secret, moment) == pyotp.TOTP(secret).at(moment)


def test_authz(base_url: str, root_key: str) -> None:
    result = run("authz.py", base_url, root_key)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "BAD" not in result.stdout
    assert sum(line.startswith("ok: ") for line in lines) == 12
    for rule in ("acl_allow", "acl_deny", "dacl_allow", "dacl_deny", "fallback", "key_scope"):
        assert f"rule={rule} " in result.stdout, rule
    assert "a cycle is refused (VALIDATION_FAILED): " in result.stdout
    assert "the same entry twice is refused (CONFLICT)" in lines
    assert "the checker may not list groups (FORBIDDEN)" in lines
    assert "a batch: True acl_allow, False fallback, True dacl_allow" in lines
    assert lines[-1] == "authz done"
    assert root_key not in result.stdout + result.stderr
    # It can run again against the same server (its names carry a suffix).
    assert run("authz.py", base_url, root_key).returncode == 0


def test_async_client(base_url: str, root_key: str) -> None:
    result = run("async_client.py", base_url, root_key)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "created and verified 3 keys: VALID, VALID, VALID" in lines
    assert "listed 3 keys: Acme worker 0, Acme worker 1, Acme worker 2" in lines
    assert any(line.startswith("logged in as ada_") and "token for 600 s" in line for line in lines)
    assert any(line.startswith("as the key: me=ada_") for line in lines)
    assert "with the tokens again: keys=[\"Ada's script\"]" in lines
    assert "logged out: the client holds a token: False" in lines
    assert lines[-1] == "revoked 3 keys"
    assert root_key not in result.stdout + result.stderr and "eyJ" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "script",
    ["quickstart.py", "verify_in_your_api.py", "audit_export.py", "people.py", "mfa.py", "authz.py", "async_client.py",
     "signed_requests.py"],
)
def test_examples_fail_with_a_bad_key(base_url: str, script: str) -> None:
    wrong = "tronch_sk_live_" + "E" * 38
    result = run(script, base_url, wrong)
    assert result.returncode == 1
    assert "UNAUTHENTICATED" in result.stderr
    assert wrong not in result.stdout + result.stderr
    missing = run(script, base_url, None)
    assert missing.returncode == 2
