"""Finding 2 (issue 16): DNS rebinding. A URL Tolk fetches itself is resolved once, each
address is checked, and the connection goes to exactly the address that was checked.

The attack: a name that answers a public address when Tolk checks it and 127.0.0.1 when
aiohttp connects (or that does not resolve at all at check time). Before the fix Tolk
resolved twice — once for the check, once to connect — and let an unresolvable name
through, so a local server's file was fetched (and, through Rozetta, posted).

No real DNS here: ``ScriptedNetwork`` answers names from a script on the event loop Tolk
runs on, and stands a local server in for a public address (a connection to it goes to
that server), recording every lookup and every connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.config import Settings
from bot.core.fetch import Fetcher, public_address
from bot.core.slack_client import slack_client
from bot.engine.delivery import Delivery, DownloadFailed, DownloadRefused
from emulators.rozetta import RozettaEmulator
from tests.test_alibaba_e2e import running
from tests.test_rozetta_e2e import rozetta_env

PUBLIC = "93.184.215.14"  # a public address; the "internet" server stands in for it
SECRET = b"TOP SECRET: the local admin page"
PUBLIC_DOC = b"a public document"


@dataclass
class Server:
    port: int = 0
    requests: list[str] = field(default_factory=list)


async def serve(body: bytes) -> tuple[Server, web.AppRunner]:
    server = Server()

    async def anything(request: web.Request) -> web.Response:
        server.requests.append(f"{request.host} {request.path_qs}")
        answer = web.Response(body=body, content_type="text/plain")
        answer.force_close()  # no kept-alive connection: each fetch connects anew
        return answer

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.port = runner.addresses[0][1]
    return server, runner


@pytest.fixture
async def secret() -> AsyncIterator[Server]:
    """A local service that must never be reached through a URL someone gave."""
    server, runner = await serve(SECRET)
    yield server
    await runner.cleanup()


@pytest.fixture
async def internet() -> AsyncIterator[Server]:
    """The server behind the public address ``PUBLIC``."""
    server, runner = await serve(PUBLIC_DOC)
    yield server
    await runner.cleanup()


class ScriptedNetwork:
    """``answers[name]``: what each lookup of ``name`` returns, in turn (the last one
    repeats; an ``OSError`` is raised). A connection to ``PUBLIC`` reaches the
    ``internet`` server; every lookup and connection is recorded."""

    def __init__(self, loop: asyncio.AbstractEventLoop, internet: Server) -> None:
        self.answers: dict[str, list[str | OSError]] = {}
        self.lookups: list[str] = []
        self.connects: list[tuple[str, int]] = []
        self._internet = internet
        self._getaddrinfo = loop.getaddrinfo
        self._sock_connect = loop.sock_connect

    async def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return await self._getaddrinfo(host, port, *args, **kwargs)
        self.lookups.append(name)
        script = self.answers[name]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, OSError):
            raise answer
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answer, int(port)))]

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        self.connects.append((address[0], address[1]))
        if address[0] == PUBLIC:
            address = ("127.0.0.1", self._internet.port)
        await self._sock_connect(sock, address)


@pytest.fixture
async def network(monkeypatch: pytest.MonkeyPatch, internet: Server) -> ScriptedNetwork:
    loop = asyncio.get_running_loop()
    fake = ScriptedNetwork(loop, internet)
    monkeypatch.setattr(loop, "getaddrinfo", fake.getaddrinfo)
    monkeypatch.setattr(loop, "sock_connect", fake.sock_connect)
    return fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def delivery_for(session: aiohttp.ClientSession, allowed: list[str]) -> Delivery:
    return Delivery(slack_client(None, Settings().slack_api_url, session), session, allowed)


async def close(delivery: Delivery) -> None:
    closing = getattr(delivery, "close", None)
    if closing is not None:
        await closing()


# --- the attack, through Delivery ---------------------------------------------------------------


async def test_a_name_that_rebinds_to_loopback_after_the_check_is_not_fetched(
    session, network: ScriptedNetwork, secret: Server, internet: Server
) -> None:
    """A person's URL (Rozetta's path): public at the check, 127.0.0.1 a moment later."""
    network.answers["docs.rebind.example"] = [PUBLIC, "127.0.0.1"]
    delivery = delivery_for(session, [])
    try:
        data = await delivery.download_public(f"http://docs.rebind.example:{secret.port}/a.docx")
    finally:
        await close(delivery)
    assert secret.requests == []  # the local service was never reached
    assert data == PUBLIC_DOC  # what was fetched came from the address that was checked
    assert network.lookups == ["docs.rebind.example"]  # resolved once
    assert network.connects == [(PUBLIC, secret.port)]  # and connected to that address
    assert internet.requests == [f"docs.rebind.example:{secret.port} /a.docx"]  # Host kept


async def test_a_wildcard_result_host_that_rebinds_is_not_fetched(
    session, network: ScriptedNetwork, secret: Server
) -> None:
    """A provider's result URL under an allowed ``*.domain``: the same attack."""
    network.answers["cdn.results.example"] = [PUBLIC, "127.0.0.1"]
    delivery = delivery_for(session, [f"*.results.example:{secret.port}"])
    try:
        data = await delivery.download(f"http://cdn.results.example:{secret.port}/r.png")
    finally:
        await close(delivery)
    assert secret.requests == [] and data == PUBLIC_DOC
    assert network.connects == [(PUBLIC, secret.port)]


