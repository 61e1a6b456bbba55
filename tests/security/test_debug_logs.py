"""Finding 8 (issue 16): a signed link is a credential, so no log line may carry one.

A whole session runs at DEBUG with a handler on the root logger that keeps every
record of every library (no filter of Tolk's own in front of it): a Refine press, the
Refine page and its result, a Slack upload served to Alibaba at its signed file link,
and a document task whose callback URL carries its per-task token. Then the captured
text is searched for every link signature, the callback token, the bot token, the
signing secret and every provider key: none may appear, at any level.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import pytest

from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.refine_support import link_for, press, refine_controls
from tests.test_alibaba_e2e import alibaba_env, running, until
from tests.test_surfaces import upload

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Everything(logging.Handler):
    """Every record, fully formatted, with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def captured() -> Iterator[Everything]:
    root = logging.getLogger()
    handler = Everything()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def docs_tolk(slack, xiangji, tmp_path, captured) -> AsyncIterator:
    from emulators.alibaba import AlibabaMTEmulator

    async with AlibabaMTEmulator(doc_seconds=0.05) as alibaba:
        env = alibaba_env(slack, xiangji, alibaba, tmp_path)
        async for tolk in running(env):
            yield tolk, alibaba, env


async def test_a_debug_session_logs_no_signed_link_token_or_key(
    docs_tolk, slack, xiangji, captured
):
    tolk, alibaba, env = docs_tolk

    # Refine: an image translated, the button pressed, the page opened, a result saved.
    status, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
    assert status == 200, body
    task_id = re.search(r"task `(T[0-9A-Z]{4})`", body).group(1)
    await tolk.settle()
    task = await tolk.services.store.get(task_id)
    final = slack.thread("C0GENERAL", task.place.thread_ts)[-1]
    (button,) = refine_controls(final)
    assert await press(tolk, slack, final, button) == 200
    refine = link_for(slack, "U0ALICE")
    async with tolk.session.get(refine) as resp:
        assert resp.status == 200
    rid = task.items[0].provider_id
    async with tolk.session.post(
        xiangji.base_url + "/image-editor/api/open", json={"requestIds": [rid], "params": {}}
    ) as resp:
        assert resp.status == 200
    async with tolk.session.post(
        xiangji.base_url + "/image-editor/api/save", json={"requestId": rid}
    ) as resp:
        refined = (await resp.json())["url"]
    result = {
        "name": "XJ_IMAGE_EDITOR_URL",
        "url": refined,
        "requestId": rid,
        "all": {rid: refined},
    }
    async with tolk.session.post(refine, json=result) as resp:
        assert resp.status == 202, await resp.text()
    async with tolk.session.post(refine, json=result) as resp:  # a replay: refused
        assert resp.status in (403, 409, 410)
    await tolk.settle()

    # A Slack upload in an auto-docs channel: Alibaba fetches it at its signed file link
    # and reports through the task's callback URL.
    await tolk.command("/tolk", "config auto-docs on en>de", channel="C0LOCALE")
    await upload(tolk, slack, [("notes.txt", b"hello there", "text/plain")])
    await until(lambda: any(f.name == "notes-de.txt" for f in slack.files.values()), within=10)
    await until(lambda: alibaba.callbacks, within=5)
    (doc,) = alibaba.docs.values()
    file_link = doc.source_url
    assert "/files/" in file_link and doc.callback_url and "/callbacks/" in doc.callback_url
    assert alibaba.fetched == [(file_link, 200)]
    assert alibaba.callbacks and alibaba.callbacks[0].status == 200
    await tolk.settle()

    # A forged and an oversized link too: their refusals are logged no more than a success.
    async with tolk.session.get(file_link.replace("/files/", "/files/x")) as resp:
        assert resp.status in (403, 404)

    refine_signature = refine.rstrip("/").rsplit("/", 1)[1]
    file_signature = file_link.rsplit("/", 2)[1]
    callback_token = doc.callback_url.rstrip("/").rsplit("/", 1)[1]
    secrets = {
        "the Refine link": refine,
        "the Refine signature": refine_signature,
        "the file link": file_link,
        "the file link's signature": file_signature,
        "the callback URL": doc.callback_url,
        "the callback token": callback_token,
        "the bot token": BOT_TOKEN,
        "the signing secret": SIGNING_SECRET,
    }
    for name in (
        "XIANGJI_USER_KEY",
        "XIANGJI_IMG_TRANS_KEY",
        "XIANGJI_TEXT_TRANS_KEY",
        "XIANGJI_MATTING_KEY",
        "XIANGJI_AIGC_KEY",
        "ALIBABA_ACCESS_KEY_SECRET",
    ):
        secrets[name] = env[name]
    text = captured.text
    assert len(captured.lines) > 50, "the session was not logged at DEBUG"
    assert any(line.startswith("DEBUG ") for line in captured.lines)
    leaked = {name: value for name, value in secrets.items() if value in text}
    context = {
        name: [line[:300] for line in captured.lines if value in line][:3]
        for name, value in leaked.items()
    }
    assert not leaked, context
    # The links themselves went where they belong, whole: only the logs lost them.
    assert any(refine in str(e.get("blocks")) for e in slack.ephemerals("C0GENERAL"))
    assert "[signature]" in text  # slack_sdk's DEBUG line with the ephemeral, redacted


def test_any_logger_any_form_of_a_signed_link_is_redacted(captured):
    """Args, f-strings, a form-encoded body, JSON-escaped slashes, a traceback: whatever
    library logs a signed link, the record carries no signature."""
    from bot.core.links import Links

    links = Links("https://tolk.example.com", "s3cret-signing")
    refine = links.refine_url("T1234", 0, "U0ALICE", "ENG")
    file_link = links.file_url("T1234", 2, "report.pdf")
    callback = links.callback_url("alibaba", "T1234")
    signatures = [
        refine.rsplit("/", 1)[1],
        file_link.rsplit("/", 2)[1],
        links.callback_token("T1234"),
    ]
    some = logging.getLogger("some.library")
    some.debug("sending %s", {"text": f"<{refine}|Open the editor>"})
    some.info(f"FileUrl={quote(file_link, safe='')}&CallbackUrl={quote(callback, safe='')}")
    some.warning("json %s", json.dumps({"u": callback}).replace("/", "\\/"))
    try:
        raise RuntimeError(f"could not fetch {file_link}")
    except RuntimeError:
        some.exception("failed")
    text = captured.text
    assert "T1234" in text and "report.pdf" in text  # the rest stays readable
    assert not [s for s in signatures if s in text], text
