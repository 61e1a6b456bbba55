"""Finding 7 (issue 16): one person's slow files must not starve everyone's deliveries.

Before: one global 8-slot semaphore and only a 120 s total timeout, so eight slow
documents from one person made every delivery in every channel wait behind them (0.3 s
became 43 s). Now transfers take fair slots per owner (the person a task is for: at most
``PER_OWNER`` at once, ``TRANSFERS`` in all, a freed slot to the owner with fewest
running), and a transfer that stops sending fails after ``sock_read`` seconds of silence.

The origin server here trickles a "slow" document one byte a second; a fast document
from someone else must arrive in well under a second meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from bot.config import Settings
from bot.core.fetch import DOWNLOAD_TIMEOUT, PER_OWNER, TRANSFERS, FairSlots, Fetcher
from bot.core.logs import current_work
from bot.core.slack_client import slack_client
from bot.engine.delivery import Delivery, DownloadFailed
from emulators.rozetta import RozettaEmulator
from tests.test_alibaba_e2e import running, until
from tests.test_rozetta_e2e import rozetta_env

TRICKLE = 3  # bytes of a slow document, one a second
FAST = b"Release notes\nFaster uploads.\n"


@dataclass
class Origin:
    base: str = ""
    slow_started: int = 0

    @property
    def host(self) -> str:
        return urlsplit(self.base).netloc


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    found = Origin()

    async def slow(request: web.Request) -> web.StreamResponse:
        found.slow_started += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.content_length = TRICKLE
        await resp.prepare(request)
        for _ in range(TRICKLE):
            await resp.write(b"x")
            await asyncio.sleep(1)
        await resp.write_eof()
        return resp

    async def stalled(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b"x")  # and then nothing more, ever
        await asyncio.sleep(60)
        return resp

    async def fast(_: web.Request) -> web.Response:
        return web.Response(body=FAST, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/slow/{name}", slow)
    app.router.add_get("/stalled/{name}", stalled)
    app.router.add_get("/fast/{name}", fast)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    found.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield found
    await runner.cleanup()


@pytest.fixture
async def delivery(origin: Origin) -> AsyncIterator[Delivery]:
    async with aiohttp.ClientSession() as session:
        made = Delivery(
            slack_client(None, Settings().slack_api_url, session), session, [origin.host]
        )
        yield made
        await made.close()


async def as_owner(owner: str, download) -> bytes:
    """What the work engine does: the task's person in ``current_work``."""
    context = current_work.set({"task": "t", "owner": owner})
    try:
        return await download()
    finally:
        current_work.reset(context)


