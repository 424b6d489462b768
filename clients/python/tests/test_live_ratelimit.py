"""Real 429 answers from servers started with low limits on Tronch's own API."""

from __future__ import annotations

from typing import Callable, List

import pytest

import tronch
from tronch import AuthenticationError, RateLimitError

from conftest import TronchServer, no_sleep

WRONG_KEY = "tronch_sk_live_" + "B" * 38


class Recorder:
    def __init__(self) -> None:
        self.calls: List[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_key_creation_limit(tronch_factory: Callable[..., TronchServer]) -> None:
    server = tronch_factory({"TRONCH_RATELIMIT_KEY_CREATION": "2/1h"})

    with tronch.Client(server.url, api_key=server.root_key, sleep=no_sleep) as client:
        client.keys.create(name="one")
        client.keys.create(name="two")
        # Retry-After (about 30 minutes) is longer than max_retry_wait (30 s): raised at once, no retry.
        with pytest.raises(RateLimitError) as info:
            client.keys.create(name="three")
    error = info.value
    assert error.status == 429 and error.code == "RATE_LIMITED"
    assert error.retry_after is not None and 30 < error.retry_after <= 3600
    assert error.headers.get("ratelimit-policy", "").startswith('"key_creation"')
    assert error.request_id

    # With a patient client the 429 is retried (POST /keys is safe to replay after a 429: nothing was
    # created), waiting at least Retry-After each time, then raised when the retries are spent.
    sleeps = Recorder()
    with tronch.Client(server.url, api_key=server.root_key, max_retries=2, max_retry_wait=7200,
                       sleep=sleeps) as patient:
        with pytest.raises(RateLimitError) as info:
            patient.keys.create(name="three")
    assert len(sleeps.calls) == 2
    assert all(s >= 30 for s in sleeps.calls)
    assert info.value.retry_after is not None

    # Nothing was created by the refused requests.
    with tronch.Client(server.url, api_key=server.root_key) as client:
        names = {k.name for k in client.keys.list()}
    assert names == {"root", "one", "two"}


def test_failed_authentication_limit(tronch_factory: Callable[..., TronchServer]) -> None:
    server = tronch_factory({"TRONCH_RATELIMIT_AUTH_FAILURES": "2/1m"})

    with tronch.Client(server.url, api_key=WRONG_KEY, max_retries=0) as client:
        for _ in range(2):
            with pytest.raises(AuthenticationError):
                client.keys.get("01a213e5-0000-7000-8000-000000000000")
        with pytest.raises(RateLimitError) as info:
            client.keys.get("01a213e5-0000-7000-8000-000000000000")
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 60

    # The address is now refused even with a good key. With Retry-After within max_retry_wait the
    # client retries, sleeping (here: pretending to) at least Retry-After each time.
    sleeps = Recorder()
    with tronch.Client(server.url, api_key=server.root_key, max_retries=3, max_retry_wait=120,
                       sleep=sleeps) as client:
        with pytest.raises(RateLimitError) as info:
            list(client.keys.list())
    assert len(sleeps.calls) == 3
    assert info.value.retry_after is not None
    assert all(s >= 1 for s in sleeps.calls)


def test_login_limit_per_address(tronch_factory: Callable[..., TronchServer]) -> None:
    # Every login attempt counts, good or bad (seed 004: five a minute by default; two here).
    server = tronch_factory({"TRONCH_RATELIMIT_LOGIN": "2/1m"})
    password = "Sphinx of black quartz, judge my vow"
    with tronch.Client(server.url, api_key=server.root_key) as admin:
        admin.users.create(username="limited", email="limited@example.com", password=password)

    with tronch.Client(server.url, max_retries=0) as client:
        client.set_api_key(None)
        with pytest.raises(tronch.InvalidCredentialsError):
            client.auth.login(username="limited", password="not the password")
        pair = client.auth.login(username="limited", password=password)
        with pytest.raises(RateLimitError) as info:
            client.auth.login(username="limited", password=password)
    error = info.value
    assert error.status == 429 and error.code == "RATE_LIMITED"
    assert error.retry_after is not None and 0 < error.retry_after <= 60
    assert error.headers.get("ratelimit-policy", "").startswith('"login"')
    assert password not in str(error) + repr(error) and pair.access_token not in repr(pair)