async def test_a_name_that_does_not_resolve_at_the_check_is_not_let_through(
    session, network: ScriptedNetwork, secret: Server
) -> None:
    network.answers["late.rebind.example"] = [socket.gaierror(-2, "no such name"), "127.0.0.1"]
    delivery = delivery_for(session, [])
    try:
        with pytest.raises(DownloadFailed) as failed:
            await delivery.download_public(f"http://late.rebind.example:{secret.port}/a.docx")
    finally:
        await close(delivery)
    assert failed.value.permanent and "no such host as late.rebind.example" in str(failed.value)
    assert secret.requests == [] and network.connects == []


async def test_a_name_that_resolves_to_loopback_is_refused_naming_it(
    session, network: ScriptedNetwork, secret: Server
) -> None:
    network.answers["local.rebind.example"] = ["127.0.0.1"]
    delivery = delivery_for(session, [])
    try:
        with pytest.raises(DownloadRefused) as refused:
            await delivery.download_public(f"http://local.rebind.example:{secret.port}/a.docx")
    finally:
        await close(delivery)
    assert "local.rebind.example" in str(refused.value)
    assert secret.requests == [] and network.connects == []


async def test_a_redirect_to_a_name_that_rebinds_is_not_followed_to_loopback(
    session, network: ScriptedNetwork, secret: Server, internet: Server
) -> None:
    """Every hop goes through the same fetcher: a public page redirecting to a name that
    answers public, then loopback."""
    network.answers["start.rebind.example"] = [PUBLIC]
    network.answers["hop.rebind.example"] = [PUBLIC, "127.0.0.1"]

    async def moved(request: web.Request) -> web.Response:
        internet.requests.append(f"{request.host} {request.path_qs}")
        if request.host.startswith("start."):
            raise web.HTTPFound(f"http://hop.rebind.example:{secret.port}/secret")
        return web.Response(body=PUBLIC_DOC)

    app = web.Application()
    app.router.add_get("/{tail:.*}", moved)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    internet.port = runner.addresses[0][1]  # the public address now reaches this server
    delivery = delivery_for(session, [])
    try:
        data = await delivery.download_public(f"http://start.rebind.example:{secret.port}/a")
    finally:
        await close(delivery)
        await runner.cleanup()
    assert secret.requests == [] and data == PUBLIC_DOC
    assert network.lookups == ["start.rebind.example", "hop.rebind.example"]
    assert network.connects == [(PUBLIC, secret.port), (PUBLIC, secret.port)]


# --- the fetcher itself, with a scripted resolver ------------------------------------------------


