"""The Refine page: a signed, expiring link opens Xiangji's editor on one image for one
person; the editor's result, checked, is recorded once as a ``xiangji.refine`` task."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.core import messages
from bot.core.links import REFINE_SECONDS
from bot.core.tasks import Item, Place, State, Task
from bot.wiring import RefineImages
from handlers.web.refine import add_refine_routes
from providers.xiangji.refine import IMAGE_EDITOR
from tests.handlers.web.support import PUBLIC_URL, Site

RESULT = "http://127.0.0.1/i/RID1/r1.png"  # on the allowed host, naming the request id


@pytest.fixture
async def image_task(site: Site) -> Task:
    now = site.clock()
    output = {"kind": "image", "url": "http://127.0.0.1/i/RID1/first.png"}
    task = Task(
        id="TIMG1",
        dedupe_key="img",
        place=Place("T0TOLK", "C0GENERAL", "U0ALICE", "1700000000.000100"),
        provider="xiangji",
        operation="xiangji.translate_image",
        request={"source": "zh", "target": "ko"},
        state=State.DELIVERED,
        settled=True,
        items=(
            Item(
                source="https://img.example.com/shoe.png",
                provider_id="RID1",
                status="done",
                outputs=(output,),
            ),
        ),
        created_at=now - 60,
    )
    stored, _ = await site.desk.store.create_if_absent(task)
    return stored


@pytest.fixture
async def client(site: Site) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(mounted(site))) as c:
        yield c


def mounted(site: Site) -> web.Application:
    app = web.Application()
    add_refine_routes(app, site)
    return app


def link(site: Site, user: str = "U0BOB") -> str:
    return urlsplit(site.links.refine_url("TIMG1", 0, user, "KOR")).path


async def post(client: TestClient, path: str, url: str = RESULT, **headers: str):
    message = {"name": IMAGE_EDITOR.result_message, "url": url, "requestId": "RID1"}
    async with client.post(path, json=message, headers={"Origin": PUBLIC_URL, **headers}) as r:
        return r.status, await r.json()


async def refines(site: Site) -> list[Task]:
    tasks = await site.desk.store.list_for_channel("C0GENERAL", active_only=False)
    return [t for t in tasks if t.operation == "xiangji.refine"]


async def test_a_genuine_link_opens_the_editor(client, site: Site, image_task: Task) -> None:
    async with client.get(link(site)) as resp:
        page = await resp.text()
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-src https://editor.example.com" in resp.headers["Content-Security-Policy"]
    assert 'src="https://editor.example.com/image-editor/#/?lang=KOR&amp;CommitTime=' in page
    assert "user-key" not in page  # the key is signed into the URL, never sent itself
    assert await refines(site) == []


async def test_a_forged_or_expired_link_opens_nothing(client, site: Site, image_task: Task) -> None:
    path = link(site)
    forged = path[:-4] + ("AAAA" if not path.endswith("AAAA") else "BBBB")
    async with client.get(forged) as resp:
        assert resp.status == 403 and "Refine" in await resp.text()
    site.clock.advance(REFINE_SECONDS + 1)
    async with client.get(path) as resp:
        assert resp.status == 403


async def test_the_result_is_recorded_once_then_the_link_is_spent(
    client, site: Site, image_task: Task
) -> None:
    path = link(site)
    status, answer = await post(client, path)
    (refine,) = await refines(site)
    assert (status, answer) == (202, {"status": "accepted", "task": refine.id})
    assert refine.place == Place("T0TOLK", "C0GENERAL", "U0BOB", "1700000000.000100")
    assert refine.request["by"] == "U0BOB" and refine.request["of"] == "TIMG1"
    assert refine.items[0].source == RESULT and site.nudges

    assert await post(client, path) == (409, {"status": "already-sent", "task": refine.id})
    async with client.get(path) as resp:
        assert resp.status == 410 and messages.REFINE_LINK_SPENT in await resp.text()
    assert len(await refines(site)) == 1


async def test_results_that_are_not_this_images_are_refused(
    client, site: Site, image_task: Task
) -> None:
    path = link(site)
    cases = [
        (post(client, path, url="https://evil.example.com/i/RID1/r.png"), 400),
        (post(client, path, url="http://127.0.0.1/i/RID2/r.png"), 400),
        (post(client, path, Origin="https://evil.example.com"), 403),
    ]
    for sent, expected in cases:
        status, answer = await sent
        assert status == expected and answer["error"], answer
    async with client.post(path, data="x", headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 415
    unchanged = image_task.items[0].outputs[0]["url"]
    assert await post(client, path, url=unchanged) == (200, {"status": "unchanged"})
    assert await refines(site) == []


async def test_with_xiangji_off_the_page_is_gone(site: Site, image_task: Task) -> None:
    site.refine = RefineImages(("127.0.0.1",))  # no Xiangji settings
    async with TestClient(TestServer(mounted(site))) as client, client.get(link(site)) as resp:
        assert resp.status == 404
