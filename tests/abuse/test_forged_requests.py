"""Issue 8: requests Tolk did not get from Slack or from the provider change nothing.

Against a running Tolk on loopback: unsigned, mis-signed, stale and replayed Slack requests;
bodies over the server's limit; and Alibaba callbacks and signed file links with forged
tokens. Each is refused (never a 2xx for a forgery, never a 500), and afterwards the store,
the Slack emulator and the provider emulators show that nothing happened.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from bot.runtime import MAX_BODY_BYTES
from emulators.alibaba import AlibabaMTEmulator
from emulators.signed import command_body, event_body, interaction_body, signature
from tests.abuse.conftest import all_tasks, assert_nothing_happened, visible_calls
from tests.conftest import SIGNING_SECRET, Tolk
from tests.test_alibaba_e2e import alibaba_env, running, until
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import upload

FORM = "application/x-www-form-urlencoded"
LIVE = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def post(tolk: Tolk, body: str, headers: dict[str, str], content_type: str = FORM):
    async with tolk.session.post(
        tolk.events_url, data=body.encode(), headers={"Content-Type": content_type, **headers}
    ) as resp:
        return resp.status, await resp.text()


def signed(body: str, *, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    ts = str(int(time.time() if at is None else at))
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(secret, ts, body)}


# --- bad and replayed signatures ---------------------------------------------------------------


def forgeries(body: str) -> dict[str, dict[str, str]]:
    now = time.time()
    other = command_body("/translate", "zh>en 别的")
    right = signed(body)
    return {
        "no signature": {},
        "no timestamp": {"X-Slack-Signature": right["X-Slack-Signature"]},
        "timestamp only": {"X-Slack-Request-Timestamp": right["X-Slack-Request-Timestamp"]},
        "wrong secret": signed(body, secret="not-the-signing-secret"),
        "signature of another body": {
            "X-Slack-Request-Timestamp": right["X-Slack-Request-Timestamp"],
            "X-Slack-Signature": signed(other)["X-Slack-Signature"],
        },
        "replayed after 5 minutes": signed(body, at=now - 5 * 60 - 30),
        "replayed a day later": signed(body, at=now - 86_400),
        "timestamp from the future": signed(body, at=now + 10 * 60),
        "signature of another timestamp": {
            "X-Slack-Request-Timestamp": str(int(now) - 1),
            "X-Slack-Signature": right["X-Slack-Signature"],
        },
        "empty signature": {**right, "X-Slack-Signature": ""},
        "signature without its version": {
            **right,
            "X-Slack-Signature": right["X-Slack-Signature"].removeprefix("v0="),
        },
        "v1 signature": {**right, "X-Slack-Signature": "v1=" + right["X-Slack-Signature"][3:]},
    }


@pytest.mark.parametrize(
    "text", ["zh>en 我是中国人", "zh>ko https://example.com/a.jpg", "config auto-images on zh>ko"]
)
async def test_unsigned_missigned_and_stale_commands_change_nothing(tolk, slack, xiangji, text):
    command = "/tolk" if text.startswith("config") else "/translate"
    body = command_body(command, text, channel="C0LOCALE")
    for name, headers in forgeries(body).items():
        status, answer = await post(tolk, body, headers)
        assert status == 401, (name, status, answer)
        assert "task" not in answer.lower(), name
    await assert_nothing_happened(tolk, slack, xiangji)
    _, shown = await tolk.command("/tolk", "config show", channel="C0LOCALE")
    assert "auto-images: off" in shown  # the forged config change did not happen


async def test_forged_events_and_interactions_change_nothing(tolk, slack, xiangji):
    message = slack.post_user_message("C0GENERAL", "U0BOB", "你好")
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "flag-kr",
        "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
    }
    event = event_body(reaction)
    for name, headers in forgeries(event).items():
        status, _ = await post(tolk, event, headers, "application/json")
        assert status == 401, name
    shortcut = interaction_body(
        {
            "type": "message_action",
            "callback_id": "tolk_translate",
            "trigger_id": slack.new_trigger_id(),
            "team": {"id": "T0TOLK"},
            "user": {"id": "U0ALICE"},
            "channel": {"id": "C0GENERAL"},
            "message_ts": message["ts"],
            "message": message,
        }
    )
    for name, headers in forgeries(shortcut).items():
        status, _ = await post(tolk, shortcut, headers)
        assert status == 401, name
    await assert_nothing_happened(tolk, slack, xiangji)  # no reply, no form opened


@LIVE
@given(
    st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=80),
    st.integers(-300, 300),
    st.sampled_from(["/translate", "/translate-image", "/cutout", "/tolk"]),
)
async def test_guessed_signatures_are_refused(tolk, slack, xiangji, guess, skew, command):
    """Any guess at the signature, with a fresh timestamp, is a 401."""
    body = command_body(command, "zh>en 你好" if command == "/translate" else "help")
    headers = {"X-Slack-Request-Timestamp": str(int(time.time()) + skew)}
    headers["X-Slack-Signature"] = guess
    assert guess != signature(SIGNING_SECRET, headers["X-Slack-Request-Timestamp"], body)
    status, _ = await post(tolk, body, headers)
    assert status == 401
    assert xiangji.requests == [] and visible_calls(slack) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=é"},
    ],
    ids=["word", "float", "5000 digits", "non-ascii signature"],
)
async def test_malformed_signature_headers_are_a_401_not_a_500(tolk, slack, xiangji, headers):
    status, _ = await post(tolk, command_body("/translate", "zh>en 你好"), headers)
    assert status == 401
    await assert_nothing_happened(tolk, slack, xiangji)


async def test_a_genuine_command_replayed_within_the_window_is_one_task(tolk, slack, xiangji):
    body = command_body("/translate-image", f"zh>ko {xiangji.sample_url('shoe')}")
    headers = signed(body)  # the very bytes and headers, captured and sent again
    first = await post(tolk, body, headers)
    second = await post(tolk, body, headers)
    third = await post(tolk, body, headers)
    assert first[0] == second[0] == third[0] == 200
    task_id = task_id_in(first[1])
    assert task_id_in(second[1]) == task_id_in(third[1]) == task_id
    assert "already" in second[1] and "already" in third[1]
    await tolk.settle()
    assert [t.id for t in await all_tasks(tolk)] == [task_id]
    assert len(xiangji.requests_for("GetImageTranslate")) == 1
    (parent,) = slack.messages("C0GENERAL")
    uploads = [f for r in slack.thread("C0GENERAL", parent["ts"]) for f in r.get("files", [])]
    assert len(uploads) == 1


async def test_a_genuine_event_replayed_is_translated_once(tolk, slack, xiangji):
    message = slack.post_user_message("C0GENERAL", "U0BOB", "我是中国人")
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "flag-kr",
        "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
    }
    event = event_body(reaction)
    headers = signed(event)
    for _ in range(3):  # Slack's own retries look exactly like this
        status, _ = await post(tolk, event, headers, "application/json")
        assert status == 200
    await tolk.settle()
    assert len(xiangji.requests_for("GetTextTranslate")) == 1
    assert len(slack.thread("C0GENERAL", message["ts"])) == 1


# --- bodies over the limit -----------------------------------------------------------------------


async def test_bodies_over_the_limit_are_refused_and_the_server_keeps_serving(
    tolk, slack, xiangji, caplog
):
    caplog.set_level(logging.WARNING)
    base = command_body("/translate", "zh>en ")
    huge = base + "a" * (MAX_BODY_BYTES + 1 - len(base))
    assert len(huge.encode()) == MAX_BODY_BYTES + 1
    status, answer = await post(tolk, huge, signed(huge))  # genuinely signed, just too big
    assert status == 413, answer

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the size shows on reading
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536

    headers = {"Content-Type": FORM, **signed("")}
    async with tolk.session.post(tolk.events_url, data=chunks(), headers=headers) as resp:
        assert resp.status == 413

    event = event_body({"type": "app_mention", "text": "x" * MAX_BODY_BYTES, "channel": "C0"})
    status, _ = await post(tolk, event, signed(event), "application/json")
    assert status == 413

    at_limit = base + "a" * (MAX_BODY_BYTES - len(base))
    status, _ = await post(tolk, at_limit, signed(at_limit, secret="wrong"))
    assert status == 401  # read whole and judged by its signature: the limit is the limit

    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []  # no crash
    await assert_nothing_happened(tolk, slack, xiangji)

    async with tolk.session.get(f"http://127.0.0.1:{tolk.port}/healthz") as resp:
        assert resp.status == 200
    status, answer = await tolk.command("/translate", "zh>en 我是中国人")
    assert status == 200 and task_id_in(answer)
    await tolk.settle()
    assert "I am Chinese" in slack.messages("C0GENERAL")[0]["text"]


# --- forged callbacks and signed links ------------------------------------------------------------


@pytest.fixture
async def alibaba() -> AsyncIterator[AlibabaMTEmulator]:
    async with AlibabaMTEmulator(doc_seconds=None) as emulator:
        yield emulator


@pytest.fixture
async def waiting_doc(slack, xiangji, alibaba, tmp_path) -> AsyncIterator[dict[str, Any]]:
    """Tolk with a public URL and one document task from a Slack upload, waiting at Alibaba
    (which fetched it from Tolk's signed link and will call back)."""
    async for tolk in running(alibaba_env(slack, xiangji, alibaba, tmp_path)):
        await tolk.command("/tolk", "config auto-docs on en>de", channel="C0LOCALE")
        await upload(tolk, slack, [("secret plan.txt", b"the plan", "text/plain")])
        await until(lambda: alibaba.docs)
        await tolk.services.poller.drain()
        (doc,) = alibaba.docs.values()
        (task,) = await all_tasks(tolk)
        yield {"tolk": tolk, "task": task, "link": doc.source_url, "alibaba_id": doc.task_id}


async def unchanged(case: dict[str, Any], alibaba: AlibabaMTEmulator, slack: Any) -> None:
    tolk, before = case["tolk"], case["task"]
    await tolk.services.poller.drain()
    after = await tolk.services.store.get(before.id)
    assert (after.state, after.next_poll_at, after.attempts, after.items) == (
        before.state,
        before.next_poll_at,
        before.attempts,
        before.items,
    )
    assert alibaba.requests_for("GetDocTranslateTask") == []  # nobody made Tolk look
    assert [c.method for c in visible_calls(slack)].count("chat.postMessage") == 0


def segment(text: str) -> str:
    return quote(text, safe="")


def near(genuine: str) -> st.SearchStrategy[str]:
    """Strings close to a genuine token: one character changed, cut short, extended, cased."""
    return st.one_of(
        st.integers(0, len(genuine) - 1).flatmap(
            lambda i: st.sampled_from("AZaz09-_=").map(lambda c: genuine[:i] + c + genuine[i + 1 :])
        ),
        st.integers(0, len(genuine) - 1).map(lambda n: genuine[:n]),
        st.text(max_size=4).map(lambda extra: genuine + extra),
        st.just(genuine.swapcase()),
        st.just(genuine + "/"),
    ).filter(lambda t: t != genuine)


@LIVE
@given(data=st.data())
async def test_forged_callbacks_are_refused_and_change_nothing(
    waiting_doc, alibaba, slack, data
) -> None:
    tolk, task = waiting_doc["tolk"], waiting_doc["task"]
    genuine = tolk.services.links.callback_token(task.id)
    task_id = data.draw(st.sampled_from([task.id, "TZZZZ", task.id.lower()]) | st.text(max_size=12))
    token = data.draw(near(genuine) | st.text(max_size=60) | st.just(""))
    if task_id != task.id:  # the genuine token of another task is forged too
        token = data.draw(st.sampled_from([genuine, token]))
    notice = {
        "task_id": waiting_doc["alibaba_id"],
        "status": "translated",
        "errCode": 200,
        "translateFileUrl": "http://127.0.0.1:9/evil.docx",
    }
    body = data.draw(st.just(json.dumps(notice)) | st.text(max_size=200))
    url = URL(
        f"http://127.0.0.1:{tolk.port}/callbacks/alibaba/{segment(task_id)}/{segment(token)}",
        encoded=True,
    )
    async with tolk.session.post(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status in (403, 404, 405), (task_id, token, resp.status)
    await unchanged(waiting_doc, alibaba, slack)


@LIVE
@given(data=st.data())
async def test_forged_file_links_open_nothing(waiting_doc, alibaba, slack, data) -> None:
    tolk = waiting_doc["tolk"]
    head, _, rest = waiting_doc["link"].partition("/files/")
    genuine = [unquote(part) for part in rest.split("/")]  # task, item, expires, sig, name
    assert len(genuine) == 5
    hostile = st.text(max_size=30) | st.sampled_from(["", "..", ".", "%2e%2e", "0", "²", "-1"])
    forged = [data.draw(st.just(part) | near(part) | hostile) for part in genuine]
    if forged == genuine:
        forged[3] = data.draw(near(genuine[3]))
    extra = data.draw(st.sampled_from(["", "/", "/x", "?sig=" + genuine[3], "/../" + genuine[4]]))
    url = URL(f"{head}/files/{'/'.join(map(segment, forged))}{extra}", encoded=True)
    async with tolk.session.get(url, allow_redirects=False) as resp:
        content = await resp.read()
        assert resp.status in (400, 403, 404, 405), (forged, extra, resp.status)
    assert b"the plan" not in content
    await unchanged(waiting_doc, alibaba, slack)


async def test_the_genuine_link_and_callback_still_work(waiting_doc, alibaba, slack) -> None:
    """The forgeries above were refused for being forged: the genuine ones are accepted."""
    tolk, task = waiting_doc["tolk"], waiting_doc["task"]
    async with tolk.session.get(waiting_doc["link"]) as resp:
        assert resp.status == 200 and await resp.read() == b"the plan"
    alibaba.finish(waiting_doc["alibaba_id"])
    await alibaba.drain()  # its callback reached Tolk with the genuine token
    assert [c.status for c in alibaba.callbacks] == [200]
    await until(lambda: any(f.name == "secret plan-de.txt" for f in slack.files.values()))
    assert len(alibaba.requests_for("GetDocTranslateTask")) >= 1
    await tolk.settle()
    assert (await tolk.services.store.get(task.id)).settled