class ScriptedResolver(AbstractResolver):
    """``answers[name]``: each lookup's answer in turn (the last repeats) — a list of
    addresses, or an ``OSError`` to raise. Every lookup is recorded."""

    def __init__(self, answers: dict[str, list[Any]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append((host, port))
        script = self.answers.get(host) or [socket.gaierror(-2, "Name or service not known")]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, OSError):
            raise answer
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in answer
        ]

    async def close(self) -> None:
        pass


async def test_the_fetcher_resolves_once_and_connects_to_the_checked_address(
    network: ScriptedNetwork, secret: Server, internet: Server
) -> None:
    resolver = ScriptedResolver({"docs.rebind.example": [[PUBLIC], ["127.0.0.1"]]})
    async with Fetcher(resolver=resolver) as fetcher:
        data = await fetcher.get(f"http://docs.rebind.example:{secret.port}/a.docx")
    assert data == PUBLIC_DOC and secret.requests == []
    assert resolver.calls == [("docs.rebind.example", secret.port)]
    assert network.connects == [(PUBLIC, secret.port)]
    assert internet.requests == [f"docs.rebind.example:{secret.port} /a.docx"]


async def test_no_answer_outlives_its_check(
    network: ScriptedNetwork, secret: Server, internet: Server
) -> None:
    """The next connection resolves and checks again: no cache keeps the public answer,
    and the loopback answer that follows is refused."""
    resolver = ScriptedResolver({"docs.rebind.example": [[PUBLIC], ["127.0.0.1"]]})
    url = f"http://docs.rebind.example:{secret.port}/a.docx"
    async with Fetcher(resolver=resolver) as fetcher:
        assert await fetcher.get(url) == PUBLIC_DOC
        with pytest.raises(DownloadRefused):
            await fetcher.get(url)
    assert len(resolver.calls) == 2 and secret.requests == []
    assert network.connects == [(PUBLIC, secret.port)]


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        [PUBLIC, "127.0.0.1"],  # one bad address in the answer refuses the answer
        ["10.1.2.3"],
        ["100.100.100.200"],  # Alibaba Cloud's metadata service (carrier-grade NAT space)
        ["169.254.169.254"],
        ["0.0.0.0"],
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["fe80::1%1"],
        ["fd00::1"],
        ["64:ff9b::7f00:1"],  # NAT64 of 127.0.0.1
        ["2002:7f00:1::1"],  # 6to4 of 127.0.0.1
    ],
)
async def test_a_name_at_a_non_public_address_is_refused(
    network: ScriptedNetwork, secret: Server, addresses: list[str]
) -> None:
    resolver = ScriptedResolver({"inside.example": [addresses]})
    async with Fetcher(resolver=resolver) as fetcher:
        with pytest.raises(DownloadRefused) as refused:
            await fetcher.get(f"http://inside.example:{secret.port}/x")
    assert "inside.example" in str(refused.value)
    assert network.connects == [] and secret.requests == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",  # short forms the system would still take as 127.0.0.1
        "2130706433",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "169.254.169.254",
        "100.64.0.1",
        "10.0.0.5",
        "0.0.0.0",
        "[fe80::1]",
        "[64:ff9b::a00:5]",
    ],
)
async def test_an_ip_literal_off_the_internet_is_refused_without_a_connection(
    network: ScriptedNetwork, secret: Server, host: str
) -> None:
    resolver = ScriptedResolver({})
    async with Fetcher(resolver=resolver) as fetcher:
        with pytest.raises(DownloadRefused):
            await fetcher.get(f"http://{host}:{secret.port}/x")
    assert resolver.calls == [] and network.connects == [] and secret.requests == []


