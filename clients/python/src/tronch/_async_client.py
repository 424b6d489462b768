"""The asynchronous HTTP client, the asyncio twin of :class:`Client`: the same options, methods, retries,
refreshes and errors (shared in ``_core`` and ``_calls``), sent with ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import inspect
import time
from types import TracebackType
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Type, TypeVar, Union

import httpx

from ._core import Call, ClientState, Reply, api_call
from ._errors import AuthenticationError, MFARequiredError, TokenInvalidError
from ._models import TokenPair
from ._resources import (
    AsyncACLEntries,
    AsyncAuditLogs,
    AsyncAuth,
    AsyncAuthz,
    AsyncGroups,
    AsyncKeys,
    AsyncSessions,
    AsyncUsers,
)

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(ClientState):
    """An asynchronous client for Tronch's HTTP API, for asyncio programs::

        async with tronch.AsyncClient("http://127.0.0.1:8080", api_key=key) as client:
            created = await client.keys.create(name="Acme production", scopes=["orders:read"])
            verdict = await client.keys.verify(created.key, scopes=["orders:read"])
            async for key in client.keys.list(owner_id="cus_123"):
                ...

    It has the options, resources (``keys``, ``audit_logs``, ``users``, ``sessions``, ``auth``, ``groups``,
    ``acl_entries``, ``authz``), retries, automatic refresh and exceptions of :class:`Client`; every method
    that sends a request is a coroutine, and lists (``keys.list()``, ``groups.members()``, ...) return an
    :class:`AsyncPaginator` to iterate with ``async for``. Differences: ``transport`` is an
    ``httpx.AsyncBaseTransport``, ``sleep`` (default ``asyncio.sleep``) may be a coroutine function or a
    plain one, and :meth:`aclose` (or ``async with``) closes it. Tasks sharing a client share one refresh
    (an ``asyncio.Lock``); use one client per event loop.

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
        sleep: Optional[Callable[[float], Union[Awaitable[Any], None]]] = None,
        transport: Optional[httpx.AsyncBaseTransport] = None,
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
        self._sleep: Callable[[float], Union[Awaitable[Any], None]] = sleep if sleep is not None else asyncio.sleep
        # Created by the first refresh, in the running event loop (on Python 3.9 a lock made outside it would
        # belong to another loop).
        self._refresh_mutex: Optional[asyncio.Lock] = None
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers=self._default_headers(headers),
            follow_redirects=False,
        )
        self.keys = AsyncKeys(self)
        self.audit_logs = AsyncAuditLogs(self)
        self.users = AsyncUsers(self)
        self.sessions = AsyncSessions(self)
        self.auth = AsyncAuth(self)
        self.groups = AsyncGroups(self)
        self.acl_entries = AsyncACLEntries(self)
        self.authz = AsyncAuthz(self)

    # -- a person's session -------------------------------------------------------------------------------

    async def login(
        self, username: Optional[str] = None, *, email: Optional[str] = None, password: str
    ) -> TokenPair:
        """Logs a person in and sends their access token from now on, as :meth:`Client.login`; raises
        :class:`MFARequiredError` for an account with a second factor (finish with :meth:`complete_mfa`)."""
        pair = await self.auth.login(username=username, email=email, password=password)
        self.set_access_token(pair)
        return pair

    async def complete_mfa(
        self,
        mfa_token: Union[str, MFARequiredError],
        *,
        code: Optional[str] = None,
        recovery_code: Optional[str] = None,
    ) -> TokenPair:
        """Finishes a login or a step-up with a second factor and sends the new access token from now on, as
        :meth:`Client.complete_mfa`."""
        pair = await self.auth.complete_mfa(mfa_token, code=code, recovery_code=recovery_code)
        self.set_access_token(pair)
        return pair

    async def logout(self) -> None:
        """Ends the session of the person logged in and forgets the client's tokens, as
        :meth:`Client.logout`."""
        await self.auth.logout()

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Closes the connection pool. The client cannot be used afterwards."""
        await self._http.aclose()

    async def close(self) -> None:
        """The same as :meth:`aclose`."""
        await self.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    # -- requests ---------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json: Optional[Any] = None,
        authenticate: bool = True,
        idempotent: Optional[bool] = None,
    ) -> Any:
        """Sends a request to ``/api/v1`` + ``path`` with retries and returns the parsed JSON answer, as
        :meth:`Client.request`."""
        call = api_call(method, path, lambda answer: answer, params=params, json=json,
                        authenticate=authenticate, idempotent=idempotent)
        return await self._execute(call)

    async def _execute(self, call: Call[T]) -> T:
        """Sends the request ``call`` describes and returns its result."""
        if call.method is None:
            return call.parse(Reply(0))
        response = await self._send(call.method, call.url, params=call.params, json=call.json,
                                    authenticate=call.authenticate, idempotent=call.idempotent)
        result = call.parse(Reply.of(response))
        if call.after is not None:
            call.after(self)
        return result

    async def _send(
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
            await self._refresh_if_expiring()
        headers, token_sent = self._credential_headers() if authenticate else ({}, None)
        try:
            return await self._attempts(method, url, params=params, json=json, headers=headers,
                                        idempotent=idempotent)
        except TokenInvalidError:
            # The access token was refused before the route did anything, so even a POST can go again, once.
            if token_sent is None or not self.auto_refresh or not await self._renew_after_refusal(token_sent):
                raise
        headers, _ = self._credential_headers()
        return await self._attempts(method, url, params=params, json=json, headers=headers, idempotent=idempotent)

    async def _attempts(
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
                response = await self._http.request(method, target, json=json, headers=headers)
            except httpx.TransportError as exc:
                delay = self._retry_after_failure(method, url, exc, replayable, attempt)
            else:
                found = self._retry_after_answer(method, url, response, replayable, attempt, started)
                if found is None:
                    return response
                delay = found
                await response.aclose()
            if delay > 0:
                waited = self._sleep(delay)
                if inspect.isawaitable(waited):
                    await waited
            attempt += 1

    # -- refresh -----------------------------------------------------------------------------------------

    def _refresh_lock(self) -> asyncio.Lock:
        if self._refresh_mutex is None:
            self._refresh_mutex = asyncio.Lock()
        return self._refresh_mutex

    async def _refresh(self, refresh_token: Optional[str]) -> TokenPair:
        """``POST /api/v1/auth/refresh`` with ``refresh_token``, or the client's own (then under the refresh
        lock, so that tasks sharing the client never present the same refresh token twice)."""
        if refresh_token is not None and refresh_token != self._refresh_token:
            return await self._refresh_unlocked(refresh_token)
        async with self._refresh_lock():
            return await self._refresh_unlocked(refresh_token)

    async def _refresh_unlocked(self, refresh_token: Optional[str]) -> TokenPair:
        call, token, own = self._refresh_start(refresh_token)
        try:
            answer = await self._execute(call)
        except AuthenticationError:
            self._refresh_refused(token, own)
            raise
        return self._refresh_done(token, own, answer)

    async def _refresh_if_expiring(self) -> None:
        """Refreshes the access token before a request when it is about to expire (once for all tasks)."""
        token = self._expiring_token()
        if token is None:
            return
        async with self._refresh_lock():
            if self._still_expiring(token):
                await self._refresh_unlocked(None)

    async def _renew_after_refusal(self, token_sent: str) -> bool:
        """After ``TOKEN_INVALID`` for ``token_sent``: whether the request may go again with a new access token
        (refreshing now, unless another task already did). Raises what the refresh raises."""
        async with self._refresh_lock():
            renewed = self._renewal(token_sent)
            if renewed is not None:
                return renewed
            await self._refresh_unlocked(None)
            return True
