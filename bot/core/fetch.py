"""The one fetcher for every URL Tolk opens itself: a provider's result, a document URL a
person gave, a Slack file, and every redirect hop of each.

Addresses: each host is resolved once, by the connector's resolver (``CheckedResolver``),
which refuses an answer holding any non-public address — loopback, private, link-local,
carrier-grade NAT, reserved, multicast, their IPv6 equivalents and IPv4 addresses inside
IPv6 ones. aiohttp then connects to the addresses the resolver returned, no others (the
``Host`` header and TLS SNI stay the name), and its DNS cache is off, so no answer
outlives its check. aiohttp never asks the resolver about an IP literal: those are
checked here before the request. A name that does not resolve is "no such host",
permanently; it is never let through.

Only a host the operator named exactly (``trusted``: ``host`` for the scheme's default
port, or ``host:port``; never a ``*.domain``) may be at a non-public address. Whether a
URL is named is decided here, with its scheme and port, before the request; such URLs
go through a second session whose resolver does not check addresses, so a connection
kept alive for one never serves the other.

Fairness: transfers take a slot of ``FairSlots`` under an owner key (the person a task
is for): at most ``per_owner`` at once for one owner, at most ``total`` in all, and a
freed slot goes to the owner with the fewest transfers running. Bytes must keep
arriving: a transfer that sends nothing for ``sock_read`` seconds fails (and may be tried
again later), besides the total time limit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
# sock_read: the longest silence a transfer may have; total: the longest it may last
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, connect=20, sock_connect=10, sock_read=20)
REDIRECTS = 5  # hops a download follows, each checked like the first URL
TRANSFERS = 8  # at once, in all
PER_OWNER = 2  # at once, for one owner (a person)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class DownloadRefused(Exception):
    """The URL is not on an allowed host, or its host is not at a public address; it is
    never fetched. ``str()`` is the URL."""


class DownloadFailed(Exception):
    """The file could not be fetched. ``permanent``: no retry will fetch it (no such
    host, 4xx, a redirect off the allowed hosts, a sign-in page); otherwise (timeouts,
    stalls, resets, 5xx) a later try may work. ``str()`` says what happened, with the
    host."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class FileTooLarge(Exception):
    """The file is larger than Tolk accepts; its size is not going to change."""


class NotPublicAddress(OSError):
    """A name resolved to an address Tolk does not connect to for it."""

    def __init__(self, host: str, addresses: Sequence[str]) -> None:
        super().__init__(f"{host} resolves to a non-public address ({', '.join(addresses)})")
        self.host = host