async def test_a_host_the_operator_named_may_be_at_a_private_address(
    network: ScriptedNetwork, secret: Server
) -> None:
    """Named exactly — the host, with the port unless it is the scheme's default — and
    never by a wildcard."""
    resolver = ScriptedResolver({"intranet.example": [["127.0.0.1"]]})
    url = f"http://intranet.example:{secret.port}/x"
    async with Fetcher(resolver=resolver) as fetcher:
        named = await fetcher.get(url, trusted=[f"intranet.example:{secret.port}"])
        literal = await fetcher.get(
            f"http://127.0.0.1:{secret.port}/x", trusted=[f"127.0.0.1:{secret.port}"]
        )
        for trusted in (
            [f"*.example:{secret.port}"],
            ["intranet.example"],  # the default port only
            ["intranet.example:1"],
            [f"other.example:{secret.port}"],
        ):
            with pytest.raises(DownloadRefused):
                await fetcher.get(url, trusted=trusted)
        for trusted in (["127.0.0.1:1"], ["127.0.0.1"]):
            with pytest.raises(DownloadRefused):
                await fetcher.get(f"http://127.0.0.1:{secret.port}/x", trusted=trusted)
    assert named == literal == SECRET
    assert secret.requests == [f"intranet.example:{secret.port} /x", f"127.0.0.1:{secret.port} /x"]


@pytest.mark.parametrize("answer", [socket.gaierror(-2, "Name or service not known"), []])
async def test_a_name_that_does_not_resolve_is_a_permanent_no_such_host(
    network: ScriptedNetwork, answer: Any
) -> None:
    resolver = ScriptedResolver({"gone.example": [answer]})
    async with Fetcher(resolver=resolver) as fetcher:
        with pytest.raises(DownloadFailed) as failed:
            await fetcher.get("https://gone.example/a.docx")
    assert failed.value.permanent and "no such host as gone.example" in str(failed.value)
    assert network.connects == []


async def test_a_credential_is_not_carried_to_another_host_by_a_redirect(
    network: ScriptedNetwork, internet: Server
) -> None:
    seen: list[str | None] = []

    async def hop(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        if request.host.startswith("a."):
            raise web.HTTPFound("http://b.example:8080/file")
        return web.Response(body=PUBLIC_DOC)

    app = web.Application()
    app.router.add_get("/{tail:.*}", hop)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    internet.port = runner.addresses[0][1]

    async def anywhere(_: str) -> None:
        return None

    resolver = ScriptedResolver({"a.example": [[PUBLIC]], "b.example": [[PUBLIC]]})
    try:
        async with Fetcher(resolver=resolver) as fetcher:
            data = await fetcher.get(
                "http://a.example:8080/file", headers={"Authorization": "Bearer t"}, check=anywhere
            )
    finally:
        await runner.cleanup()
    assert data == PUBLIC_DOC and seen == ["Bearer t", None]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("127.255.255.254", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("100.100.100.200", False),
        ("0.0.0.0", False),
        ("192.0.2.1", False),  # documentation
        ("198.18.0.1", False),  # benchmarking
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),
        ("224.0.0.1", False),  # multicast
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fec0::1", False),  # site-local
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b:1::1", False),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("2001:db8::1", False),
        ("not an address", False),
        ("", False),
    ],
)
def test_public_address(address: str, public: bool) -> None:
    assert public_address(address) is public


# --- through Tolk: Rozetta, which only takes uploads ---------------------------------------------


async def test_rozetta_never_gets_a_local_file_through_a_rebinding_name(
    slack, xiangji, tmp_path, network: ScriptedNetwork, secret: Server
) -> None:
    """The reported attack end to end: ``/translate-doc … --provider rozetta`` with a
    name that rebinds to 127.0.0.1; before, the local file went to Rozetta and was
    posted."""
    network.answers["docs.rebind.example"] = [PUBLIC, "127.0.0.1"]
    url = f"http://docs.rebind.example:{secret.port}/secret.txt"
    async with RozettaEmulator(done_after_polls=1) as rozetta:
        env = rozetta_env(slack, xiangji, rozetta, None, tmp_path)
        async for tolk in running(env):
            await tolk.command("/translate-doc", f"en>ja {url} --provider rozetta")
            await tolk.settle(within=15)
    sent = [f for r in rozetta.requests_for("file-translate") for f in r.files]
    assert secret.requests == []
    assert all(SECRET not in content for _, content in sent)
    assert all(SECRET not in f.content for f in slack.files.values())
    assert network.lookups == ["docs.rebind.example"]
