"""Alibaba's document callback: a hint that makes the task due at once, and only when it
carries the task's token (and, with ``ALIBABA_CALLBACK_IPS``, comes from a listed
address). Everything else gets the same answer and changes nothing."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.core.tasks import Item, Place, State, Task
from handlers.web.callbacks import add_callback_routes
from tests.handlers.web.support import Site


@pytest.fixture
async def doc(site: Site) -> Task:
    now = site.clock()
    task = Task(
        id="TDOC1",
        dedupe_key="doc",
        place=Place("T0TOLK", "C0GENERAL", "U0ALICE"),
        provider="alibaba",
        operation="alibaba.translate_doc",
        request={},
        state=State.RUNNING,
        items=(Item(source="https://docs.example.com/a.docx", provider_id="ALI-1"),),
        created_at=now - 60,
        next_poll_at=now + 600,
        deadline=now + 3600,
    )
    stored, _ = await site.desk.store.create_if_absent(task)
    return stored


@pytest.fixture
async def client(site: Site) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(mounted(site))) as c:
        yield c


def mounted(site: Site) -> web.Application:
    app = web.Application()
    add_callback_routes(app, site)
    return app


async def call(client: TestClient, site: Site, task_id: str, body: object, **kw: object):
    token = kw.pop("token", None) or site.links.callback_token(task_id)
    path = f"/callbacks/alibaba/{task_id}/{token}"
    async with client.post(path, data=json.dumps(body), **kw) as resp:
        return resp.status, await resp.json()


async def test_a_genuine_callback_makes_the_task_due_now(client, site: Site, doc: Task) -> None:
    status, answer = await call(client, site, doc.id, {"task_id": "ALI-1", "status": "translated"})
    assert (status, answer) == (200, {"ok": True})
    assert (await site.desk.get(doc.id)).next_poll_at == site.clock()
    assert site.nudges


async def test_an_unreadable_body_is_still_a_hint(client, site: Site, doc: Task) -> None:
    status, _ = await call(client, site, doc.id, "not a callback")
    assert status == 200 and (await site.desk.get(doc.id)).next_poll_at == site.clock()


async def test_a_wrong_token_or_task_changes_nothing(client, site: Site, doc: Task) -> None:
    before = await site.desk.get(doc.id)
    body = {"task_id": "ALI-1", "status": "translated"}
    wrong = site.links.callback_token("TOTHR")
    assert (await call(client, site, doc.id, body, token=wrong))[0] == 404
    assert (await call(client, site, "TNONE", body))[0] == 404
    named_other = {"task_id": "ALI-2", "status": "translated"}
    assert (await call(client, site, doc.id, named_other))[0] == 404
    assert await site.desk.get(doc.id) == before and site.nudges == []


async def test_a_task_of_another_kind_is_not_called_back(client, site: Site, doc: Task) -> None:
    other = doc.but(id="TIMG1", dedupe_key="img", operation="alibaba.translate_image")
    await site.desk.store.create_if_absent(other)
    assert (await call(client, site, "TIMG1", {"task_id": "ALI-1"}))[0] == 404


async def test_only_listed_addresses_when_there_is_a_list(site: Site, doc: Task) -> None:
    body = {"task_id": "ALI-1", "status": "translated"}
    site.web_config = replace(site.web_config, alibaba_callback_ips=frozenset({"59.82.61.52"}))
    async with TestClient(TestServer(mounted(site))) as client:
        forged = {"X-Forwarded-For": "59.82.61.52"}  # from loopback, not a trusted proxy
        assert (await call(client, site, doc.id, body, headers=forged))[0] == 403
    assert site.nudges == []

    proxies = (ipaddress.ip_network("127.0.0.0/8"),)  # behind a proxy named as trusted
    site.web_config = replace(site.web_config, trusted_proxies=proxies)
    async with TestClient(TestServer(mounted(site))) as client:
        status, _ = await call(client, site, doc.id, body, headers=forged)
    assert status == 200 and site.nudges
