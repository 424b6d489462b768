"""The synchronous HTTP client: credentials (a key, or a person's tokens with automatic refresh), retries with
backoff, and mapping of problem answers to exceptions (the last two shared with ``AsyncClient`` in ``_core``)."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Callable, Dict, Mapping, Optional, Type, TypeVar, Union

import httpx

from ._core import (  # API_PREFIX, _parse_retry_after and _query_string are still importable from here
    API_PREFIX,
    DEFAULT_BASE_URL,
    Call,
    ClientState,
    Reply,
    _parse_retry_after,
    _query_string,
    api_call,
)
from ._errors import AuthenticationError, MFARequiredError, TokenInvalidError
from ._models import TokenPair
from ._resources import ACLEntries, AuditLogs, Auth, Authz, Groups, Keys, Sessions, Users

__all__ = ["Client", "DEFAULT_BASE_URL"]

T = TypeVar("T")


class Client(ClientState):
    """A synchronous client for Tronch's HTTP API (:class:`AsyncClient` is its asyncio twin).

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8080`` (a trailing ``/api/v1`` is accepted). Default:
            the ``TRONCH_URL`` environment variable, or ``http://127.0.0.1:8080``.
        api_key: the Tronch key to call the API with, sent as ``X-API-Key``. Default: ``TRONCH_API_KEY``.
            A person logs in instead with :meth:`login` (and :meth:`complete_mfa` when they have a second
            factor), or :meth:`set_access_token`: the client then sends their access token as
            ``Authorization: Bearer``.
        timeout: seconds for each attempt (a float or an ``httpx.Timeout``).
        max_retries: how many times a request is retried after a ``429``, a ``503``, or (for idempotent
            methods only) a connection error. ``0`` disables retries.
        max_retry_wait: the longest ``Retry-After`` the client waits for, in seconds. A longer one raises at
            once (``RateLimitError`` or ``ServiceUnavailableError``) instead of blocking.
        backoff_base, backoff_max: exponential backoff: attempt ``n`` waits up to
            ``min(backoff_max, backoff_base * 2**n)`` seconds, with full jitter on the upper half; never less
            than ``Retry-After`` when the server sends it.
        sleep: the function used to wait between attempts (``time.sleep``); inject one in tests.
        transport: an ``httpx`` transport (for tests, e.g. ``httpx.MockTransport``).
        headers: extra headers sent with every request.
        auto_refresh: with a refresh token held, refresh the access token by itself: before a request when
            the access token expires within ``refresh_margin``, and when a request made with it is refused
            with ``TOKEN_INVALID`` (expired or revoked; the request is then sent again once with the new
            access token, safe for every method: Tronch refuses the token before the route does anything).
        refresh_margin: how many seconds before the access token's expiry the client refreshes it before a
            request. Default (``None``): 30 seconds, or the last tenth of the token's lifetime when that is
            shorter (a 10-minute token is refreshed in its last 30 s, a 1-minute one in its last 6 s).
            ``0`` refreshes only after a refusal. Keep it well below the tokens' lifetime: a margin longer
            than the lifetime refreshes before every request.
        on_refresh: called with each new :class:`TokenPair` the client gets from a refresh of its own refresh
            token (automatic or ``client.auth.refresh()``). The previous refresh token is dead from then on,
            so store this one if you keep sessions across restarts.

    Keys, tokens and passwords never appear in ``repr(client)``, in exceptions or in the ``tronch`` logger's
    messages.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: Union[float, httpx.Timeout] = 10.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Optional[Callable[[float], None]] = None,
        transport: Optional[httpx.BaseTransport] = None,
        headers: Optional[Mapping[str, str]] = None,
        auto_refresh: bool = True,
        on_refresh: Optional[Callable[[TokenPair], None]] = None,
        refresh_margin: Optional[float] = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            auto_refresh=auto_refresh,
            on_refresh=on_refresh,
            refresh_margin=refresh_margin,
        )
        self._sleep: Callable[[float], None] = sleep if sleep is not None else time.sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers=self._default_headers(headers),
            follow_redirects=False,
        )
        self.keys = Keys(self)
        self.audit_logs = AuditLogs(self)
        self.users = Users(self)
        self.sessions = Sessions(self)
        self.auth = Auth(self)
        self.groups = Groups(self)
        self.acl_entries = ACLEntries(self)
        self.authz = Authz(self)

    # -- a person's session -------------------------------------------------------------------------------

    def login(self, username: Optional[str] = None, *, email: Optional[str] = None, password: str) -> TokenPair:
        """Logs a person in (``POST /api/v1/auth/login``) and sends their access token from now on; returns
        the :class:`TokenPair`. Raises :class:`InvalidCredentialsError` when refused (whatever the reason).
        Same as ``client.set_access_token(client.auth.login(...))``.

        For an account with a second factor, a right password raises :class:`MFARequiredError` instead (the
        client's credential is unchanged): pass it (or its ``mfa_token``) and a code to :meth:`complete_mfa`.
        """
        pair = self.auth.login(username=username, email=email, password=password)
        self.set_access_token(pair)
        return pair

    def complete_mfa(
        self,
        mfa_token: Union[str, MFARequiredError],
        *,
        code: Optional[str] = None,
        recovery_code: Optional[str] = None,
    ) -> TokenPair:
        """Finishes a login or a step-up with a second factor (``POST /api/v1/auth/mfa``) and sends the new
        access token from now on, as :meth:`login` does; returns the :class:`TokenPair`.

        ``mfa_token`` is the ``mfa_token`` of an :class:`MFARequiredError` (or the error itself); pass
        exactly one of ``code`` (a current TOTP code) and ``recovery_code``. A refused code or a dead token
        raises :class:`MFAInvalidError` and leaves the client's credential alone. After a step-up (an
        ``MFARequiredError`` from another call) the new tokens belong to a new session that replaces the old
        one, whose tokens stop working: repeat the refused request. Same as
        ``client.set_access_token(client.auth.complete_mfa(...))``.
        """
        pair = self.auth.complete_mfa(mfa_token, code=code, recovery_code=recovery_code)
        self.set_access_token(pair)
        return pair

    def logout(self) -> None:
        """Ends the session of the person logged in (``POST /api/v1/auth/logout``; its access and refresh
        tokens stop working at once) and forgets the client's tokens: the client then sends no credential
        until the next :meth:`login`, :meth:`set_access_token` or :meth:`set_api_key`. With a key, nothing
        happens. Same as ``client.auth.logout()``."""
        self.auth.logout()

    # -- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the connection pool. The client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json: Optional[Any] = None,
        authenticate: bool = True,
        idempotent: Optional[bool] = None,
    ) -> Any:
        """Sends a request to ``/api/v1`` + ``path`` with retries and returns the parsed JSON answer
        (``None`` for an empty one, such as a 204).

        Raises a :class:`TronchError` subclass for error answers and :class:`APIConnectionError` when no
        answer was received. ``authenticate=False`` sends no credential (for login, refresh, revoke).
        ``idempotent`` says whether the request may be replayed after a connection error (default: by its
        method, ``GET``, ``PUT``, ``DELETE``, ... yes, ``POST`` and ``PATCH`` no). For routes this client
        has no method for yet.
        """
        call = api_call(method, path, lambda answer: answer, params=params, json=json,
                        authenticate=authenticate, idempotent=idempotent)
        return self._execute(call)

    def _execute(self, call: Call[T]) -> T:
        """Sends the request ``call`` describes and returns its result."""
        if call.method is None:
            return call.parse(Reply(0))
        response = self._send(call.method, call.url, params=call.params, json=call.json,
                              authenticate=call.authenticate, idempotent=call.idempotent)
        result = call.parse(Reply.of(response))
        if call.after is not None:
            call.after(self)
        return result

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json: Optional[Any] = None,
        authenticate: bool = True,
        idempotent: Optional[bool] = None,
    ) -> httpx.Response:
        if authenticate:
            self._refresh_if_expiring()
        headers, token_sent = self._credential_headers() if authenticate else ({}, None)
        try:
            return self._attempts(method, url, params=params, json=json, headers=headers, idempotent=idempotent)
        except TokenInvalidError:
            # The access token was refused before the route did anything, so even a POST can go again, once.
            if token_sent is None or not self.auto_refresh or not self._renew_after_refusal(token_sent):
                raise
        headers, _ = self._credential_headers()
        return self._attempts(method, url, params=params, json=json, headers=headers, idempotent=idempotent)

    def _attempts(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, Any]],
        json: Optional[Any],
        headers: Dict[str, str],
        idempotent: Optional[bool] = None,
    ) -> httpx.Response:
        method, target, replayable = self._prepare(method, url, params, idempotent)
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self._http.request(method, target, json=json, headers=headers)
            except httpx.TransportError as exc:
                delay = self._retry_after_failure(method, url, exc, replayable, attempt)
            else:
                found = self._retry_after_answer(method, url, response, replayable, attempt, started)
                if found is None:
                    return response
                delay = found
                response.close()
            if delay > 0:
                self._sleep(delay)
            attempt += 1

    # -- refresh -----------------------------------------------------------------------------------------

    def _refresh(self, refresh_token: Optional[str]) -> TokenPair:
        """``POST /api/v1/auth/refresh`` with ``refresh_token``, or the client's own; a pair from the
        client's own refresh token replaces the client's tokens. The state lock is held throughout, so that
        threads sharing the client wait for this refresh instead of starting their own."""
        with self._state_lock:
            call, token, own = self._refresh_start(refresh_token)
            try:
                answer = self._execute(call)
            except AuthenticationError:
                self._refresh_refused(token, own)
                raise
            return self._refresh_done(token, own, answer)

    def _refresh_if_expiring(self) -> None:
        """Refreshes the access token before a request when it is about to expire (once for all threads)."""
        token = self._expiring_token()
        if token is None:
            return
        with self._state_lock:
            if self._still_expiring(token):
                self._refresh(None)

    def _renew_after_refusal(self, token_sent: str) -> bool:
        """After ``TOKEN_INVALID`` for ``token_sent``: whether the request may go again with a new access token
        (refreshing now, unless another thread already did). Raises what the refresh raises."""
        with self._state_lock:
            renewed = self._renewal(token_sent)
            if renewed is not None:
                return renewed
            self._refresh(None)
            return True
