"""Issue 8: no configured secret ever shows up in a log line, a Slack message or an error.

One Tolk runs commands of every kind through every emulator — Xiangji text, image, batch
and cut-out; Alibaba documents (a URL and a Slack upload served from a signed link, with
callbacks) and images; Rozetta; an MTS job — plus failures, a quota error, retries, forged
requests, the App Home and ``/tolk`` itself, with logging captured at DEBUG. Then every
captured log line (with tracebacks), everything Tolk sent to Slack, every answer it gave,
and every task record is searched for each secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.config import load_settings
from emulators.alibaba import AlibabaMTEmulator
from emulators.mts import MtsEmulator
from emulators.oss import OssEmulator
from emulators.rozetta import RozettaEmulator
from emulators.signed import command_body, event_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.wiring import emulator_env, free_port
from tests.abuse.conftest import all_tasks
from tests.conftest import Tolk
from tests.test_alibaba_e2e import running, until
from tests.test_surfaces import png

SIGNING = "SECRET-signing-9d8e7f6a5b"
BOT = "xoxb-SECRET-bot-4f1c2e3d"
XJ = {
    "user_key": "SECRET-xj-user-1a2b3c",
    "img_trans_key": "SECRET-xj-img-3c4d5e",
    "text_trans_key": "SECRET-xj-text-5e6f7a",
    "matting_key": "SECRET-xj-matting-7a8b9c",
}
ALI_ID, ALI_SECRET = "LTAI5tSECRETid0c1d2e", "SECRET-ali-secret-2e3f4a"
RZ_ACCESS, RZ_SECRET = "SECRET-rz-access-4a5b6c", "SECRET-rz-secret-6c7d8e"
SECRETS = (SIGNING, BOT, *XJ.values(), ALI_ID, ALI_SECRET, RZ_ACCESS, RZ_SECRET)
CAT = "oss://media-in.oss-cn-hangzhou.aliyuncs.com/photos/cat.jpg"
CREATE_DOC = "CreateDocTranslateTask"


@dataclass
class World:
    tolk: Tolk
    slack: SlackEmulator
    xiangji: XiangjiEmulator
    alibaba: AlibabaMTEmulator
    rozetta: RozettaEmulator
    mts: MtsEmulator
    answers: list[str]

    async def event(self, event: dict[str, Any]) -> None:
        body = event_body(event)
        url, session = self.tolk.events_url, self.tolk.session
        status, _ = await post_signed(session, url, SIGNING, body, content_type="application/json")
        assert status == 200

    async def upload(self, channel: str, name: str, data: bytes, mimetype: str) -> dict[str, Any]:
        """A person drops a file into ``channel``: Slack's two events."""
        message = self.slack.post_user_message(channel, "U0BOB", "", files=[(name, data, mimetype)])
        await self.event(
            {**message, "type": "message", "subtype": "file_share", "channel": channel}
        )
        (file,) = message["files"]
        shared = {"type": "file_shared", "file_id": file["id"], "channel_id": channel}
        await self.event({**shared, "user_id": "U0BOB"})
        return message

    async def command(self, command: str, text: str, channel: str = "C0GENERAL") -> str:
        body = command_body(command, text, channel=channel)
        status, body = await post_signed(self.tolk.session, self.tolk.events_url, SIGNING, body)
        assert status == 200, body
        self.answers.append(body)
        return body


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[World]:
    async with (
        SlackEmulator(bot_token=BOT) as slack,
        XiangjiEmulator(**XJ) as xiangji,
        AlibabaMTEmulator(ALI_ID, ALI_SECRET, doc_seconds=0.05) as alibaba,
        RozettaEmulator(keys={RZ_ACCESS: RZ_SECRET}, done_after_polls=1) as rozetta,
        OssEmulator(keys={ALI_ID: ALI_SECRET}) as oss,
        MtsEmulator(oss, ALI_ID, ALI_SECRET) as mts,
    ):
        env = emulator_env(
            slack,
            xiangji,
            alibaba=alibaba,
            rozetta=rozetta,
            mts=mts,
            port=free_port(),
            signing_secret=SIGNING,
            database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
        )
        env |= {
            "TOLK_POLL_MIN_SECONDS": "0.05",
            "TOLK_POLL_MAX_SECONDS": "0.2",
            "TOLK_QUOTA_ALERT_CHANNEL": "C0LOCALE",
        }
        configured = load_settings(env).secrets
        assert set(SECRETS) <= set(configured), "the test must check every configured secret"
        async for tolk in running(env):
            yield World(tolk, slack, xiangji, alibaba, rozetta, mts, [])


def captured_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every line Tolk (and the libraries it uses) logged, with tracebacks and causes. The
    emulators' access logs stand for the providers' own servers and are left out."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = []
    for record in caplog.records:
        if record.name == "aiohttp.access":
            continue
        lines.append(formatter.format(record))
        if record.exc_info and record.exc_info[1] is not None:
            exc: BaseException | None = record.exc_info[1]
            while exc is not None:  # each exception's own string, down the chain
                lines.append(f"{type(exc).__name__}: {exc!s} {exc!r}")
                exc = exc.__cause__ or exc.__context__
    return "\n".join(lines)


