"""Refine in a real browser: headless Chromium opens the link a Refine press gave, the
page embeds the stand-in editor (the Xiangji emulator, another origin), and what the
editor posts back becomes one refined image in the Slack thread — and nothing else does.

Set ``TOLK_UPDATE_SCREENSHOTS=1`` to rewrite the README's screenshot (``docs/refine.png``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.core.links import REFINE_SECONDS, Links
from tests.browser import Chromium, Page, require_chromium
from tests.conftest import SIGNING_SECRET
from tests.refine_support import CHANNEL, refine_link

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "refine.png"
SAVE = "document.getElementById('xj-save').click()"


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    require_chromium()
    async with Chromium(width=1100, height=760) as chromium:
        yield await chromium.new_page()


def refined_uploads(slack) -> list:
    return [f for f in slack.files.values() if "-refined-" in f.name]


async def target(tolk, link: str) -> tuple[str, str]:
    """(task id, the image's Xiangji request id) a link points at."""
    task_id, index = urlsplit(link).path.split("/")[2:4]
    task = await tolk.services.store.get(task_id)
    return task_id, task.items[int(index)].provider_id


async def quiet(tolk, seconds: float = 0.4) -> None:
    """Give a stray message time to do harm, then let every task finish."""
    await asyncio.sleep(seconds)
    await tolk.settle()


async def test_the_editor_refines_and_the_thread_gets_the_image_once(
    public_tolk, slack, xiangji, page, tmp_path
):
    link, final = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url('shoe')}")
    _, request_id = await target(public_tolk, link)
    editor = xiangji.base_url + "/image-editor/"

    await page.goto(link)
    assert page.status == 200
    await page.wait_for("document.body.dataset.state === 'ready'", frame_url_prefix=editor)
    shown = await page.evaluate(
        "[...document.querySelectorAll('img.xj-image')].map(i => i.dataset.requestId)",
        frame_url_prefix=editor,
    )
    assert shown == [request_id]  # the page posted the task's request id, once loaded
    (opened,) = xiangji.editor_opens  # and the emulator checked the page's signatures
    assert opened["aigc"] and opened["text"] and opened["lang"] == "ENG"
    assert await page.evaluate("document.body.dataset.state") == "editing"

    # A perfect result message, but from Tolk's own origin rather than the editor's …
    forged_url = f"{xiangji.base_url}/i/{request_id}/r9.png"
    forged = {"name": "XJ_IMAGE_EDITOR_URL", "url": forged_url, "requestId": request_id}
    forged["all"] = {request_id: forged_url}
    await page.evaluate(f"window.postMessage({json.dumps(forged)}, '*')")
    # … and one from the editor's origin with a name the editor does not send.
    odd = {**forged, "name": "XJ_IMAGE_EDITOR_RESULT"}
    await page.evaluate(
        f"window.parent.postMessage({json.dumps(odd)}, '*')", frame_url_prefix=editor
    )
    await quiet(public_tolk)
    assert await page.evaluate("document.body.dataset.posts") == "0"
    assert refined_uploads(slack) == []

    await page.evaluate(SAVE, frame_url_prefix=editor)
    await page.wait_for("document.body.dataset.state === 'sent'")
    await public_tolk.settle()
    shot = SCREENSHOT if os.environ.get("TOLK_UPDATE_SCREENSHOTS") == "1" else tmp_path / "r.png"
    png = await page.screenshot(shot)
    assert png.startswith(b"\x89PNG")

    (upload,) = refined_uploads(slack)
    (saved,) = xiangji.editor_saves
    async with public_tolk.session.get(saved["url"]) as resp:
        assert upload.content == await resp.read()  # the editor's image, byte for byte
    thread = slack.thread(CHANNEL, final["thread_ts"])
    (carrier,) = [m for m in thread if upload.id in {f["id"] for f in m.get("files", [])}]
    assert "Refined by <@U0ALICE>" in carrier["text"]

    # Saving again makes the page post again; the link has had its one result.
    await page.evaluate(SAVE, frame_url_prefix=editor)
    await page.wait_for("document.body.dataset.posts === '2'")
    await page.wait_for("document.getElementById('tolk-status').textContent.includes('Already')")
    await quiet(public_tolk)
    assert len(refined_uploads(slack)) == 1


async def test_forged_expired_and_replayed_links_open_no_editor(public_tolk, slack, xiangji, page):
    link, _ = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url('bag')}")
    task_id, _ = await target(public_tolk, link)
    minted_long_ago = Links(
        public_tolk.services.settings.public_url,
        SIGNING_SECRET,
        clock=lambda: time.time() - REFINE_SECONDS - 60,
    )
    expired = minted_long_ago.refine_url(task_id, 0, "U0ALICE", "ENG")
    forged = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")

    for bad in (forged, expired):
        await page.goto(bad)
        assert page.status == 403
        assert await page.evaluate("document.querySelector('iframe') === null")
        assert "not valid" in await page.evaluate("document.body.innerText")

    editor = xiangji.base_url + "/image-editor/"
    await page.goto(link)
    await page.wait_for("document.body.dataset.state === 'ready'", frame_url_prefix=editor)
    await page.evaluate(SAVE, frame_url_prefix=editor)
    await page.wait_for("document.body.dataset.state === 'sent'")
    await page.goto(link)  # the same link again, after its result went through
    assert page.status == 410
    assert await page.evaluate("document.querySelector('iframe') === null")
    await quiet(public_tolk)
    assert len(refined_uploads(slack)) == 1
    assert len(xiangji.editor_opens) == 1  # no editor was opened by a bad link


async def test_a_cutout_opens_the_cutout_editor_in_the_pressers_language(
    public_tolk, slack, xiangji, page
):
    link, final = await refine_link(
        public_tolk, slack, xiangji.sample_url("lamp"), command="/cutout", user="U0BOB"
    )
    _, request_id = await target(public_tolk, link)
    editor = xiangji.base_url + "/koutu/"

    await page.goto(link)
    await page.wait_for("document.body.dataset.state === 'ready'", frame_url_prefix=editor)
    assert (
        await page.evaluate(
            "document.getElementById('xj-lang').textContent", frame_url_prefix=editor
        )
        == "KOR"
    )
    await page.evaluate(SAVE, frame_url_prefix=editor)
    await page.wait_for("document.body.dataset.state === 'sent'")
    await public_tolk.settle()

    (upload,) = refined_uploads(slack)
    thread = slack.thread(CHANNEL, final["thread_ts"])
    (carrier,) = [m for m in thread if upload.id in {f["id"] for f in m.get("files", [])}]
    assert "Refined by <@U0BOB>" in carrier["text"] and "cutout 1" in carrier["text"]
    assert xiangji.editor_saves[-1]["request_id"] == request_id
