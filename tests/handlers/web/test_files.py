"""``/files/…``: a provider fetches the Slack upload of a task in flight through a signed
link. Only that file, only while the task runs; anything else is one plain 403."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.core.fetch import DownloadFailed
from bot.core.tasks import Item, Place, State, Task
from handlers.web.files import add_file_route
from tests.handlers.web.support import Site

SLACK_URL = "https://files.slack.com/files-pri/T0TOLK-F0DOC/guide.docx"


class Slack:
    """What the route asks of delivery: one Slack file's bytes, by url and id."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.teams: list[str] = []
        self.fail = False

    async def __call__(self, url: str, *, limit: int, file_id: str, team: str) -> bytes:
        self.asked.append((url, file_id))
        self.teams.append(team)  # read as the task's workspace
        if self.fail:
            raise DownloadFailed("Slack answered 500")
        return b"the guide"


@pytest.fixture
def slack() -> Slack:
    return Slack()


async def stored(site: Site, meta: dict[str, str], **changes: object) -> Task:
    now = site.clock()
    task = Task(
        id="TDOC2",
        dedupe_key="doc2",
        place=Place("T0TOLK", "C0GENERAL", "U0ALICE"),
        provider="alibaba",
        operation="alibaba.translate_doc",
        request={},
        state=State.RUNNING,
        items=(Item(source=SLACK_URL, meta=meta),),
        created_at=now - 60,
        next_poll_at=now + 600,
        deadline=now + 3600,
    )
    saved, _ = await site.desk.store.create_if_absent(replace(task, **changes))
    return saved


@pytest.fixture
async def client(site: Site, slack: Slack) -> AsyncIterator[TestClient]:
    app = web.Application()
    add_file_route(app, site.links, site.desk.store, slack)
    async with TestClient(TestServer(app)) as c:
        yield c


def path(site: Site, task: Task, name: str = "guide.docx") -> str:
    return urlsplit(site.links.file_url(task.id, 0, name)).path


SLACK_FILE = {"kind": "slack-file", "file_id": "F0DOC", "name": "guide.docx"}


async def test_a_valid_link_serves_that_file_as_an_attachment(client, site, slack) -> None:
    task = await stored(site, SLACK_FILE)
    async with client.get(path(site, task)) as resp:
        assert resp.status == 200 and await resp.read() == b"the guide"
        assert resp.headers["Content-Disposition"] == 'attachment; filename="guide.docx"'
        assert resp.headers["Cache-Control"] == "no-store"
    assert slack.asked == [(SLACK_URL, "F0DOC")] and slack.teams == ["T0TOLK"]


async def test_a_changed_signature_or_name_is_refused_unread(client, site, slack) -> None:
    task = await stored(site, SLACK_FILE)
    good = path(site, task)
    head, sig, name = good.rsplit("/", 2)
    for bad in (f"{head}/{'A' * 32}/{name}", f"{head}/{sig}/other.docx"):
        async with client.get(bad) as resp:
            assert resp.status == 403
    assert slack.asked == []


async def test_the_link_of_a_settled_task_is_refused(client, site, slack) -> None:
    settled = await stored(site, SLACK_FILE, state=State.SUCCEEDED, settled=True)
    async with client.get(path(site, settled)) as resp:
        assert resp.status == 403
    assert slack.asked == []


async def test_an_item_without_a_checked_slack_file_id_is_refused(client, site, slack) -> None:
    task = await stored(site, {"kind": "slack-file", "name": "guide.docx"})
    async with client.get(path(site, task)) as resp:
        assert resp.status == 403
    assert slack.asked == []


async def test_slack_failing_is_a_502_that_says_so(client, site, slack) -> None:
    slack.fail = True
    task = await stored(site, SLACK_FILE)
    async with client.get(path(site, task)) as resp:
        assert resp.status == 502 and "could not be read from Slack" in await resp.text()
