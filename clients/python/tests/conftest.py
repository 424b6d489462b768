"""Fixtures: a live Tronch server (the binary in TRONCH_BIN, or `swift build --show-bin-path`/tronch) on a
free loopback port with a throwaway SQLite data directory, and a scriptable stub HTTP server."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx
import pytest

import tronch

from stub import StubServer

REPO_ROOT = Path(__file__).resolve().parents[3]
ROOT_KEY_PATTERN = re.compile(r"\b[a-z0-9]{1,16}_sk_(?:live|test)_[0-9A-Za-z]{38}\b")

# Limits raised so that the suite can create many keys and provoke many 401s; tests that need the real
# limits start their own server (see test_live_ratelimit.py). Passwords are hashed with cheap scrypt
# parameters (N = 2^10), logins are not limited per address, and three failed logins lock an account.
RELAXED_LIMITS = {
    "TRONCH_RATELIMIT_AUTH_FAILURES": "100000/1m",
    "TRONCH_RATELIMIT_KEY_CREATION": "100000/1h",
    "TRONCH_RATELIMIT_API": "100000/1h",
    "TRONCH_USAGE_FLUSH_INTERVAL": "0.1",
    "TRONCH_PASSWORD_SCRYPT_LOG_N": "10",
    "TRONCH_RATELIMIT_LOGIN": "off",
    "TRONCH_LOCKOUT_THRESHOLD": "3",
}


# The access-token lifetime of short_lived_server, in seconds.
SHORT_TOKEN_TTL = 3


def tronch_binary() -> str:
    configured = os.environ.get("TRONCH_BIN")
    if configured:
        return configured
    swift = shutil.which("swift") or "/opt/swift/usr/bin/swift"
    try:
        bin_path = subprocess.run(
            [swift, "build", "--show-bin-path"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(
            "set TRONCH_BIN to a tronch binary, or build one with `swift build` at the repository root"
        ) from exc
    return os.path.join(bin_path, "tronch")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TronchServer:
    url: str
    root_key: str
    process: "subprocess.Popen[bytes]"
    workdir: Path
    env: Dict[str, str] = field(repr=False)

    def logs(self) -> str:
        out = []
        for name in ("stdout.log", "stderr.log"):
            path = self.workdir / name
            if path.exists():
                text = path.read_text(errors="replace")
                out.append(f"--- {name} ---\n{text}")
        return "\n".join(out)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return int(self.process.returncode)


def start_tronch(binary: str, env_overrides: Optional[Dict[str, str]] = None) -> TronchServer:
    """Starts `tronch serve` on a free loopback port with a fresh data directory and returns once it
    listens, with the root key it printed."""
    if not os.path.exists(binary):
        raise RuntimeError(f"no tronch binary at {binary} (set TRONCH_BIN, or run `swift build`)")
    last_error = ""
    for _ in range(3):  # a free port can be taken between the probe and the bind
        workdir = Path(tempfile.mkdtemp(prefix="tronch-pytest-"))
        port = free_port()
        # Never inherit the caller's TRONCH_* settings (a real database URL, say).
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRONCH_")}
        env.update(RELAXED_LIMITS)
        env.update(env_overrides or {})
        with open(workdir / "stdout.log", "wb") as stdout, open(workdir / "stderr.log", "wb") as stderr:
            process = subprocess.Popen(
                [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(workdir / "data")],
                cwd=workdir,
                env=env,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        root_key = None
        while time.monotonic() < deadline and process.poll() is None:
            stdout_text = (workdir / "stdout.log").read_text(errors="replace")
            stderr_text = (workdir / "stderr.log").read_text(errors="replace")
            match = ROOT_KEY_PATTERN.search(stdout_text)
            if match:
                root_key = match.group(0)
            if root_key and "listening on" in stderr_text:
                break
            time.sleep(0.05)
        server = TronchServer(f"http://127.0.0.1:{port}", root_key or "", process, workdir, env)
        if process.poll() is None and root_key:
            health = httpx.get(f"{server.url}/api/v1/health", timeout=5)
            health.raise_for_status()
            return server
        last_error = server.logs()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    raise RuntimeError(f"tronch did not start:\n{last_error}")


@pytest.fixture(scope="session")
def tronch_bin() -> str:
    return tronch_binary()


@pytest.fixture(scope="session")
def tronch_factory(tronch_bin: str) -> Iterator[Callable[..., TronchServer]]:
    """Starts extra servers (with other settings); all are stopped at the end of the session."""
    started: List[TronchServer] = []

    def start(env_overrides: Optional[Dict[str, str]] = None) -> TronchServer:
        server = start_tronch(tronch_bin, env_overrides)
        started.append(server)
        return server

    yield start
    for server in started:
        code = server.stop()
        if code not in (0, -signal.SIGTERM):
            print(f"tronch exited with {code}; logs in {server.workdir}\n{server.logs()[-4000:]}")
        else:
            shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def tronch_server(tronch_factory: Callable[..., TronchServer]) -> TronchServer:
    """The shared live server, with the limits on Tronch's own API raised."""
    return tronch_factory()


