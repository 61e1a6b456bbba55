"""Moving a task one step: the only place that knows both a task and a provider.

A step reads the task's state and does the next thing: post the parent message,
submit to the provider, take in a poll result, upload what is ready, post the one
final message. Every outcome is written onto the task (state, attempts, next poll
time, delivery markers) so a restart carries on from the store alone.

Operations (``bot/engine/operations/xiangji.py`` …) know how to submit and poll one kind of
provider work; this module knows everything else.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.core import messages
from bot.core.backoff import Backoff
from bot.core.logs import current_work
from bot.core.metrics import Metrics
from bot.core.mrkdwn import escape
from bot.core.slack_client import SlackFailure, slack_error_code, slack_failure
from bot.core.slack_retry import rate_limited_for
from bot.core.storage import TaskStore
from bot.core.tasks import Item, State, Task
from bot.engine.delivery import (
    RESPONSE_URL_SECONDS,
    RESPONSE_URL_USES,
    Delivery,
    DownloadFailed,
    DownloadRefused,
    once,
)
from bot.engine.operations.refine import refinable
from providers.errors import ErrorKind, ProviderError

log = logging.getLogger(__name__)

ALL_ITEMS_FAILED = "all-items-failed"
CANCEL_INDEX = "_recent"  # setting ("cancel", CANCEL_INDEX): {task id: user} for poll rounds
MAX_ATTEMPTS = 8  # retryable failures before a task gives up (the deadline may come first)
DELIVERY_GRACE = 600.0  # seconds past the deadline that Slack may stay unreachable


class Operation(Protocol):
    provider: str
    needs_thread: bool  # results go in the thread of a parent message
    poll_key: str | None  # tasks with the same key share one batched status round

    def parent_text(self, task: Task) -> str: ...

    async def submit(self, task: Task, now: float) -> Task:
        """Send the work; return the task SUBMITTED (async) or SUCCEEDED (sync)."""
        ...

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        """One status round for ``tasks`` (batched where the provider allows); items
        that finished carry their outputs, the rest stay pending."""
        ...


# Optional hooks an operation may define (looked up with getattr):
#   noun: str                          "document" → "Done — 1 document translated"
#   summary(task) -> str | None        None: the answer itself was the final message
#   final_text(task) -> str | None     its own closing message for a finished task
#   poll_floor(task) -> float          the shortest wait between polls (a callback is due)
#   fetch(output) -> bytes             the bytes of an output marked ``"fetch"``
#   unreadable(output, exc) -> dict    an output refused (``DownloadRefused``) or lost for
#                                      good (permanent ``DownloadFailed``): the record kept
#                                      in its place, the item still done (default: the
#                                      item fails)


@dataclass
class Run:
    """The task as it changes during one step, persisted at each post intent."""

    task: Task
    store: TaskStore

    def note(self, **changes: Any) -> None:
        self.task = self.task.but(notes={**self.task.notes, **changes})

    @property
    def sent(self) -> dict[str, str]:
        return self.task.notes.get("sent", {})

    async def intend(self, marker: str) -> None:
        self.note(intents=sorted({*self.task.notes.get("intents", ()), marker}))
        await self.store.save(self.task)

    def mark_sent(self, marker: str, ts: str) -> None:
        self.note(sent={**self.sent, marker: ts})


class Work:
    def __init__(
        self,
        store: TaskStore,
        delivery: Delivery,
        operations: dict[str, Operation],
        *,
        retry: Backoff,
        poll: Backoff,
        clock: Callable[[], float],
        rand: Callable[[], float] = random.random,
        on_settled: Callable[[Task], Awaitable[None]] | None = None,
        metrics: Metrics | None = None,
        refine: bool = False,
    ) -> None:
        self.store = store
        self.delivery = delivery
        self.operations = operations
        self.retry = retry
        self.poll = poll
        self.clock = clock
        self.rand = rand
        self.on_settled = on_settled  # e.g. quota checks after provider work
        self.metrics = metrics
        self.refine = refine  # Refine buttons on editable images (the page needs a public URL)

    # --- entry points used by the poller ------------------------------------------------

    def needs_poll(self, task: Task) -> bool:
        return task.state in (State.SUBMITTED, State.RUNNING) and any(
            i.status == "pending" for i in task.items
        )

    def poll_key(self, task: Task) -> str | None:
        """The batched status round this task can join now, if any."""
        if not self.needs_poll(task) or task.next_poll_at > self.clock():
            return None
        return self.operations[task.operation].poll_key

    async def step(self, task: Task) -> None:
        """Move one claimed task forward and save it with its lease released."""
        run = Run(task, self.store)
        context = current_work.set(  # "owner": whose transfers these are (fair slots)
            {
                "task": task.id,
                "provider": task.provider,
                "operation": task.operation,
                "owner": f"{task.place.team}:{task.place.user}",
            }
        )
        try:
            await self._advance(run)
        except Exception as exc:
            try:
                if not await self._answer_elsewhere(run, exc):
                    self._on_error(run, exc)
                    await self._finish_safely(run)
            except Exception:  # never leave the task leased and unsaved
                log.exception("task %s: handling a failure failed; trying again later", task.id)
                run.task = run.task.but(next_poll_at=self.clock() + self.retry.delay(0, 1.0))
        finally:
            current_work.reset(context)
        await self.store.save(run.task.but(lease_until=0.0))
        if run.task.settled and not task.settled and self.on_settled is not None:
            try:
                await self.on_settled(run.task)
            except Exception:
                log.exception("task %s: after-settle hook failed", run.task.id)

    async def poll_group(self, tasks: Sequence[Task]) -> None:
        """One batched status round for claimed tasks sharing a poll key, then delivery."""
        op = self.operations[tasks[0].operation]
        now = self.clock()
        work = {"task": f"{len(tasks)} tasks", "provider": op.provider, "operation": "poll"}
        context = current_work.set(work)
        try:
            polled = _stamp_ready(tasks, await op.poll(tasks, now), now)
        except ProviderError as exc:
            runs = [Run(t, self.store) for t in tasks]
            for run in runs:
                self._on_error(run, exc)
            await self.store.save(*(r.task.but(lease_until=0.0) for r in runs))
            return
        finally:
            current_work.reset(context)
        cancels = await self.store.get_setting("cancel", CANCEL_INDEX) or {}
        quiet, busy = [], []
        for before, task in zip(tasks, polled, strict=True):
            after = self._after_poll(task, now)
            unchanged = [i.status for i in before.items] == [i.status for i in after.items]
            if (
                unchanged
                and after.state is State.RUNNING
                and after.id not in cancels
                and now < after.deadline
            ):
                quiet.append(after.but(lease_until=0.0))
            else:
                busy.append(after)
        if quiet:  # still waiting, nothing to deliver: one commit for all of them
            await self.store.save(*quiet)
        for task in busy:
            try:
                await self.step(task)
            except Exception:  # its save failed: the rest of the round must still move
                log.exception("task %s: step failed", task.id)

    def _after_poll(self, task: Task, now: float) -> Task:
        pending = any(i.status == "pending" for i in task.items)
        if not pending:
            return task.to(State.SUCCEEDED, now, attempts=0)
        polls = task.polls + 1
        return task.to(
            State.RUNNING,
            now,
            polls=polls,
            attempts=0,  # the provider answered: failures are counted afresh
            next_poll_at=now + self._poll_delay(task, polls),
        )

    def _poll_delay(self, task: Task, polls: int) -> float:
        """The back-off, or longer when a callback will say when the work is done (then
        polling is only the fallback, and costs the provider's rate limit)."""
        floor = getattr(self.operations[task.operation], "poll_floor", None)
        delay = self.poll.delay(polls, self.rand())
        return max(delay, floor(task)) if floor is not None else delay

    # --- the step -----------------------------------------------------------------------

    async def _advance(self, run: Run) -> None:
        now = self.clock()
        op = self.operations[run.task.operation]
        if not run.task.final and (by := await self.store.get_setting("cancel", run.task.id)):
            run.task = run.task.to(State.CANCELLED, now)
            run.note(cancelled_by=by)
        if (
            not run.task.final
            and run.task.state is not State.SUCCEEDED
            and now >= run.task.deadline
        ):
            run.task = run.task.to(State.EXPIRED, now, error={"code": "expired", "kind": "expired"})
        moved = "moved" in run.task.notes
        if (
            (run.task.state is State.QUEUED or moved)
            and (op.needs_thread or moved)
            and not run.task.place.thread_ts
        ):
            await self._post_parent(run, op)
        submitted = False
        while run.task.state is State.QUEUED:  # one provider call at a time, each persisted
            before = run.task
            run.task = _stamp_ready([before], [await op.submit(before, now)], now)[0]
            run.task = run.task.but(attempts=0)  # answered: a later burst has the whole budget
            await self.store.save(run.task)
            submitted = True
        if submitted and run.task.state is State.SUBMITTED:  # the first poll comes later
            run.task = run.task.but(next_poll_at=now + self._poll_delay(run.task, 0))
            return
        if self.needs_poll(run.task) and run.task.next_poll_at > now:
            await self._deliver_ready(run, op)  # images finished so far go out now
            return
        if self.needs_poll(run.task):
            polled = _stamp_ready([run.task], await op.poll([run.task], now), now)
            run.task = self._after_poll(polled[0], now)
        await self._deliver_ready(run, op)
        if run.task.final or run.task.state is State.SUCCEEDED:
            await self._finish(run, op)

    async def _post_parent(self, run: Run, op: Operation) -> None:
        task = run.task
        moved = task.notes.get("moved")
        marker = f"{task.id}:parent" + (":dm" if moved else "")
        text = (
            messages.moved_parent(task.id, moved["from"], moved["error"], op.parent_text(task))
            if moved
            else op.parent_text(task)
        )
        ts = await once(
            run.sent,
            set(task.notes.get("intents", ())),
            marker,
            record_intent=lambda: run.intend(marker),
            find=lambda: self.delivery.find_marker(
                task.place.channel, marker, thread_ts=None, oldest=task.created_at - 1
            ),
            post=lambda: self.delivery.post(task.place.channel, text, marker=marker),
        )
        run.mark_sent(marker, ts)
        run.task = run.task.but(place=replace(run.task.place, thread_ts=ts))
        await self.store.save(run.task)

    async def _deliver_ready(self, run: Run, op: Operation) -> None:
        """Upload every finished output not yet in Slack, in item order."""
        delivered_any = False
        for index, item in enumerate(run.task.items):
            while item.status == "done" and item.delivered < len(item.outputs):
                try:
                    await self._deliver_output(run, index, item, item.outputs[item.delivered])
                except (DownloadRefused, DownloadFailed) as exc:
                    if isinstance(exc, DownloadFailed) and not exc.permanent:
                        raise
                    if isinstance(exc, DownloadRefused):
                        log.warning(
                            "task %s: refusing to download from %s", run.task.id, _host(str(exc))
                        )
                    unreadable = getattr(op, "unreadable", None)
                    if unreadable is None:
                        item = fail_item(item, *_download_failure(exc))
                        run.task = with_item(run.task, index, item)
                        break
                    outputs = list(item.outputs)  # the operation reports it; the rest go on
                    outputs[item.delivered] = unreadable(outputs[item.delivered], exc)
                    item = replace(item, outputs=tuple(outputs), delivered=item.delivered + 1)
                    run.task = with_item(run.task, index, item)
                    await self.store.save(run.task)
                    continue
                item = replace(item, delivered=item.delivered + 1)
                run.task = with_item(run.task, index, item)
                await self.store.save(run.task)
                delivered_any = True
                if self.metrics is not None and "ready_at" in item.meta:
                    lag = max(0.0, self.clock() - item.meta["ready_at"])
                    self.metrics.delivery_lag.labels(run.task.provider).observe(lag)
        own_parent = (  # never edit someone else's message, nor the note of a move
            f"{run.task.id}:parent" in run.sent and "moved" not in run.task.notes
        )
        if delivered_any and len(run.task.items) > 1 and own_parent:
            done = sum(1 for i in run.task.items if i.status != "pending")
            parent = op.parent_text(run.task) + " · " + messages.progress(done, len(run.task.items))
            await self.delivery.update(run.task.place.channel, run.task.place.thread_ts, parent)

    async def _deliver_output(self, run: Run, index: int, item: Item, output: dict) -> None:
        task = run.task
        place = task.place
        kind = output["kind"]
        moved = "moved" in task.notes
        if kind == "summary":  # folded into the closing message (``op.final_text``)
            return
        if kind in ("message", "ephemeral") and not moved:
            # the answer in the channel itself (/translate): else through the response_url
            try:
                await self._answer_in_channel(run, output)
            except Exception as exc:
                if slack_failure(exc) is not SlackFailure.ELSEWHERE:
                    raise
                if not await self._respond_with(run, output):
                    raise
                return
            await self._attach_long_text(run, output, run.sent.get(f"{task.id}:message"))
            return
        if kind in ("message", "ephemeral", "text"):  # in the thread (OCR lines, a move)
            marker = f"{task.id}:text:{index}:{item.delivered}"
            await self._post_once(
                run, marker, output["text"], thread_ts=place.thread_ts, blocks=output.get("blocks")
            )
            await self._attach_long_text(run, output, place.thread_ts)
            return
        filename = result_filename(task, index, output)
        comment = output.get("comment") or messages.result_comment(
            index + 1, len(task.items), item.source, output.get("variant")
        )

        async def data() -> bytes:
            if output.get("fetch"):  # the provider hands the file over itself (signed calls)
                return await self.operations[task.operation].fetch(output)
            return await self.delivery.download(output["url"])

        await self._upload_once(run, filename, place.thread_ts, data, comment)

    async def _answer_in_channel(self, run: Run, output: dict) -> None:
        task = run.task
        if output["kind"] == "ephemeral":
            await self.delivery.ephemeral(
                task.place.channel, task.place.user, output["text"], blocks=output.get("blocks")
            )
            return
        await self._post_once(
            run, f"{task.id}:message", output["text"], thread_ts=None, blocks=output.get("blocks")
        )

    async def _post_once(
        self,
        run: Run,
        marker: str,
        text: str,
        *,
        thread_ts: str | None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """Post ``text`` once per ``marker`` (see ``bot.engine.delivery.once``)."""
        task = run.task
        channel = task.place.channel
        ts = await once(
            run.sent,
            set(task.notes.get("intents", ())),
            marker,
            record_intent=lambda: run.intend(marker),
            find=lambda: self.delivery.find_marker(
                channel, marker, thread_ts=thread_ts, oldest=task.created_at - 1
            ),
            post=lambda: self.delivery.post(
                channel, text, marker=marker, thread_ts=thread_ts, blocks=blocks
            ),
        )
        run.mark_sent(marker, ts)
        return ts

    async def _upload_once(
        self,
        run: Run,
        filename: str,
        thread_ts: str | None,
        data: Callable[[], Awaitable[bytes]],
        comment: str,
    ) -> None:
        """Upload a file once per task and name: the file name is its marker in the thread."""
        task = run.task
        marker = f"{task.id}:file:{filename}"
        if (
            marker in set(task.notes.get("intents", ()))
            and thread_ts
            and await self.delivery.has_file(task.place.channel, thread_ts, filename)
        ):
            log.info("task %s: %s already in the thread; not uploading again", task.id, filename)
            return
        content = await data()
        await run.intend(marker)
        file_id = await self.delivery.upload(
            task.place.channel, thread_ts, filename, content, comment
        )
        run.note(files=[*run.task.notes.get("files", []), file_id])

    async def _attach_long_text(self, run: Run, output: dict, thread_ts: str | None) -> None:
        """A translation too long to read as a message comes whole as a text file too."""
        attached = output.get("attachment")
        if not attached or not thread_ts:
            return
        content = attached["text"].encode()

        async def data() -> bytes:
            return content

        await self._upload_once(
            run,
            attached["name"],
            thread_ts,
            data,
            messages.long_text_comment(len(attached["text"])),
        )

    def _response_url(self, task: Task) -> str | None:
        """The command's ``response_url`` while Slack still takes posts on it."""
        url = task.place.response_url
        fresh = self.clock() < task.created_at + RESPONSE_URL_SECONDS - 60
        if url and fresh and task.notes.get("responses", 0) < RESPONSE_URL_USES:
            return url
        return None

    async def _respond(self, run: Run, text: str, blocks: Any = None, kind: str = "") -> bool:
        """Answer through the command's ``response_url`` (works where Tolk was never
        invited): in the channel for a channel answer, else only to the person."""
        url = self._response_url(run.task)
        if url is None:
            return False
        run.note(responses=run.task.notes.get("responses", 0) + 1)
        await self.store.save(run.task)
        try:
            await self.delivery.respond(url, text, in_channel=kind == "message", blocks=blocks)
        except Exception as exc:
            log.warning("task %s: the response_url refused the answer: %s", run.task.id, exc)
            return False
        run.mark_sent(f"{run.task.id}:{kind or 'response'}", "response_url")
        return True

    async def _respond_with(self, run: Run, output: dict) -> bool:
        """An answer through the response_url, whole: a long one as plain text (no file
        can go there), cut visibly only past Slack's 40,000 characters."""
        if attached := output.get("attachment"):
            return await self._respond(run, escape(attached["text"]), None, output["kind"])
        return await self._respond(run, output["text"], output.get("blocks"), output["kind"])

    async def _answer_elsewhere(self, run: Run, exc: BaseException) -> bool:
        """Tolk cannot write where the work came from (not invited, archived): carry on in
        a DM with the person, telling them through the response_url where the results go;
        when no DM can be had either, the final word goes through the response_url."""
        if slack_failure(exc) is not SlackFailure.ELSEWHERE:
            return False
        task = run.task
        code = slack_error_code(exc)
        log.info("task %s: cannot post in %s (%s)", task.id, task.place.channel, code)
        if "moved" not in task.notes:
            try:
                dm = await self.delivery.open_dm(task.place.user)
            except Exception as dm_exc:
                log.warning("task %s: no DM with %s: %s", task.id, task.place.user, dm_exc)
                dm = None
            if dm and dm != task.place.channel:
                origin = task.place.channel
                run.note(moved={"from": origin, "error": code})
                place = replace(task.place, channel=dm, thread_ts=None)
                run.task = run.task.but(place=place, next_poll_at=self.clock())
                await self._respond(run, messages.moved_notice(task.id, origin, code))
                return True
        # Nowhere of Tolk's own to write: the response_url carries the last word, if any.
        now = self.clock()
        if not run.task.final:
            error = {"code": code, "message": messages.cannot_post(code), "kind": "slack"}
            run.task = run.task.to(State.FAILED, now, error=error)
        text = messages.cannot_post_anywhere(task.id, task.place.channel, code)
        if not await self._respond(run, text):
            log.error("task %s: no place left to tell %s; settling", task.id, task.place.user)
        run.task = run.task.but(settled=True, updated_at=now)
        return True

    async def _finish(self, run: Run, op: Operation) -> None:
        """Post the one final message and settle the task."""
        task = run.task
        now = self.clock()
        if task.state is State.SUCCEEDED:
            ok = [i for i in task.items if i.status == "done"]
            if not ok and task.items:
                error = {"code": ALL_ITEMS_FAILED, "message": "no item could be translated"}
                run.task = task = task.to(State.FAILED, now, error=error)
            else:
                run.task = task = task.to(State.DELIVERED, now)
        text = self._final_text(task, op)
        if text and task.place.thread_ts:
            blocks = self._final_blocks(task, text)
            await self._post_once(
                run, f"{task.id}:final", text, thread_ts=task.place.thread_ts, blocks=blocks
            )
        elif text:  # a task without a thread (/translate) fails only to the person
            try:
                await self.delivery.ephemeral(task.place.channel, task.place.user, text)
            except Exception as exc:
                if slack_failure(exc) is not SlackFailure.ELSEWHERE:
                    raise
                if not await self._respond(run, text):
                    raise
        run.task = run.task.but(settled=True, updated_at=now)
        if self.metrics is not None:
            self.metrics.tasks_finished.labels(task.operation, str(run.task.state)).inc()
        log.info(
            "task %s: %s after %.1f s",
            task.id,
            run.task.state,
            now - task.created_at,
            extra={
                "state": str(run.task.state),
                "latency_ms": round((now - task.created_at) * 1000),
            },
        )

    def _final_blocks(self, task: Task, text: str) -> list[dict[str, Any]] | None:
        """Delivered results get a link to their origin, Refine buttons for images
        Xiangji's editor can open, and a Delete button."""
        if task.state is not State.DELIVERED:
            return None
        refine = refinable(task) if self.refine else []
        return messages.result_blocks(text, task.id, task.request.get("origin"), refine)

    def _final_text(self, task: Task, op: Operation) -> str | None:
        all_failed = (task.error or {}).get("code") == ALL_ITEMS_FAILED
        own = getattr(op, "final_text", None)
        if own is not None and (task.state is State.DELIVERED or all_failed):
            return own(task)
        if task.state is State.DELIVERED or all_failed:
            summary = getattr(op, "summary", None)
            if task.state is State.DELIVERED and (
                not op.needs_thread or (summary is not None and summary(task) is None)
            ):
                return None  # the answer itself was the final message
            failures = [
                messages.item_failure(
                    i.meta.get("name") or i.source,
                    i.error.get("code", "?"),
                    i.error.get("message", ""),
                )
                for i in task.items
                if i.status == "failed" and i.error
            ]
            delivered = sum(1 for i in task.items if i.status == "done")
            noun = getattr(op, "noun", "image")
            return messages.done(task.id, delivered, len(task.items), failures, noun=noun)
        if task.state is State.EXPIRED:
            return messages.expired(task.id, (task.deadline - task.created_at) / 60)
        if task.state is State.CANCELLED:
            return messages.cancelled(task.id, task.notes.get("cancelled_by"))
        err = task.error or {}
        return messages.failure(
            task.id, op.provider.capitalize(), str(err.get("code", "?")), err.get("message", "")
        )

    async def _finish_safely(self, run: Run) -> None:
        if not run.task.final:
            return
        try:
            await self._finish(run, self.operations[run.task.operation])
        except Exception as exc:
            self._on_error(run, exc)

    # --- failures -----------------------------------------------------------------------

    def _on_error(self, run: Run, exc: BaseException) -> None:
        task, now = run.task, self.clock()
        if isinstance(exc, ProviderError):
            log.warning("task %s: %s", task.id, exc)
            if self.metrics is not None:
                self.metrics.provider_errors.labels(
                    exc.provider, exc.operation, exc.code, str(exc.kind)
                ).inc()
            if exc.kind is ErrorKind.PENDING:
                run.task = task.but(next_poll_at=now + self._poll_delay(task, task.polls))
                return
            if exc.kind is ErrorKind.RETRYABLE and task.attempts + 1 < MAX_ATTEMPTS:
                delay = self.retry.delay(task.attempts, self.rand(), retry_after=exc.retry_after)
                if now + delay < task.deadline:
                    run.task = task.but(attempts=task.attempts + 1, next_poll_at=now + delay)
                    return
            error = {"code": exc.code, "message": exc.message, "kind": str(exc.kind)}
            if not task.final:
                run.task = task.to(State.FAILED, now, error=error, attempts=task.attempts + 1)
            if exc.kind is ErrorKind.QUOTA:
                run.note(quota_error=error)
            return
        failure = slack_failure(exc)
        if failure is SlackFailure.REVOKED or (task.final and failure is SlackFailure.REFUSED):
            log.error("task %s: Slack refused its answer (%s); giving up", task.id, exc)
            run.task = task.but(settled=True, updated_at=now)
            return
        if failure is SlackFailure.REFUSED or (isinstance(exc, DownloadFailed) and exc.permanent):
            log.error("task %s: %s; the task fails", task.id, exc)
            code = slack_error_code(exc) if failure else "download"
            reason = messages.cannot_post(code) if failure else str(exc)
            run.task = task.to(State.FAILED, now, error={"code": code, "message": reason})
            return
        expected = (
            SlackApiError,
            SlackRequestError,
            DownloadFailed,
            aiohttp.ClientError,
            TimeoutError,
        )
        if isinstance(exc, expected):
            log.warning("task %s: delivery failed, will retry: %s", task.id, exc)
        else:
            log.exception("task %s: unexpected error in step", task.id, exc_info=exc)
        if now > task.deadline + DELIVERY_GRACE:  # Slack (or a download) down for too long
            log.error("task %s: still failing past its deadline; giving up", task.id)
            if task.final:
                run.task = task.but(settled=True, updated_at=now)
            else:
                error = {"code": "expired", "kind": "expired"}
                run.task = task.to(State.EXPIRED, now, error=error)
            return
        delay = self.retry.delay(task.attempts, self.rand(), retry_after=rate_limited_for(exc))
        run.task = task.but(attempts=task.attempts + 1, next_poll_at=now + delay)


def _stamp_ready(before: Sequence[Task], after: Sequence[Task], now: float) -> list[Task]:
    """Mark items that finished in this call with the time (``meta["ready_at"]``), so
    delivery lag can be measured from the moment a result was known."""
    stamped = []
    for old, new in zip(before, after, strict=True):
        was = {i: item.status for i, item in enumerate(old.items)}
        items = tuple(
            replace(item, meta={**item.meta, "ready_at": now})
            if item.status == "done" and was.get(i) == "pending" and "ready_at" not in item.meta
            else item
            for i, item in enumerate(new.items)
        )
        stamped.append(new.but(items=items) if items != new.items else new)
    return stamped


def _download_failure(exc: DownloadRefused | DownloadFailed) -> tuple[str, str]:
    """An item's error code and message for an output that could not be downloaded."""
    if isinstance(exc, DownloadRefused):
        return "download-refused", messages.download_refused(str(exc))
    return "download", messages.download_failed(str(exc))


def with_item(task: Task, index: int, item: Item) -> Task:
    items = list(task.items)
    items[index] = item
    return task.but(items=tuple(items))


def _host(url: str) -> str:
    return urlsplit(url).netloc


def result_filename(task: Task, index: int, output: dict) -> str:
    """``a-ko-T7Q2K-1.jpg``: readable, and unique per task so it marks the upload.
    An operation may name the file itself (``output["filename"]``)."""
    if output.get("filename"):
        return str(output["filename"])
    source_name = PurePosixPath(urlsplit(task.items[index].source).path).name or "image"
    stem = PurePosixPath(source_name).stem or "image"
    ext = PurePosixPath(urlsplit(output["url"]).path).suffix or ".png"
    variant = f"-{output['variant']}" if output.get("variant") else ""
    target = task.request.get("target", "")
    return f"{stem}-{target}{variant}-{task.id}-{index + 1}{ext}"


async def submit_one_by_one(
    task: Task, now: float, send: Callable[[Task, int], Awaitable[Item]]
) -> Task:
    """One item per call (``send`` returns it submitted or failed): QUEUED while items
    are left — the engine saves after each, so a restart never sends one twice — then
    SUBMITTED, or SUCCEEDED when the provider refused every item."""
    index = next(
        (i for i, it in enumerate(task.items) if it.status == "pending" and not it.provider_id),
        None,
    )
    if index is not None:
        task = with_item(task, index, await send(task, index))
    if any(i.status == "pending" and not i.provider_id for i in task.items):
        return task.but(updated_at=now)
    if any(waiting(i) for i in task.items):
        return task.to(State.SUBMITTED, now)
    return task.to(State.SUCCEEDED, now)


def waiting(item: Item) -> bool:
    """Submitted and not finished: the provider has it."""
    return item.status == "pending" and bool(item.provider_id)


def fail_item(item: Item, code: str, message: str) -> Item:
    return replace(item, status="failed", error={"code": code, "message": message})
