"""Issue 8: a result URL a provider hands back is fetched only from an allowed host.

The provider emulators are made to answer with result URLs pointing at a loopback "trap"
server (or at an address no test may contact): a host outside ``TOLK_ALLOWED_FILE_HOSTS``,
or a name under an allowed ``*.domain`` wildcard that resolves to — or is written as — a
private address. The trap must see no request, nothing is uploaded, and the task's thread
ends with a message that says why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.core.tasks import State
from emulators.alibaba import AlibabaMTEmulator
from emulators.rozetta import RozettaEmulator
from sandbox.wiring import emulator_env
from tests.abuse.conftest import FakeNetwork, Trap, all_tasks
from tests.conftest import SIGNING_SECRET, Tolk
from tests.test_alibaba_e2e import alibaba_env, parent_of, running, until

METADATA = "100.100.100.200"  # Alibaba Cloud's instance metadata service


def env_for(slack: Any, xiangji: Any, tmp_path: Any, allowed: str) -> dict[str, str]:
    env = emulator_env(
        slack, xiangji, signing_secret=SIGNING_SECRET, database_url=f"sqlite:///{tmp_path}/t.db"
    )
    own = urlsplit(xiangji.base_url).netloc
    return env | {
        "TOLK_ALLOWED_FILE_HOSTS": f"{own},{allowed}" if allowed else own,
        "TOLK_POLL_MIN_SECONDS": "0.05",
        "TOLK_POLL_MAX_SECONDS": "0.2",
    }


def results_at(xiangji: Any, base: str) -> None:
    """Every result image Xiangji reports now lives under ``base``."""
    xiangji._link = lambda job, name: f"{base}/i/{job.id}/{name}.png"


def closing(slack: Any, channel: str = "C0GENERAL") -> str:
    return slack.thread(channel, parent_of(slack, channel)["ts"])[-1]["text"]


async def translate_one_image(tolk: Tolk, xiangji: Any) -> None:
    status, _ = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('shoe')}")
    assert status == 200
    await tolk.settle()


async def assert_refused(tolk: Tolk, slack: Any, trap: Trap, host: str) -> None:
    assert trap.requests == []  # never fetched
    assert slack.files == {}  # nothing uploaded
    final = closing(slack)
    assert "not allowed" in final and host in final, final
    (task,) = await all_tasks(tolk)
    assert task.settled and task.state is not State.DELIVERED


@pytest.fixture
async def make_tolk(slack, xiangji, tmp_path) -> AsyncIterator[Any]:
    opened: list[Any] = []

    async def make(allowed: str = "") -> Tolk:
        generator = running(env_for(slack, xiangji, tmp_path, allowed))
        opened.append(generator)
        return await anext(generator)

    yield make
    for generator in opened:
        await generator.aclose()


async def test_a_result_on_a_host_off_the_list_is_never_fetched(make_tolk, slack, xiangji, trap):
    tolk = await make_tolk()
    results_at(xiangji, trap.base_url)  # loopback, but another port than Xiangji's own
    await translate_one_image(tolk, xiangji)
    await assert_refused(tolk, slack, trap, f"127.0.0.1:{trap.port}")


async def test_a_wildcard_name_that_resolves_to_a_private_address_is_never_fetched(
    make_tolk, slack, xiangji, trap, network: FakeNetwork
):
    network.names["cdn.results.example"] = "127.0.0.1"  # the trap's address
    tolk = await make_tolk("*.results.example")
    results_at(xiangji, f"http://cdn.results.example:{trap.port}")
    await translate_one_image(tolk, xiangji)
    await assert_refused(tolk, slack, trap, "cdn.results.example")


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("*.0.0.1", "127.0.0.1"),
        ("*.1", "127.1"),  # a short form of 127.0.0.1 that ipaddress does not read
        ("*.0.0.1", "[::ffff:127.0.0.1]"),
    ],
)
async def test_a_wildcard_that_matches_a_private_ip_literal_is_never_fetched(
    make_tolk, slack, xiangji, trap, allowed, host
):
    tolk = await make_tolk(allowed)
    results_at(xiangji, f"http://{host}:{trap.port}")
    await translate_one_image(tolk, xiangji)
    await assert_refused(tolk, slack, trap, host)


async def test_a_wildcard_name_pointing_at_the_metadata_service_is_never_contacted(
    make_tolk, slack, xiangji, network: FakeNetwork
):
    network.names["meta.results.example"] = METADATA
    network.blackholes.add(METADATA)
    tolk = await make_tolk("*.results.example")
    results_at(xiangji, "http://meta.results.example")
    await translate_one_image(tolk, xiangji)
    assert network.attempts == []
    assert slack.files == {} and "not allowed" in closing(slack)


async def test_an_allowed_host_is_still_fetched(make_tolk, slack, xiangji, trap):
    """The refusals above are about the host: the same result from an allowed host arrives."""
    tolk = await make_tolk(f"127.0.0.1:{trap.port}")
    results_at(xiangji, trap.base_url)
    await translate_one_image(tolk, xiangji)
    assert len(trap.requests) == 1 and len(slack.files) == 1


# --- Alibaba: the translated document's URL ---------------------------------------------------


async def test_an_alibaba_document_on_a_host_off_the_list_is_never_fetched(
    slack, xiangji, tmp_path, trap
):
    async with AlibabaMTEmulator(doc_seconds=0.05) as alibaba:
        alibaba._doc_link = lambda doc: f"{trap.base_url}/files/doc/{doc.task_id}/result.txt"
        async for tolk in running(alibaba_env(slack, xiangji, alibaba, tmp_path)):
            await tolk.command("/translate-doc", f"en>ja {alibaba.sample_doc_url('guide.txt')}")
            await until(lambda: alibaba.docs)
            await alibaba.drain()
            await tolk.settle()
            assert alibaba.requests_for("GetDocTranslateTask")  # Tolk did read the result
            assert trap.requests == [] and slack.files == {}
            final = closing(slack)
            assert "not allowed" in final and f"127.0.0.1:{trap.port}" in final


# --- Rozetta: a document URL a person gives ---------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"http://{METADATA}/latest/meta-data/ram/security-credentials/",
        "http://meta.example.org/latest/meta-data/",  # a public-looking name for the same place
        "http://100.64.0.1/internal.docx",  # carrier-grade NAT space is not the internet either
    ],
)
async def test_rozetta_never_fetches_a_document_from_a_non_public_address(
    slack, xiangji, tmp_path, network: FakeNetwork, url
):
    network.names["meta.example.org"] = METADATA
    network.blackholes.update({METADATA, "100.64.0.1"})
    async with RozettaEmulator() as rozetta:
        env = emulator_env(
            slack,
            xiangji,
            rozetta=rozetta,
            signing_secret=SIGNING_SECRET,
            database_url=f"sqlite:///{tmp_path}/t.db",
        )
        async for tolk in running(env):
            await tolk.command("/translate-doc", f"en>ja {url} --provider rozetta")
            await tolk.settle()
            assert network.attempts == []
            assert rozetta.requests == []
            assert "not a public address" in closing(slack)
