"""The poller on injected time: back-off, batching, each error class, expiry, cancel
and retry, and delivery that never posts twice. No sleeps: the test moves the clock."""

from __future__ import annotations

from dataclasses import replace

from bot.core.tasks import State
from tests.conftest import poll_round
from tests.test_commands_e2e import task_id_in


def status_ids(xiangji) -> list[list[str]]:
    return [
        r.params["RequestIds"].split(",")
        for r in xiangji.requests_for("GetImageTranslateBatchResult")
    ]


def uploads(slack, channel: str = "C0GENERAL") -> list[str]:
    return [f.name for f in slack.files.values() if f.channel == channel]


async def test_polls_back_off_and_114_is_not_a_failure(timed_tolk, clock, slack, xiangji):
    xiangji.pending_polls = 3
    urls = [xiangji.sample_url(f"a{i}") for i in range(2)]
    _, body = await timed_tolk.command("/translate-image", "zh>ko " + " ".join(urls))
    await timed_tolk.services.poller.drain()
    task = await timed_tolk.services.store.get(task_id_in(body))
    assert task.state is State.SUBMITTED
    assert task.next_poll_at == clock.now + 2  # first poll after TOLK_POLL_MIN_SECONDS

    gaps = []
    for _ in range(3):
        clock.advance(1)
        await poll_round(timed_tolk)  # not due yet: no status call
        calls = len(status_ids(xiangji))
        before = clock.now
        clock.now = (await timed_tolk.services.store.get(task.id)).next_poll_at
        await poll_round(timed_tolk)
        assert len(status_ids(xiangji)) == calls + 1
        after = await timed_tolk.services.store.get(task.id)
        gaps.append(after.next_poll_at - clock.now)
        del before
    assert after.attempts == 0 and after.polls >= 3  # pending is not a failure
    assert gaps[0] < gaps[1] < gaps[2] or after.state is State.DELIVERED
    clock.now = after.next_poll_at
    await poll_round(timed_tolk)
    final = await timed_tolk.services.store.get(task.id)
    assert final.state is State.DELIVERED and final.settled
    assert len(uploads(slack)) == 2


async def test_one_status_call_serves_every_due_task(timed_tolk, clock, slack, xiangji):
    for t in range(5):
        urls = " ".join(xiangji.sample_url(f"t{t}i{i}") for i in range(4))
        await timed_tolk.command("/translate-image", f"zh>ko {urls}")
    await timed_tolk.services.poller.drain()
    rounds = 0
    while len(uploads(slack)) < 20 and rounds < 10:
        clock.advance(60)
        await poll_round(timed_tolk)
        rounds += 1
    assert len(uploads(slack)) == 20
    calls = status_ids(xiangji)
    assert len(calls) == rounds  # one call per round for all five tasks
    assert len(calls[0]) == 20
    submitted = [i for r in xiangji.requests_for("GetImageTranslateBatch") for i in [r]]
    assert len(submitted) == 5  # one submission per task, never repeated


async def test_retryable_error_is_retried_with_back_off_then_succeeds(
    timed_tolk, clock, slack, xiangji
):
    timed_tolk.services.work.rand = lambda: 0.5  # delays 2 s then 3 s
    xiangji.faults.code("GetImageTranslate", 102, times=2)
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
    await timed_tolk.services.poller.drain()
    task = await timed_tolk.services.store.get(task_id_in(body))
    assert task.attempts == 1 and task.state is State.QUEUED
    first_delay = task.next_poll_at - clock.now
    clock.now = task.next_poll_at
    await poll_round(timed_tolk)
    task = await timed_tolk.services.store.get(task.id)
    assert task.attempts == 2 and task.next_poll_at - clock.now > first_delay
    clock.now = task.next_poll_at
    await poll_round(timed_tolk)
    task = await timed_tolk.services.store.get(task.id)
    assert task.state is State.DELIVERED
    assert len(xiangji.requests_for("GetImageTranslate")) == 3
    (parent,) = slack.messages("C0GENERAL")
    texts = [m["text"] for m in slack.thread("C0GENERAL", parent["ts"])]
    assert not any("failed" in t for t in texts) and "Done" in texts[-1]


