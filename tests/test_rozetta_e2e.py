"""Rozetta file translation end to end: documents from Slack uploads and from URLs are
uploaded to the Rozetta emulator, polled with one "all" call per round, downloaded as a
ZIP and posted into the thread under their original names."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.core.tasks import State
from emulators.alibaba import AlibabaMTEmulator
from emulators.rozetta import RozettaEmulator
from sandbox.wiring import emulator_env
from tests.conftest import SIGNING_SECRET, Tolk, poll_round
from tests.test_alibaba_e2e import parent_of, running, until
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import send_interaction, thread_files, upload

ALL = "translate-result/all"


@pytest.fixture
async def rozetta() -> AsyncIterator[RozettaEmulator]:
    async with RozettaEmulator(done_after_polls=1) as emulator:
        yield emulator


@pytest.fixture
async def samples() -> AsyncIterator[AlibabaMTEmulator]:
    """Only to serve sample documents at public-looking URLs (its host is allowed)."""
    async with AlibabaMTEmulator() as emulator:
        yield emulator


def rozetta_env(slack, xiangji, rozetta, samples, tmp_path, **extra: str) -> dict[str, str]:
    env = emulator_env(
        slack,
        xiangji,
        alibaba=samples,
        rozetta=rozetta,
        signing_secret=SIGNING_SECRET,
        database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
    )
    return {**env, "TOLK_POLL_MIN_SECONDS": "0.05", "TOLK_POLL_MAX_SECONDS": "0.2", **extra}


@pytest.fixture
async def rz(slack, xiangji, rozetta, samples, tmp_path) -> AsyncIterator[Tolk]:
    async for tolk in running(rozetta_env(slack, xiangji, rozetta, samples, tmp_path)):
        yield tolk


async def test_an_upload_in_a_rozetta_channel_comes_back_under_its_own_name(rz, slack, rozetta):
    await rz.command("/tolk", "config auto-docs on en>ja --provider rozetta", channel="C0LOCALE")
    content = b"Release notes\nFaster uploads.\n"
    message = await upload(rz, slack, [("notes.txt", content, "text/plain")])
    await until(lambda: thread_files(slack, "C0LOCALE", message["ts"]), within=10)
    await rz.settle()
    (sent,) = rozetta.requests_for("file-translate")
    assert sent.files == (("notes.txt", content),)
    assert (
        sent.fields["targetLangs"] in ('["ja"]', "ja")
        and sent.fields["contractId"] == "rz-contract"
    )
    assert thread_files(slack, "C0LOCALE", message["ts"]) == ["notes.txt"]
    translated = next(
        f for f in slack.files.values() if f.channel == "C0LOCALE" and f.content != content
    )
    assert translated.content != content and b"Faster uploads." in translated.content
    replies = slack.thread("C0LOCALE", message["ts"])
    assert any("words/characters" in m["text"] for m in replies)
    assert "1 document translated" in replies[-1]["text"]
    assert rozetta.refusals() == []


async def test_translate_doc_with_rozetta_fetches_the_url_itself(rz, slack, rozetta, samples):
    url = samples.sample_doc_url("guide.txt")
    _, body = await rz.command("/translate-doc", f"en>ja {url} --provider rozetta")
    await rz.settle()
    (sent,) = rozetta.requests_for("file-translate")
    assert sent.files[0][0] == "guide.txt" and sent.files[0][1]  # Tolk uploaded the bytes
    assert thread_files(slack, "C0GENERAL", parent_of(slack)["ts"]) == ["guide.txt"]
    assert (await rz.services.store.get(task_id_in(body))).state is State.DELIVERED


async def test_a_private_address_is_never_fetched(rz, slack, rozetta):
    await rz.command("/translate-doc", "en>ja http://127.0.0.1:9/secret.docx --provider rozetta")
    await rz.settle()
    final = slack.thread("C0GENERAL", parent_of(slack)["ts"])[-1]["text"]
    assert "not a public address" in final and "secret.docx" in final
    assert rozetta.requests == []


async def test_a_rozetta_item_error_is_reported_with_its_code(rz, slack, rozetta, samples):
    rozetta.faults.item_error("broken.txt", code=40102, message="translation failed")
    await rz.command(
        "/translate-doc", f"en>ja {samples.sample_doc_url('broken.txt')} --provider rozetta"
    )
    await rz.settle()
    final = slack.thread("C0GENERAL", parent_of(slack)["ts"])[-1]["text"]
    assert "broken.txt" in final and "40102" in final
    assert thread_files(slack, "C0GENERAL", parent_of(slack)["ts"]) == []  # nothing posted


async def test_rozetta_off_says_which_variables_to_set(tolk):
    _, body = await tolk.command(
        "/translate-doc", "en>ja https://example.com/a.docx --provider rozetta"
    )
    assert "ROZETTA_ACCESS_KEY" in body


async def test_one_status_call_per_round_for_every_pending_task(
    slack, xiangji, rozetta, samples, tmp_path, clock
):
    rozetta_env_ = rozetta_env(slack, xiangji, rozetta, samples, tmp_path)
    rozetta_env_ |= {"TOLK_POLL_MIN_SECONDS": "2", "TOLK_POLL_MAX_SECONDS": "60"}
    rozetta.done_after_polls = 3
    async for tolk in running(rozetta_env_, clock=clock, start_scheduler=False):
        tolk.services.work.rand = lambda: 0.0
        for n in range(30):
            url = samples.sample_doc_url(f"doc{n}.txt")
            await tolk.command("/translate-doc", f"en>ja {url} --provider rozetta")
        await tolk.services.poller.drain()
        assert len(rozetta.requests_for("file-translate")) == 30
        assert rozetta.refusals() == []  # 30 concurrent uploads: nonces always in order
        rounds = 0
        while len([f for f in slack.files.values()]) < 30 and rounds < 10:
            clock.advance(60)
            before = len(rozetta.requests_for(ALL))
            await poll_round(tolk)
            assert len(rozetta.requests_for(ALL)) == before + 1  # one call, 30 tasks
            assert rozetta.requests_for("translate-result") == []
            rounds += 1
        assert len(slack.files) == 30


async def test_the_shortcut_sends_a_messages_document_to_the_chosen_provider(rz, slack, rozetta):
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("spec.txt", b"Spec\nOne line.\n", "text/plain")]
    )
    values = {
        "target": {"value": {"type": "static_select", "selected_option": {"value": "ja"}}},
        "source": {"value": {"type": "static_select", "selected_option": {"value": "en"}}},
        "documents": {"value": {"type": "static_select", "selected_option": {"value": "rozetta"}}},
    }
    meta = {"channel": "C0GENERAL", "ts": message["ts"], "thread_ts": message["ts"], "team": "T0"}
    payload = {
        "type": "view_submission",
        "team": {"id": "T0"},
        "user": {"id": "U0ALICE"},
        "view": {
            "id": "V9",
            "type": "modal",
            "callback_id": "tolk_translate_modal",
            "state": {"values": values},
            "private_metadata": json.dumps(meta),
        },
    }
    status, _ = await send_interaction(rz, payload)
    assert status == 200
    await until(lambda: len(thread_files(slack, "C0GENERAL", message["ts"])) == 1, within=10)
    await rz.settle()
    (sent,) = rozetta.requests_for("file-translate")
    assert sent.files[0][0] == "spec.txt"
    assert thread_files(slack, "C0GENERAL", message["ts"]) == ["spec.txt"]