def sent_to_slack(slack: SlackEmulator) -> str:
    """Every argument of every Web API call Tolk made (texts, blocks, file comments, views),
    and the names and titles of the files it uploaded. Headers are left out: the bot token
    belongs in ``Authorization``."""
    calls = [json.dumps(c.args, ensure_ascii=False, default=str) for c in slack.calls]
    files = [f"{f.name} {f.title} {f.alt_txt}" for f in slack.files.values()]
    return "\n".join(calls + files)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def test_no_secret_in_logs_messages_or_errors(world: World, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    xj, ali, slack, tolk = world.xiangji, world.alibaba, world.slack, world.tolk

    # Xiangji: text, one image, a batch with OCR, cut-outs
    await world.command("/translate", "zh>en 我是中国人")
    await world.command("/translate", "ko 你好 --engine deepl --private")
    await world.command("/translate-image", f"zh>ko {xj.sample_url('one')}")
    urls = " ".join(xj.sample_url(f"b{n}") for n in range(3))
    await world.command("/translate-image", f"zh>ja {urls} --removed --ocr")
    await world.command("/cutout", xj.sample_url("cut"))
    await world.command("/cutout", f"{xj.sample_url('c1')} {xj.sample_url('c2')} --bg 255,255,255")
    # Alibaba: a document by URL (with its callback), an image task
    await world.command("/translate-doc", f"en>ja {ali.sample_doc_url('guide.txt')} --scene tech")
    await world.command(
        "/translate-image", f"zh>en {ali.sample_image_url('p.png')} --provider alibaba"
    )
    # Alibaba fetching a Slack upload from Tolk's signed link
    await world.command("/tolk", "config auto-docs on en>de", channel="C0LOCALE")
    await world.upload("C0LOCALE", "plan.txt", b"the plan", "text/plain")
    # Rozetta and MTS
    await world.command(
        "/translate-doc", f"en>ja {ali.sample_doc_url('notes.txt')} --provider rozetta"
    )
    await world.command("/media-job", f'ImageCartoonize {CAT} {{"Model": "3d"}}')
    await tolk.settle(within=20)  # before any fault is planned: each hits its own command
    # failures: permanent, quota, transient (retried), and from every provider
    xj.faults.code("GetTextTranslate", 104)
    await world.command("/translate", "zh>en 失败")
    xj.faults.code("GetImageTranslate", 113)
    await world.command("/translate-image", f"zh>ko {xj.sample_url('quota')}")
    xj.faults.http("GetImageMatting", 502)
    xj.faults.malformed("GetImageMatting")
    await world.command("/cutout", xj.sample_url("retried"))
    ali.faults.code(CREATE_DOC, "10013", status=400)
    await world.command("/translate-doc", f"en>ja {ali.sample_doc_url('arrears.txt')}")
    world.rozetta.faults.item_error("broken.txt", code=40102, message="translation failed")
    await world.command(
        "/translate-doc", f"en>ja {ali.sample_doc_url('broken.txt')} --provider rozetta"
    )
    world.mts.faults.fail_next()
    await world.command("/media-job", f"ImageCartoonize {CAT}")
    # Tolk itself, mistakes, forgeries, the App Home
    for text in ("help", "tasks", "quota", "config show", "cancel T0000", "config colour blue"):
        await world.command("/tolk", text)
    await world.command("/translate", "klingon 你好")
    await world.command("/media-job", "ImageCartoonise oss://b/x.jpg {oops}")
    body = command_body("/translate", "zh>en 你好")
    assert (await post_signed(tolk.session, tolk.events_url, "guessed", body))[0] == 401
    await world.event({"type": "app_home_opened", "user": "U0ALICE", "tab": "home"})
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("x.png", png(), "image/png")]
    )
    item = {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]}
    await world.event({"type": "reaction_added", "user": "U0ALICE", "reaction": "jp", "item": item})

    await until(lambda: ali.docs and len(ali.callbacks) >= 2, within=10)
    await ali.drain()
    await tolk.settle(within=20)

    # The run really did all of this: deliveries, failures and a quota alert.
    tasks = await all_tasks(tolk)
    assert len(tasks) >= 17
    names = {f.name for f in slack.files.values()}
    assert {"guide-ja.txt", "plan-de.txt", "notes.txt"} <= names
    texts = sent_to_slack(slack)
    for expected in ("104", "113", "10013", "40102", "ProcessFailed", "quota"):
        assert expected in texts, expected
    assert any(r.levelno <= logging.DEBUG for r in caplog.records)  # DEBUG was on

    assert leaks(captured_text(caplog)) == []
    assert leaks(texts) == []
    assert leaks("\n".join(world.answers)) == []
    assert leaks("\n".join(repr(t) for t in tasks)) == []


@pytest.mark.parametrize(
    ("provider", "operation", "code", "status"),
    [
        ("alibaba", CREATE_DOC, "InvalidAccessKeyId.NotFound", 404),
        ("mts", "SubmitIProductionJob", "InvalidAccessKeyId.NotFound", 404),
    ],
)
async def test_a_provider_that_echoes_the_key_in_its_error_is_redacted(
    world: World, caplog, provider: str, operation: str, code: str, status: int
) -> None:
    """Gateways do quote what they were sent; Tolk must not repeat it."""
    caplog.set_level(logging.DEBUG)
    echo = f"Specified access key {ALI_ID} is not found (signed with {ALI_SECRET})."
    if provider == "alibaba":
        world.alibaba.faults.code(operation, code, status=status, message=echo)
        await world.command("/translate-doc", f"en>ja {world.alibaba.sample_doc_url()}")
    else:
        world.mts.faults.code(operation, code, status=status, message=echo)
        await world.command("/media-job", f"ImageCartoonize {CAT}")
    await world.tolk.settle()
    texts = sent_to_slack(world.slack)
    assert code in texts  # the failure was reported, with the provider's code
    assert leaks(texts) == []
    assert leaks(captured_text(caplog)) == []
    assert leaks("\n".join(repr(t) for t in await all_tasks(world.tolk))) == []
