"""Finding 8 (issue 16): with ``TOLK_ADMINS`` unset, anyone could cancel (or retry)
anyone's task. Cancel and retry are for the person who started the task or an admin:
the ``TOLK_ADMINS`` list when it is set, else the workspace's admins and owners
(``users.info`` → ``is_admin`` / ``is_owner``). A refusal says who may do it.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.core.tasks import State
from tests.conftest import poll_round


def task_id_in(text: str) -> str:
    match = re.search(r"task `(T[0-9A-Z]{4})`", text)
    assert match, text
    return match.group(1)


async def pending_task(tolk, xiangji, user: str = "U0ALICE") -> str:
    xiangji.pending_polls = 10_000
    urls = " ".join(xiangji.sample_url(f"c{i}") for i in range(2))  # a batch: polled
    _, body = await tolk.command("/translate-image", f"zh>ko {urls}", user=user)
    await tolk.services.poller.drain()
    return task_id_in(body)


async def failed_task(tolk, xiangji, user: str = "U0ALICE") -> str:
    xiangji.faults.code("GetImageTranslate", 104)
    _, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('f')}", user=user)
    await tolk.services.poller.drain()
    xiangji.faults.clear()
    task_id = task_id_in(body)
    assert (await tolk.services.store.get(task_id)).state is State.FAILED
    return task_id


@pytest.fixture
def people(slack):
    slack.add_user("U0MALLORY", "mallory")
    slack.add_user("U0WSADMIN", "wsadmin", is_admin=True)
    slack.add_user("U0WSOWNER", "wsowner", is_owner=True)
    return slack


async def test_without_tolk_admins_a_stranger_cannot_cancel_someone_elses_task(
    timed_tolk, xiangji, people
):
    assert not timed_tolk.services.settings.admins
    task_id = await pending_task(timed_tolk, xiangji)
    _, answer = await timed_tolk.command("/tolk", f"cancel {task_id}", user="U0MALLORY")
    # The refusal names who may: the requester, and the workspace's admins and owners.
    assert "Only" in answer and "<@U0ALICE>" in answer, answer
    assert "workspace admin" in answer, answer
    await poll_round(timed_tolk)
    task = await timed_tolk.services.store.get(task_id)
    assert task.state is not State.CANCELLED
    assert await timed_tolk.services.store.get_setting("cancel", task_id) is None


async def test_without_tolk_admins_a_stranger_cannot_retry_someone_elses_task(
    timed_tolk, xiangji, people
):
    task_id = await failed_task(timed_tolk, xiangji)
    before = len(await timed_tolk.services.store.list_for_channel("C0GENERAL"))
    _, answer = await timed_tolk.command("/tolk", f"retry {task_id}", user="U0MALLORY")
    assert "Only" in answer and "<@U0ALICE>" in answer and "Retrying" not in answer, answer
    assert len(await timed_tolk.services.store.list_for_channel("C0GENERAL")) == before


@pytest.mark.parametrize("admin", ["U0WSADMIN", "U0WSOWNER"])
async def test_without_tolk_admins_workspace_admins_and_owners_may_cancel(
    timed_tolk, xiangji, people, admin
):
    task_id = await pending_task(timed_tolk, xiangji)
    _, answer = await timed_tolk.command("/tolk", f"cancel {task_id}", user=admin)
    assert "Cancelling" in answer, answer
    await poll_round(timed_tolk)
    assert (await timed_tolk.services.store.get(task_id)).state is State.CANCELLED
    assert any(c.args.get("user") == admin for c in people.calls_to("users.info"))


async def test_the_requester_may_cancel_and_retry_without_asking_slack(timed_tolk, xiangji, people):
    task_id = await failed_task(timed_tolk, xiangji)
    _, answer = await timed_tolk.command("/tolk", f"retry {task_id}")
    assert "Retrying" in answer, answer
    other = await pending_task(timed_tolk, xiangji)
    _, answer = await timed_tolk.command("/tolk", f"cancel {other}")
    assert "Cancelling" in answer, answer
    assert people.calls_to("users.info") == []


async def test_with_tolk_admins_only_those_listed_besides_the_requester(
    timed_tolk, xiangji, people
):
    timed_tolk.services.settings = replace(
        timed_tolk.services.settings, admins=frozenset({"U0BOB"})
    )
    task_id = await pending_task(timed_tolk, xiangji)
    # A workspace admin is not a Tolk admin once the list is set.
    _, answer = await timed_tolk.command("/tolk", f"cancel {task_id}", user="U0WSADMIN")
    assert "<@U0ALICE>" in answer and "<@U0BOB>" in answer and "Cancelling" not in answer
    _, answer = await timed_tolk.command("/tolk", f"cancel {task_id}", user="U0BOB")
    assert "Cancelling" in answer, answer


async def test_if_slack_cannot_say_who_is_an_admin_the_answer_is_no(timed_tolk, xiangji, people):
    task_id = await pending_task(timed_tolk, xiangji)
    _, answer = await timed_tolk.command("/tolk", f"cancel {task_id}", user="U0NOBODY")
    assert "Only" in answer and "Cancelling" not in answer, answer
    await poll_round(timed_tolk)
    assert (await timed_tolk.services.store.get(task_id)).state is not State.CANCELLED