async def test_retry_after_from_the_provider_beats_the_computed_delay(timed_tolk, clock, xiangji):
    xiangji.faults.http("GetImageTranslate", status=503, retry_after=30)
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
    await timed_tolk.services.poller.drain()
    task = await timed_tolk.services.store.get(task_id_in(body))
    assert task.attempts == 1
    assert task.next_poll_at - clock.now >= 30


async def test_permanent_error_is_reported_at_once_without_retry(timed_tolk, slack, xiangji):
    xiangji.faults.code("GetImageTranslate", 104)
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
    await timed_tolk.services.poller.drain()
    task = await timed_tolk.services.store.get(task_id_in(body))
    assert task.state is State.FAILED and task.settled
    assert len(xiangji.requests_for("GetImageTranslate")) == 1
    (parent,) = slack.messages("C0GENERAL")
    (reply,) = slack.thread("C0GENERAL", parent["ts"])
    assert "104" in reply["text"] and "quota" not in reply["text"].lower()


async def test_quota_error_fails_the_task_and_flags_it_for_alerting(timed_tolk, slack, xiangji):
    xiangji.faults.code("GetImageTranslate", 113)
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
    await timed_tolk.services.poller.drain()
    task = await timed_tolk.services.store.get(task_id_in(body))
    assert task.state is State.FAILED
    assert task.notes["quota_error"]["code"] == "113"
    (parent,) = slack.messages("C0GENERAL")
    failure, alert = slack.thread("C0GENERAL", parent["ts"])
    assert "113" in failure["text"] and "quota" not in failure["text"].lower()
    assert "quota" in alert["text"].lower() and "image translation" in alert["text"]


async def test_a_task_past_its_deadline_gets_one_clear_message(timed_tolk, clock, slack, xiangji):
    xiangji.pending_polls = 10_000
    urls = " ".join(xiangji.sample_url(f"x{i}") for i in range(2))
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {urls}")
    await timed_tolk.services.poller.drain()
    clock.advance(3600 + 1)
    await poll_round(timed_tolk)
    task = await timed_tolk.services.store.get(task_id_in(body))
    assert task.state is State.EXPIRED and task.settled
    calls = len(status_ids(xiangji))
    clock.advance(600)
    await poll_round(timed_tolk)
    assert len(status_ids(xiangji)) == calls  # nothing more is asked of the provider
    (parent,) = slack.messages("C0GENERAL")
    (reply,) = slack.thread("C0GENERAL", parent["ts"])
    assert "gave up" in reply["text"] and f"/tolk retry {task.id}" in reply["text"]


async def test_cancel_stops_polling_and_says_so_once(timed_tolk, clock, slack, xiangji):
    xiangji.pending_polls = 10_000
    urls = " ".join(xiangji.sample_url(f"c{i}") for i in range(3))
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {urls}")
    task_id = task_id_in(body)
    await timed_tolk.services.poller.drain()
    _, answer = await timed_tolk.command("/tolk", f"cancel {task_id}")
    assert "Cancelling" in answer
    await poll_round(timed_tolk)
    task = await timed_tolk.services.store.get(task_id)
    assert task.state is State.CANCELLED and task.settled
    calls = len(status_ids(xiangji))
    clock.advance(120)
    await poll_round(timed_tolk)
    assert len(status_ids(xiangji)) == calls
    (parent,) = slack.messages("C0GENERAL")
    (reply,) = slack.thread("C0GENERAL", parent["ts"])
    assert "cancelled by <@U0ALICE>" in reply["text"]
    _, again = await timed_tolk.command("/tolk", f"cancel {task_id}")
    assert "nothing to cancel" in again


async def test_only_the_requester_or_an_admin_may_cancel(timed_tolk, xiangji):
    timed_tolk.services.settings = replace(
        timed_tolk.services.settings, admins=frozenset({"U0ADMIN"})
    )
    xiangji.pending_polls = 10_000
    urls = " ".join(xiangji.sample_url(f"c{i}") for i in range(2))
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {urls}")
    _, answer = await timed_tolk.command("/tolk", f"cancel {task_id_in(body)}", user="U0BOB")
    assert "Only the person who started" in answer
    task = await timed_tolk.services.store.get(task_id_in(body))
    assert task.state is not State.CANCELLED