async def stop(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_one_persons_slow_downloads_do_not_delay_anothers(
    delivery: Delivery, origin: Origin
) -> None:
    slow = [
        asyncio.create_task(
            as_owner("T0:U0SLOW", lambda n=n: delivery.download(f"{origin.base}/slow/{n}.docx"))
        )
        for n in range(8)
    ]
    try:
        await until(lambda: origin.slow_started >= PER_OWNER)
        await asyncio.sleep(0.2)  # the others of U0SLOW are queued by now
        started = time.monotonic()
        data = await as_owner(
            "T0:U0FAST", lambda: delivery.download(f"{origin.base}/fast/notes.txt")
        )
        took = time.monotonic() - started
        assert data == FAST
        assert took < 0.5, f"a fast download waited {took:.2f} s behind someone else's"
        # U0SLOW's own transfers take their turns: two at a time, the rest wait
        assert origin.slow_started == PER_OWNER
        assert delivery.fetcher.slots.running == {"T0:U0SLOW": PER_OWNER}
    finally:
        await stop(slow)
    assert delivery.fetcher.slots.running == {} and delivery.fetcher.slots.busy == 0


async def test_an_explicit_owner_argument_is_a_key_too(delivery: Delivery, origin: Origin) -> None:
    slow = [
        asyncio.create_task(delivery.download_public(f"{origin.base}/slow/{n}", owner="C0A"))
        for n in range(TRANSFERS)
    ]
    try:
        await until(lambda: origin.slow_started >= PER_OWNER)
        started = time.monotonic()
        data = await delivery.download_public(f"{origin.base}/fast/b.txt", owner="C0B")
        assert data == FAST and time.monotonic() - started < 0.5
    finally:
        await stop(slow)


async def test_a_transfer_that_stops_sending_fails_soon_and_may_be_retried(
    origin: Origin,
) -> None:
    assert DOWNLOAD_TIMEOUT.sock_read is not None and DOWNLOAD_TIMEOUT.sock_read <= 30
    timeout = aiohttp.ClientTimeout(total=60, sock_connect=5, sock_read=0.5)
    async with Fetcher(timeout=timeout) as fetcher:
        started = time.monotonic()
        with pytest.raises(DownloadFailed) as failed:
            await fetcher.get(f"{origin.base}/stalled/a.docx", trusted=[origin.host])
        took = time.monotonic() - started
    assert not failed.value.permanent  # a later try may work
    assert "stopped sending" in str(failed.value) and "127.0.0.1" in str(failed.value)
    assert took < 3, f"a stalled transfer held its slot for {took:.1f} s"
    assert fetcher.slots.busy == 0


# --- FairSlots --------------------------------------------------------------------------------


class Holders:
    """Transfers that hold their slot until told to finish, recording the peak counts."""

    def __init__(self, slots: FairSlots) -> None:
        self.slots = slots
        self.order: list[str] = []  # owners, in the order they got a slot
        self.peak = 0
        self.peak_per: dict[str, int] = {}
        self._done: dict[str, list[asyncio.Event]] = {}

    def start(self, owner: str) -> asyncio.Task:
        done = asyncio.Event()
        self._done.setdefault(owner, []).append(done)

        async def hold() -> None:
            async with self.slots.slot(owner):
                self.order.append(owner)
                self.peak = max(self.peak, self.slots.busy)
                for key, count in self.slots.running.items():
                    self.peak_per[key] = max(self.peak_per.get(key, 0), count)
                await done.wait()

        return asyncio.create_task(hold())

    def finish(self, owner: str) -> None:
        next(e for e in self._done[owner] if not e.is_set()).set()

    def finish_all(self) -> None:
        for done in self._done.values():
            for event in done:
                event.set()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_freed_slot_goes_to_the_owner_with_fewest_running() -> None:
    holders = Holders(FairSlots(total=4, per_owner=2))
    tasks = [holders.start(o) for o in "AAAAABBBBBCCCCC"]  # A first, then B, then C
    await settle()
    assert holders.order == ["A", "A", "B", "B"]  # A's share, then B's: the total is 4
    holders.finish("A")
    await settle()
    assert holders.order[-1] == "C"  # not A again: C had none running
    holders.finish("B")
    await settle()
    assert holders.order[-1] == "A"  # one each running: A was served least recently
    holders.finish("C")
    await settle()
    assert holders.order[-1] == "C"  # C has none running again, B one, A two
    holders.finish_all()
    await asyncio.gather(*tasks)
    assert holders.peak == 4 and max(holders.peak_per.values()) == 2
    assert sorted(holders.order) == sorted("AAAAABBBBBCCCCC")
    assert holders.slots.busy == 0 and holders.slots.running == {}


async def test_a_cancelled_waiter_or_holder_leaves_no_slot_behind() -> None:
    slots = FairSlots(total=2, per_owner=2)
    holders = Holders(slots)
    first, second = holders.start("A"), holders.start("A")
    waiting = holders.start("B")
    await settle()
    assert slots.busy == 2
    waiting.cancel()  # gave up while queued
    await settle()
    first.cancel()  # gave up while holding a slot
    await settle()
    assert slots.running == {"A": 1}
    third = holders.start("B")
    await settle()
    assert slots.running == {"A": 1, "B": 1}
    holders.finish_all()
    await asyncio.gather(second, third)
    assert slots.busy == 0 and slots.running == {}


# --- through Tolk: Rozetta documents of two people -----------------------------------------------


async def test_through_tolk_anothers_document_is_not_stuck_behind_slow_ones(
    slack, xiangji, tmp_path, origin: Origin
) -> None:
    """Alice sends eight documents from a slow server (``/translate-doc … --provider
    rozetta`` downloads each itself); Bob's one document, sent after, reaches Rozetta at
    once — the engine keys each transfer by the task's person."""
    async with RozettaEmulator(done_after_polls=1) as rozetta:
        env = rozetta_env(slack, xiangji, rozetta, None, tmp_path)
        env["TOLK_ALLOWED_FILE_HOSTS"] += "," + origin.host
        async for tolk in running(env):
            for n in range(8):
                url = f"{origin.base}/slow/alice{n}.txt"
                await tolk.command("/translate-doc", f"en>ja {url} --provider rozetta")
            await until(lambda: origin.slow_started >= 2)
            await asyncio.sleep(0.3)
            started = time.monotonic()
            url = f"{origin.base}/fast/bob.txt"
            await tolk.command("/translate-doc", f"en>ja {url} --provider rozetta", user="U0BOB")

            def bobs() -> list:
                sent = rozetta.requests_for("file-translate")
                return [r for r in sent if r.files and r.files[0][0] == "bob.txt"]

            await until(bobs, within=TRICKLE * 3)
            took = time.monotonic() - started
            assert took < 1.5, f"Bob's document waited {took:.2f} s behind Alice's"
            assert bobs()[0].files[0][1] == FAST
