"""Moving a task one step: the only place that knows both a task and a provider.

A step reads the task's state and does the next thing: post the parent message,
submit to the provider, take in a poll result, upload what is ready, post the one
final message. Every outcome is written onto the task (state, attempts, next poll
time, delivery markers) so a restart carries on from the store alone.

Operations (``bot/engine/operations/…``, the contract in ``bot/engine/operation.py``)
know how to submit and poll one kind of provider work; the registry is built in
``bot/wiring.py``, and this module never imports an operation. How answers reach Slack
once each is ``bot/engine/answers.py``; what a failure does to a task is
``bot/engine/failures.py``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from bot.core import messages
from bot.core.backoff import Backoff
from bot.core.fetch import DownloadFailed, DownloadRefused
from bot.core.logs import current_work
from bot.core.metrics import Metrics
from bot.core.review import reviewed
from bot.core.slack_client import SlackFailure, slack_failure
from bot.core.storage import TaskStore
from bot.core.tasks import State, Task
from bot.engine import review
from bot.engine.answers import Run
from bot.engine.answers import result_filename as result_filename  # for the Refine page
from bot.engine.delivery import Delivery
from bot.engine.failures import MAX_ATTEMPTS as MAX_ATTEMPTS
from bot.engine.failures import after_failure
from bot.engine.operation import Operation, fail_item, with_item
from bot.engine.tenant import OneTenant, Tenant, Tenants, slack_context
from providers.errors import ProviderError

log = logging.getLogger(__name__)

ALL_ITEMS_FAILED = "all-items-failed"
PARENT_EVERY = 3.0  # seconds between edits of a parent that shows live progress


class Work:
    """Moves claimed tasks: ``step`` one task, ``poll_group`` a batched status round.
    ``operations`` is the registry (operation name → ``Operation``) of the one workspace;
    with many, ``tenants`` gives each task's workspace its own (``bot.engine.tenant``)."""

    def __init__(
        self,
        store: TaskStore,
        delivery: Delivery,
        operations: Mapping[str, Operation],
        *,
        retry: Backoff,
        poll: Backoff,
        clock: Callable[[], float],
        rand: Callable[[], float] = random.random,
        on_settled: Callable[[Task], Awaitable[None]] | None = None,
        metrics: Metrics | None = None,
        refine: bool = False,
        tenants: Tenants | None = None,
    ) -> None:
        self.store = store
        self.delivery = delivery
        self.retry = retry
        self.poll = poll
        self.clock = clock
        self.rand = rand
        self.metrics = metrics
        self.refine = refine  # Refine buttons on editable images (the page needs a public URL)
        self.stopping = False  # shutting down: steps end at their next saved point
        self._default = Tenant("", operations, on_settled=on_settled)
        self.tenants = tenants or OneTenant(self._default)
        self._one = tenants is None
        self._known: dict[str, Tenant] = {}  # team → its tenant, as last looked up

    @property
    def operations(self) -> Mapping[str, Operation]:
        """The one workspace's registry (with many: what the operator's keys run)."""
        return self._default.operations

    @operations.setter
    def operations(self, operations: Mapping[str, Operation]) -> None:
        self._use(replace(self._default, operations=operations))

    @property
    def on_settled(self) -> Callable[[Task], Awaitable[None]] | None:
        """What runs after a task settles (quota checks): the one workspace's."""
        return self._default.on_settled

    @on_settled.setter
    def on_settled(self, hook: Callable[[Task], Awaitable[None]] | None) -> None:
        self._use(replace(self._default, on_settled=hook))

    def _use(self, default: Tenant) -> None:
        self._default = default
        if self._one:
            self.tenants = OneTenant(default)
            self._known.clear()

    async def prepare(self, tasks: Sequence[Task]) -> None:
        """Look up the workspaces of claimed tasks, so ``poll_key`` can group them."""
        for team in {task.place.team for task in tasks}:
            await self._tenant(team)

    async def _tenant(self, team: str) -> Tenant:
        tenant = self._known[team] = await self.tenants.tenant(team)
        return tenant

    def _operation(self, task: Task) -> Operation | None:
        """The task's operation in its workspace (None: its provider is no longer set up)."""
        return self._known.get(task.place.team, self._default).operations.get(task.operation)

    # --- entry points used by the poller ------------------------------------------------

    def needs_poll(self, task: Task) -> bool:
        return task.state in (State.SUBMITTED, State.RUNNING) and any(
            i.status == "pending" for i in task.items
        )

    def poll_key(self, task: Task) -> str | None:
        """The batched status round this task can join now, if any."""
        if not self.needs_poll(task) or task.next_poll_at > self.clock():
            return None
        tenant = self._known.get(task.place.team, self._default)
        op = tenant.operations.get(task.operation)
        if op is None or op.poll_key is None or tenant.gone:
            return None
        return f"{tenant.key}|{op.poll_key}" if tenant.key else op.poll_key

    def poll_delay(self, task: Task, polls: int) -> float:
        """The back-off, or longer when a callback will say when the work is done (then
        polling is only the fallback, and costs the provider's rate limit)."""
        op = self._operation(task)
        floor = op.poll_floor(task) if op is not None else 0.0
        return max(self.poll.delay(polls, self.rand()), floor)

    async def step(self, task: Task) -> None:
        """Move one claimed task forward and save it with its lease released, speaking
        to Slack as the task's workspace."""
        tenant = await self._tenant(task.place.team)
        if tenant.gone:
            await self._leave(task)
            return
        slack = slack_context.set(tenant.slack)
        try:
            await self._step(task, tenant)
        finally:
            slack_context.reset(slack)

    async def _leave(self, task: Task) -> None:
        """Tolk was removed from the task's workspace: the task ends, and nothing is
        posted (there is no token left to post with, nor anyone who asked for it)."""
        ended = task if task.final else task.to(State.CANCELLED, self.clock())
        await self.store.save(ended.but(settled=True, lease_until=0.0))
        log.info("task %s: its workspace removed Tolk; ended without a message", task.id)

    async def _removed_meanwhile(self, task: Task, exc: Exception) -> bool:
        """Slack refused the workspace's token, and Tolk is no longer installed there:
        removed while this step ran, or seen late through a lookup kept a few seconds."""
        if slack_failure(exc) is not SlackFailure.REVOKED:
            return False
        try:
            return (await self.tenants.recheck(task.place.team)).gone
        except Exception:
            return False

    async def _step(self, task: Task, tenant: Tenant) -> None:
        run = Run(task, self.store, self.delivery, self.clock)
        context = current_work.set(  # "owner": whose transfers these are (fair slots)
            {
                "task": task.id,
                "provider": task.provider,
                "operation": task.operation,
                "owner": f"{task.place.team}:{task.place.user}",
            }
        )
        removed = False
        try:
            await self._advance(run)
        except Exception as exc:
            removed = await self._removed_meanwhile(task, exc)
            try:
                if removed:
                    await self._leave(run.task)
                elif not await run.answer_elsewhere(exc):
                    self._on_error(run, exc)
                    await self._finish_safely(run)
            except Exception:  # never leave the task leased and unsaved
                removed = False
                log.exception("task %s: handling a failure failed; trying again later", task.id)
                run.task = run.task.but(next_poll_at=self.clock() + self.retry.delay(0, 1.0))
        finally:
            current_work.reset(context)
        if removed:
            return
        await self.store.save(run.task.but(lease_until=0.0))
        if run.task.settled and not task.settled and tenant.on_settled is not None:
            try:
                await tenant.on_settled(run.task)
            except Exception:
                log.exception("task %s: after-settle hook failed", run.task.id)

    async def poll_group(self, tasks: Sequence[Task]) -> None:
        """One batched status round for claimed tasks sharing a poll key, then delivery."""
        op = self._operation(tasks[0])
        if op is None:  # the workspace's keys went since the round was grouped
            for task in tasks:
                await self.step(task)
            return
        now = self.clock()
        work = {"task": f"{len(tasks)} tasks", "provider": op.provider, "operation": "poll"}
        context = current_work.set(work)
        try:
            polled = _stamp_ready(tasks, await op.poll(tasks, now), now)
        except ProviderError as exc:
            runs = [Run(t, self.store, self.delivery, self.clock) for t in tasks]
            for run in runs:
                self._on_error(run, exc)
            await self.store.save(*(r.task.but(lease_until=0.0) for r in runs))
            return
        finally:
            current_work.reset(context)
        cancels = await self.store.cancel_requests([t.id for t in polled])  # one read
        quiet, busy = [], []
        for before, task in zip(tasks, polled, strict=True):
            if (
                task is before  # the operation's way of saying: nothing of it moved
                or [i.status for i in before.items] == [i.status for i in task.items]
            ) and (task.id not in cancels and now < task.deadline):
                quiet.append(self._after_poll(task, now, lease_until=0.0))
            else:
                busy.append(self._after_poll(task, now))
        if quiet:  # still waiting, nothing to deliver: rescheduled, all at once
            await self.store.reschedule(*quiet)
        for task in busy:
            try:
                await self.step(task)
            except Exception:  # its save failed: the rest of the round must still move
                log.exception("task %s: step failed", task.id)

    def _after_poll(self, task: Task, now: float, **changes: Any) -> Task:
        pending = any(i.status == "pending" for i in task.items)
        if not pending:
            return task.to(State.SUCCEEDED, now, attempts=0, **changes)
        polls = task.polls + 1
        return task.to(
            State.RUNNING,
            now,
            polls=polls,
            attempts=0,  # the provider answered: failures are counted afresh
            next_poll_at=now + self.poll_delay(task, polls),
            **changes,
        )

    # --- the step -----------------------------------------------------------------------

    async def _advance(self, run: Run) -> None:
        now = self.clock()
        op = self._operation(run.task)
        if op is None:
            run.task = run.task.to(State.FAILED, now, error=_not_set_up(run.task))
            await self._finish(run, None)
            return
        if not run.task.final and (
            by := (await self.store.cancel_requests([run.task.id])).get(run.task.id)
        ):  # someone asked (``Desk.cancel``): the step obeys now
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
            if self.stopping and run.task.state is State.QUEUED:
                return  # saved: the rest is for another replica, or the next start
        if submitted and run.task.state is State.SUBMITTED:  # the first poll comes later
            run.task = run.task.but(next_poll_at=now + self.poll_delay(run.task, 0))
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
        text = op.parent_text(task)
        if moved:
            text = messages.moved_parent(task.id, moved["from"], moved["error"], text)
        marker = f"{task.id}:parent" + (":dm" if moved else "")
        ts = await run.post_once(marker, text, thread_ts=None)
        run.task = run.task.but(place=replace(run.task.place, thread_ts=ts))
        await self.store.save(run.task)

    async def _deliver_ready(self, run: Run, op: Operation) -> None:
        """Upload every finished output not yet in Slack, in item order."""
        delivered_any = False
        for index, item in enumerate(run.task.items):
            while item.status == "done" and item.delivered < len(item.outputs):
                output = item.outputs[item.delivered]
                try:
                    await run.deliver_output(op, index, item, output)
                except (DownloadRefused, DownloadFailed) as exc:
                    if isinstance(exc, DownloadFailed) and not exc.permanent:
                        raise
                    if isinstance(exc, DownloadRefused):
                        host = urlsplit(str(exc)).netloc
                        log.warning("task %s: refusing to download from %s", run.task.id, host)
                    kept = op.unreadable(output, exc)
                    if kept is None:
                        run.task = with_item(run.task, index, fail_item(item, *_unread(exc)))
                        break
                    outputs = list(item.outputs)  # the operation reports it; the rest go on
                    outputs[item.delivered] = kept
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
            if reviewed(run.task):
                await review.post_card(run, index, self._refinable(run.task, op))
        place = run.task.place
        own_parent = (  # never edit someone else's message, nor the note of a move
            f"{run.task.id}:parent" in run.sent and "moved" not in run.task.notes
        )
        if not (own_parent and place.thread_ts and len(run.task.items) > 1):
            return
        if op.live_progress:  # the parent is the progress: edited when its counts move,
            parent = op.parent_text(run.task)  # at most every PARENT_EVERY s (Slack's
            now = self.clock()  # chat.update limit), and always once all is done
            finished = all(i.status != "pending" for i in run.task.items)
            due = finished or now - run.task.notes.get("parent_at", 0.0) >= PARENT_EVERY
            if due and parent != run.task.notes.get("parent_text"):
                await self.delivery.update(place.channel, place.thread_ts, parent)
                run.note(parent_text=parent, parent_at=now)
        elif delivered_any:
            done = sum(1 for i in run.task.items if i.status != "pending")
            parent = op.parent_text(run.task) + " · " + messages.progress(done, len(run.task.items))
            await self.delivery.update(place.channel, place.thread_ts, parent)

    async def _finish(self, run: Run, op: Operation | None) -> None:
        """Post the one final message and settle the task."""
        task = run.task
        now = self.clock()
        if task.state is State.SUCCEEDED:
            ok = [i for i in task.items if i.status == "done"]
            if not ok and task.items:
                error = {"code": ALL_ITEMS_FAILED, "message": "no item could be translated"}
                run.task = task = task.to(State.FAILED, now, error=error)
            else:
                parent = self._parent(run, op)
                if reviewed(task) and await review.hold(run, self.store, now, parent):
                    return  # results wait for decisions: no final message yet
                run.task = task = run.task.to(State.DELIVERED, now)
        text = self._final_text(task, op)
        if text and task.place.thread_ts:
            blocks = self._final_blocks(task, op, text)
            await run.post_once(
                f"{task.id}:final", text, thread_ts=task.place.thread_ts, blocks=blocks
            )
        elif text:  # a task without a thread (/translate) fails only to the person
            try:
                await self.delivery.ephemeral(task.place.channel, task.place.user, text)
            except Exception as exc:
                if slack_failure(exc) is not SlackFailure.ELSEWHERE:
                    raise
                if not await run.respond(text):
                    raise
        run.task = run.task.but(settled=True, updated_at=now)
        if self.metrics is not None:
            self.metrics.tasks_finished.labels(task.operation, str(run.task.state)).inc()
        latency = now - task.created_at
        log.info(
            "task %s: %s after %.1f s",
            task.id,
            run.task.state,
            latency,
            extra={"state": str(run.task.state), "latency_ms": round(latency * 1000)},
        )

    def _final_blocks(
        self, task: Task, op: Operation | None, text: str
    ) -> list[dict[str, Any]] | None:
        """Delivered results get a link to their origin, Refine buttons for images
        Xiangji's editor can open, and a Delete button."""
        if task.state is not State.DELIVERED or op is None:
            return None
        refine = self._refinable(task, op)
        blocks = messages.result_blocks(text, task.id, task.request.get("origin"), refine)
        return blocks + op.final_actions(task)

    def _refinable(self, task: Task, op: Operation) -> list[tuple[int, str]]:
        """The images of ``task`` Refine may open (none when Refine is off for it)."""
        tenant = self._known.get(task.place.team, self._default)
        return op.refinable(task) if self.refine and tenant.refine else []

    def _parent(self, run: Run, op: Operation | None) -> str | None:
        """The parent's text, when Tolk posted it (never someone else's message)."""
        own = f"{run.task.id}:parent" in run.sent and "moved" not in run.task.notes
        return op.parent_text(run.task) if own and op is not None else None

    def _final_text(self, task: Task, op: Operation | None) -> str | None:
        delivered = task.state is State.DELIVERED
        if op is not None and (delivered or (task.error or {}).get("code") == ALL_ITEMS_FAILED):
            summary = task.notes.get("review")
            return f"{op.final_text(task)}\n{summary}" if summary else op.final_text(task)
        if task.state is State.EXPIRED:
            return messages.expired(task.id, (task.deadline - task.created_at) / 60)
        if task.state is State.CANCELLED:
            return messages.cancelled(task.id, task.notes.get("cancelled_by"))
        err = task.error or {}
        return messages.failure(
            task.id, task.provider.capitalize(), str(err.get("code", "?")), err.get("message", "")
        )

    def _on_error(self, run: Run, exc: BaseException) -> None:
        if isinstance(exc, ProviderError) and self.metrics is not None:
            labels = (exc.provider, exc.operation, exc.code, str(exc.kind))
            self.metrics.provider_errors.labels(*labels).inc()
        run.task = after_failure(
            run.task,
            exc,
            self.clock(),
            retry_in=lambda n, after: self.retry.delay(n, self.rand(), retry_after=after),
            poll_in=lambda task: self.poll_delay(task, task.polls),
        )

    async def _finish_safely(self, run: Run) -> None:
        if not run.task.final:
            return
        try:
            await self._finish(run, self._operation(run.task))
        except Exception as exc:
            self._on_error(run, exc)


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


def _not_set_up(task: Task) -> dict[str, str]:
    return {
        "code": "provider-not-set-up",
        "message": messages.provider_not_set_up(task.provider),
        "kind": "permanent",
    }


def _unread(exc: DownloadRefused | DownloadFailed) -> tuple[str, str]:
    """An item's error code and message for an output that could not be downloaded."""
    if isinstance(exc, DownloadRefused):
        return "download-refused", messages.download_refused(str(exc))
    return "download", messages.download_failed(str(exc))