async def test_retry_runs_a_failed_task_again_as_a_new_task(timed_tolk, slack, xiangji):
    xiangji.faults.code("GetImageTranslate", 104)
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('r')}")
    await timed_tolk.services.poller.drain()
    old_id = task_id_in(body)
    _, answer = await timed_tolk.command("/tolk", f"retry {old_id}")
    new_id = answer.split("`")[-2]
    assert new_id != old_id and "Retrying" in answer
    await timed_tolk.services.poller.drain()
    new = await timed_tolk.services.store.get(new_id)
    assert new.state is State.DELIVERED and new.request["retry_of"] == old_id
    assert uploads(slack) == [f"r-ko-{new_id}-1.png"]


async def test_tasks_lists_what_is_pending_here(timed_tolk, clock, xiangji):
    xiangji.pending_polls = 10_000
    urls = " ".join(xiangji.sample_url(f"l{i}") for i in range(2))
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {urls}")
    await timed_tolk.services.poller.drain()
    clock.advance(300)
    _, listing = await timed_tolk.command("/tolk", "tasks")
    assert task_id_in(body) in listing and "submitted" in listing and "5 min" in listing
    _, elsewhere = await timed_tolk.command("/tolk", "tasks", channel="C0LOCALE")
    assert "No pending tasks" in elsewhere


async def test_a_crash_between_upload_and_marking_does_not_post_twice(timed_tolk, slack, xiangji):
    urls = " ".join(xiangji.sample_url(f"k{i}") for i in range(2))
    _, body = await timed_tolk.command("/translate-image", f"zh>ko {urls}")
    store = timed_tolk.services.store
    for _ in range(5):
        await poll_round(timed_tolk)
        timed_tolk.services.clock.advance(60)
    done = await store.get(task_id_in(body))
    assert done.state is State.DELIVERED and len(uploads(slack)) == 2
    # Rewind to "uploaded and announced, but the process died before recording it":
    # the intents are on the task, the Slack ts and delivered counts are not.
    items = tuple(replace(i, delivered=0) for i in done.items)
    notes = {**done.notes, "sent": {k: v for k, v in done.notes["sent"].items() if "parent" in k}}
    await store.save(replace(done, state=State.SUCCEEDED, settled=False, items=items, notes=notes))
    await poll_round(timed_tolk)
    again = await store.get(done.id)
    assert again.state is State.DELIVERED and again.settled
    assert len(uploads(slack)) == 2
    (parent,) = slack.messages("C0GENERAL")
    finals = [m for m in slack.thread("C0GENERAL", parent["ts"]) if "Done" in m.get("text", "")]
    assert len(finals) == 1


async def test_a_429_on_upload_still_delivers_exactly_once(tolk, slack, xiangji):
    slack.faults.add("upload", status=429, retry_after=1)
    slack.faults.add("files.completeUploadExternal", status=429, retry_after=1)
    await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('z')}")
    await tolk.settle(within=20)
    assert len(uploads(slack)) == 1
    assert [c.faulted for c in slack.calls_to("upload")] == [True, False]


async def test_ocr_posts_the_recognised_text_as_a_list(tolk, slack, xiangji):
    await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('o')} --ocr")
    await tolk.settle()
    assert len(xiangji.requests_for("GetImageTranslateBatchQuery")) == 1
    (parent,) = slack.messages("C0GENERAL")
    texts = [m["text"] for m in slack.thread("C0GENERAL", parent["ts"])]
    ocr = next(t for t in texts if t.startswith("Text in o.png"))
    assert "• " in ocr and " → " in ocr


async def test_cutout_one_and_several(tolk, slack, xiangji):
    await tolk.command("/cutout", f"{xiangji.sample_url('one')} --bg 255,255,255")
    await tolk.command("/cutout", " ".join(xiangji.sample_url(f"m{i}") for i in range(3)))
    await tolk.settle()
    (sync,) = xiangji.requests_for("GetImageMatting")[:1]
    assert sync.params["BgColor"] == "255,255,255"
    names = uploads(slack)
    assert len(names) == 4 and all("-cutout-" in n for n in names)
    async_jobs = [r for r in xiangji.requests_for("GetImageMatting") if r.params.get("Sync") == "2"]
    assert len(async_jobs) == 3


async def test_cutout_rejects_a_bad_colour(tolk, xiangji):
    _, body = await tolk.command("/cutout", f"{xiangji.sample_url()} --bg red")
    assert "not a colour" in body and "255,255,255" in body
    assert xiangji.requests == []