@pytest.fixture(scope="session")
def short_lived_server(tronch_factory: Callable[..., TronchServer]) -> TronchServer:
    """A server whose access tokens live SHORT_TOKEN_TTL seconds, to see them expire and be refreshed."""
    return tronch_factory({"TRONCH_ACCESS_TOKEN_TTL": str(SHORT_TOKEN_TTL)})


@pytest.fixture(scope="session")
def base_url(tronch_server: TronchServer) -> str:
    return tronch_server.url


@pytest.fixture(scope="session")
def root_key(tronch_server: TronchServer) -> str:
    return tronch_server.root_key


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected retry (would sleep {seconds:.2f} s)")


@pytest.fixture
def client(base_url: str, root_key: str) -> Iterator[tronch.Client]:
    """A client with the root key. It fails the test if it ever tries to retry."""
    with tronch.Client(base_url, api_key=root_key, sleep=no_sleep) as c:
        yield c


@pytest.fixture
def owner() -> str:
    """An owner id no other test uses, so that list filters see only this test's keys."""
    return f"cus_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def verifier_key(base_url: str, root_key: str) -> str:
    """A key holding only keys:verify, as an API backend would."""
    with tronch.Client(base_url, api_key=root_key) as c:
        return c.keys.create(name="pytest verifier", scopes=["keys:verify"]).key


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    server.start()
    yield server
    server.stop()


@dataclass
class Person:
    """A user created for one test, with their password."""

    user: tronch.User
    password: str = field(repr=False)

    @property
    def id(self) -> str:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def email(self) -> str:
        return self.user.email


def new_password() -> str:
    """A password the policy accepts (12+ characters, not common, no username or "tronch" in it)."""
    return f"Sphinx of black quartz {uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_person(base_url: str, root_key: str) -> Callable[..., Person]:
    """Creates a user no other test uses (role member by default) through the root key."""

    def make(role: str = "member", password: Optional[str] = None, display_name: Optional[str] = None) -> Person:
        name = f"p{uuid.uuid4().hex[:12]}"
        password = password or new_password()
        with tronch.Client(base_url, api_key=root_key, sleep=no_sleep) as admin:
            user = admin.users.create(
                username=name, email=f"{name}@Example.COM", password=password, role=role, display_name=display_name
            )
        return Person(user, password)

    return make


@pytest.fixture
def make_client(base_url: str) -> Iterator[Callable[..., tronch.Client]]:
    """Clients without a credential (log them in), closed after the test; they fail the test if they retry."""
    made: List[tronch.Client] = []

    def make(api_key: Optional[str] = None, **kwargs: Any) -> tronch.Client:
        kwargs.setdefault("sleep", no_sleep)
        client = tronch.Client(base_url, api_key=api_key, **kwargs)
        if api_key is None:
            client.set_api_key(None)  # never TRONCH_API_KEY from the environment
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