async def read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body, however it is chunked — ``StreamReader.read(n)`` returns only what
    has arrived so far — and ``FileTooLarge`` as soon as it passes ``limit``."""
    chunks, size = [], 0
    async for chunk in stream.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise FileTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def public_address(address: str) -> bool:
    """``address`` (an IP, IPv6 possibly with a ``%zone``) is on the public internet.

    Not: loopback, private, link-local, carrier-grade NAT (where clouds put metadata
    services, e.g. 100.100.100.200), reserved, unspecified, multicast, documentation
    ranges; nor an IPv6 address carrying one of those (IPv4-mapped, 6to4, NAT64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL or ip.is_site_local:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    return (
        ip.is_global
        and not ip.is_private
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_reserved
        and not ip.is_multicast
        and not ip.is_unspecified
    )


def looks_like_ip(host: str) -> bool:
    """aiohttp's test for "do not resolve this": digits and dots, or a colon."""
    return ":" in host or host.replace(".", "").isdigit()


def named(url: str, trusted: Iterable[str]) -> bool:
    """``url``'s host and port are an entry of ``trusted`` itself: ``host`` (the default
    port of the URL's scheme) or ``host:port``; a ``*.domain`` entry names nothing."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("http", "https"):
        return False
    for entry in trusted:
        try:
            entry_parts = urlsplit(f"//{entry.strip()}")
            entry_host, entry_port = (entry_parts.hostname or "").lower(), entry_parts.port
        except ValueError:
            continue
        if entry_host == host and port == (entry_port or (443 if parts.scheme == "https" else 80)):
            return True
    return False


class CheckedResolver(AbstractResolver):
    """Resolves with ``resolver`` and returns the answer only when every address in it is
    public; otherwise ``NotPublicAddress``. ``check=False``: for names the operator named
    (see ``named``), any address. An empty answer is an ``OSError`` (no such host)."""

    def __init__(self, resolver: AbstractResolver, *, check: bool = True) -> None:
        self._resolver = resolver
        self._check = check

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        if not answers:
            raise OSError(f"{host} has no address")
        refused = [str(a["host"]) for a in answers if not public_address(str(a["host"]))]
        if refused and self._check:
            raise NotPublicAddress(host, refused)
        return answers

    async def close(self) -> None:
        """The wrapped resolver belongs to whoever made it (``Fetcher`` shares one)."""


class FairSlots:
    """At most ``total`` transfers at once, and at most ``per_owner`` for one owner. A
    freed slot goes to the waiting owner with the fewest transfers running (the one
    served least recently among equals), so one owner's many slow transfers hold at most
    ``per_owner`` slots and never make another owner wait behind them."""

    def __init__(self, total: int = TRANSFERS, per_owner: int = PER_OWNER) -> None:
        if total < 1 or per_owner < 1:
            raise ValueError("FairSlots needs at least one slot")
        self.total = total
        self.per_owner = min(per_owner, total)
        self.running: dict[str | None, int] = {}
        self._waiting: OrderedDict[str | None, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def busy(self) -> int:
        return sum(self.running.values())

    @asynccontextmanager
    async def slot(self, owner: str | None) -> AsyncIterator[None]:
        await self._acquire(owner)
        try:
            yield
        finally:
            self._release(owner)

    async def _acquire(self, owner: str | None) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(owner, deque()).append(waiter)
        self._grant()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(owner)  # granted, but the transfer will not run: pass it on
            else:
                self._forget(owner, waiter)
            raise

    def _release(self, owner: str | None) -> None:
        self.running[owner] -= 1
        if not self.running[owner]:
            del self.running[owner]
        self._grant()

    def _forget(self, owner: str | None, waiter: asyncio.Future[None]) -> None:
        queue = self._waiting.get(owner)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._waiting[owner]

    def _grant(self) -> None:
        while self.busy < self.total:
            ready = [o for o in self._waiting if self.running.get(o, 0) < self.per_owner]
            if not ready:
                return
            # fewest running first; among equals the one served least recently (the
            # order of ``_waiting``: a served owner goes to the back of the line)
            owner = min(ready, key=lambda o: self.running.get(o, 0))
            queue = self._waiting.pop(owner)
            waiter = queue.popleft()
            if queue:
                self._waiting[owner] = queue
            if waiter.done():  # its task was cancelled while it waited
                continue
            self.running[owner] = self.running.get(owner, 0) + 1
            waiter.set_result(None)


class Fetcher:
    """GETs URLs through ``CheckedResolver`` connectors, inside ``FairSlots``.

    ``resolver`` answers names (default: the system's, through the event loop); tests
    pass a scripted one. Two sessions, each with its own connector: one that checks
    addresses, one for URLs the caller's ``trusted`` names (see ``named``)."""

    def __init__(
        self,
        *,
        resolver: AbstractResolver | None = None,
        timeout: aiohttp.ClientTimeout = DOWNLOAD_TIMEOUT,
        transfers: int = TRANSFERS,
        per_owner: int = PER_OWNER,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self.slots = FairSlots(transfers, per_owner)
        self.timeout = timeout
        self._resolver = resolver
        self._own_resolver = resolver is None
        self._trace_configs = list(trace_configs)
        self._sessions: dict[bool, aiohttp.ClientSession] = {}  # key: check addresses
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
        if self._own_resolver and self._resolver is not None:
            await self._resolver.close()
            self._resolver = None

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _session(self, check: bool) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the fetcher is closed")
        session = self._sessions.get(check)
        if session is None or session.closed:
            if self._resolver is None:
                self._resolver = ThreadedResolver()
            connector = aiohttp.TCPConnector(
                resolver=CheckedResolver(self._resolver, check=check),
                use_dns_cache=False,  # every connection resolves, and is checked, anew
                limit=0,  # FairSlots is the limit
            )
            session = aiohttp.ClientSession(
                connector=connector,
                trace_configs=self._trace_configs or None,
                cookie_jar=aiohttp.DummyCookieJar(),  # nothing carries from one fetch to another
                trust_env=False,  # no proxy from the environment: we connect where we checked
            )
            self._sessions[check] = session
        return session

    async def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        limit: int = MAX_DOWNLOAD_BYTES,
        check: Callable[[str], Awaitable[None]] | None = None,
        trusted: Iterable[str] = (),
        owner: str | None = None,
    ) -> bytes:
        """GET ``url``, following up to ``REDIRECTS`` redirects when ``check`` admits each
        hop (``check`` None: no redirect is followed). A host named in ``trusted`` may be
        at a non-public address; any other must be public. ``DownloadRefused`` (the URL
        of the hop refused), ``DownloadFailed``, ``FileTooLarge``."""
        headers = dict(headers or {})
        trusted = tuple(trusted)
        host, first = url, None
        async with self.slots.slot(owner):
            for _ in range(REDIRECTS + 1):
                if check is not None:
                    await check(url)
                trust = named(url, trusted)
                host = _checked_literal(url, trust)
                origin = _origin(url)
                if first is None:
                    first = origin
                elif origin != first:  # a credential goes only where it was meant to go
                    headers.pop("Authorization", None)
                try:
                    async with self._session(not trust).get(
                        url, headers=headers, timeout=self.timeout, allow_redirects=False
                    ) as resp:
                        if resp.status in (301, 302, 303, 307, 308) and check is not None:
                            url = urljoin(url, resp.headers.get("Location", ""))
                            continue
                        if resp.status != 200:
                            raise status_failure(host, resp.status, headers)
                        return await read_at_most(resp.content, limit)
                except aiohttp.ClientConnectorDNSError as exc:
                    if isinstance(exc.os_error, NotPublicAddress):
                        raise DownloadRefused(url) from exc
                    raise DownloadFailed(
                        f"there is no such host as {host}", permanent=True
                    ) from exc
                except aiohttp.ClientConnectorError as exc:
                    refused = isinstance(exc.os_error, ConnectionRefusedError)
                    raise DownloadFailed(
                        f"{host} refused the connection"
                        if refused
                        else f"{host} could not be reached",
                        permanent=refused,
                    ) from exc
                except aiohttp.InvalidURL as exc:
                    raise DownloadFailed(f"{url} is not a valid address", permanent=True) from exc
                except aiohttp.SocketTimeoutError as exc:
                    silence = self.timeout.sock_read or 0
                    raise DownloadFailed(
                        f"{host} stopped sending (nothing for {silence:g} s)"
                    ) from exc
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise DownloadFailed(f"{host}: {type(exc).__name__}") from exc
        raise DownloadFailed(f"{host} redirected more than {REDIRECTS} times", permanent=True)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _checked_literal(url: str, trusted: bool) -> str:
    """The URL's host; unless the URL is ``trusted`` (named by the operator),
    ``DownloadRefused`` for an IP literal that is not public (aiohttp does not ask the
    resolver about those), and for a numeric host that is not a canonical address at all
    (``127.1``, ``2130706433``)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        raise DownloadFailed(f"{url} is not a valid address", permanent=True) from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise DownloadFailed(f"{url} is not a valid address", permanent=True)
    if looks_like_ip(host) and not trusted and not public_address(host):
        raise DownloadRefused(url)
    return host


def status_failure(host: str, status: int, headers: dict[str, str]) -> DownloadFailed:
    if status >= 500 or status in (408, 429):
        return DownloadFailed(f"{host} answered HTTP {status}")
    if 300 <= status < 400 and "Authorization" in headers:
        return DownloadFailed(
            f"{host} sent a sign-in page instead of the file (Tolk may not read it)", permanent=True
        )
    if 300 <= status < 400:
        return DownloadFailed(f"{host} redirected elsewhere (HTTP {status})", permanent=True)
    gone = {404: " (not found)", 403: " (forbidden)", 410: " (gone)", 401: " (needs a login)"}
    return DownloadFailed(f"{host} answered HTTP {status}{gone.get(status, '')}", permanent=True)
