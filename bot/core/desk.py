"""The task desk: what people ask of Tolk's tasks — record one, cancel it, retry it,
remove its results, list them — as verbs on the store.

Handlers reach the desk through narrow ports (``handlers/ports.py``); the engine does
not use it: it claims and saves tasks in the store, and obeys what the desk recorded.
Each verb is one or two store operations, so what a person asks is either recorded or
not, whoever else asks at the same moment:

- ``record`` creates a task unless its dedupe key exists (a redelivered command, a
  double click) and nudges the poller, so work starts at once.
- ``cancel`` is ``TaskStore.request_cancel`` — an atomic write on the task's own record
  that the engine obeys at the task's next step — then a wake, so that step comes now.
- ``remove_results`` records a ``slack.remove_results`` task (``REMOVE_RESULTS``) which
  the engine runs like any other (``bot/engine/operations/remove.py``): retried after a
  failure, carried on after a restart. Such housekeeping is not a person's task, so the
  lists leave it out.

Channel settings, one-time notices and spent Refine links are kept in the store's
settings (``get_setting``/``put_setting``) behind verbs of their own; spend (month
counters, requests waiting for Go) behind ``spend``, a ``bot.core.spend.SpendBook``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from bot.core import review
from bot.core.channels import ChannelConfig, load_channel, save_channel
from bot.core.glossary import Glossary
from bot.core.languages import LanguageSets
from bot.core.review import Decision
from bot.core.spend import SpendBook
from bot.core.storage import TaskStore
from bot.core.tasks import FINAL, Item, Place, State, Task, new_task_id

#: The operation that removes what Tolk posted for a task (the Delete button).
REMOVE_RESULTS = "slack.remove_results"
#: Work Tolk does for itself, not provider work a person asked for: never listed.
HOUSEKEEPING = frozenset({REMOVE_RESULTS})
#: A task in one of these states may be retried.
RETRYABLE = frozenset({State.FAILED, State.EXPIRED, State.CANCELLED})

NOTICE = "notice"  # setting namespace: notices said once (an upload's route is off)
LINKS_USED = "refine"  # setting namespace: digest of a Refine link's signature → its task
LANGUAGE_SETS = "language-sets"  # setting namespace: a workspace → its language and flag sets
GLOSSARY = "glossary"  # setting namespace: a workspace → its glossary (``bot.core.glossary``)
GLOSSARY_IMPORT = "glossary-import"  # setting namespace: team:channel:user → importing until


class Desk:
    def __init__(
        self,
        store: TaskStore,
        *,
        clock: Callable[[], float],
        task_timeout: float,
        nudge: Callable[[], None] = lambda: None,
        on_created: Callable[[Task], None] | None = None,
    ) -> None:
        """``nudge`` starts the poller at once; ``on_created`` counts a new task (metrics)."""
        self.store = store
        self._clock = clock
        self._task_timeout = task_timeout
        self._nudge = nudge
        self._on_created = on_created
        self.team: str | None = None  # with many workspaces: the one this desk serves
        #: Month counters and requests waiting for Go (``bot.core.spend``); one for all
        #: the workspace views of this desk, so its lock is shared.
        self.spend = SpendBook(store, clock=clock)

    def for_team(self, team: str) -> Desk:
        """This desk as one workspace sees it: another workspace's tasks are not there."""
        scoped = copy.copy(self)
        scoped.team = team
        return scoped

    def _ours(self, task: Task | None) -> bool:
        return task is not None and (self.team is None or task.place.team == self.team)

    def now(self) -> float:
        return self._clock()

    async def get(self, task_id: str) -> Task | None:
        task = await self.store.get(task_id)
        return task if self._ours(task) else None

    # --- tasks ---------------------------------------------------------------------------

    async def record(
        self,
        *,
        dedupe_key: str,
        place: Place,
        provider: str,
        operation: str,
        request: dict[str, Any],
        items: tuple[Item, ...],
    ) -> tuple[Task, bool]:
        """Create the task unless one with ``dedupe_key`` exists (then that one comes
        back, with False); a new one starts at once."""
        now = self._clock()
        task = Task(
            id=new_task_id(),
            dedupe_key=dedupe_key,
            place=place,
            provider=provider,
            operation=operation,
            request=request,
            items=items,
            created_at=now,
            updated_at=now,
            next_poll_at=now,
            deadline=now + self._task_timeout,
        )
        task, created = await self.store.create_if_absent(task)
        if created:
            self._nudge()
            if self._on_created is not None:
                self._on_created(task)
        return task, created

    async def cancel(self, task: Task, by: str) -> bool:
        """Ask for ``task`` to be cancelled, on ``by``'s word. The engine obeys at the
        task's next step, which is made due now (a step running at this moment finishes
        first). False when the task is final already, or settled or gone by now."""
        if task.state in FINAL:
            return False
        now = self._clock()
        if not await self.store.request_cancel(task.id, by, now):
            return False
        await self.store.wake(task.id, now)
        self._nudge()
        return True

    async def retry(self, task: Task, *, dedupe_key: str, by: str) -> tuple[Task, bool]:
        """A new task doing ``task``'s work again, for ``by``, in the same channel (a new
        thread): its items start afresh and its request names the task it retries."""
        return await self.record(
            dedupe_key=dedupe_key,
            place=Place(task.place.team, task.place.channel, by, None, task.place.response_url),
            provider=task.provider,
            operation=task.operation,
            request={**task.request, "retry_of": task.id},
            items=tuple(Item(source=i.source, meta=i.meta) for i in task.items),
        )

    async def remove_results(
        self, task: Task, *, by: str, thread_ts: str | None
    ) -> tuple[Task, bool]:
        """Record the removal of what Tolk posted for ``task``, asked by ``by`` where the
        button was pressed (``thread_ts``). One removal at a time: while one is under
        way, asking again gives it back; once it has settled (say it could not remove
        everything), asking again records the next, keyed on the last one, so two
        clicks at the same moment still make one."""
        key = f"remove:{task.id}"
        while True:
            removal, created = await self.record(
                dedupe_key=key,
                place=Place(task.place.team, task.place.channel, by),
                provider="slack",
                operation=REMOVE_RESULTS,
                request={"task": task.id, "by": by, "thread_ts": thread_ts},
                items=(Item(source=task.id),),
            )
            if created or not removal.settled:
                return removal, created
            key = f"remove:{task.id}:after:{removal.id}"

    async def wake(self, task_id: str) -> bool:
        """A provider says ``task_id``'s work may be done: make it due now. False when
        the task is unknown or settled."""
        if not await self.store.wake(task_id, self._clock()):
            return False
        self._nudge()
        return True

    async def for_channel(self, channel: str) -> list[Task]:
        """The channel's unsettled tasks, oldest first."""
        tasks = await self.store.list_for_channel(channel)
        return [t for t in tasks if t.operation not in HOUSEKEEPING and self._ours(t)]

    async def for_person(self, user: str, *, limit: int) -> list[Task]:
        """Of ``user``'s newest ``limit`` tasks, those that are work they asked for,
        newest first."""
        tasks = await self.store.list_for_user(user, limit=limit)
        return [t for t in tasks if t.operation not in HOUSEKEEPING and self._ours(t)]

    async def decide(self, task: Task, index: int, decision: Decision) -> Decision | None:
        """Record a review decision on ``task``'s result ``index`` and wake the task, so
        its parent's count moves (and its final message comes, when this was the last).
        Returns the earlier decision, when there was one (the first word stands)."""
        earlier = await review.decide(self.store, task.id, index, decision)
        if earlier is None:
            await self.wake(task.id)
        return earlier

    async def awaiting_review(self, team: str) -> list[tuple[Task, list[int]]]:
        """The workspace's tasks whose results wait for a decision, oldest first, each
        with the indexes still undecided."""
        waiting = []
        for task in await self.store.list_unsettled(team):
            if not (review.reviewed(task) and task.state is State.SUCCEEDED and self._ours(task)):
                continue
            indexes = review.reviewable(task)
            decided = await review.decisions(self.store, task.id, indexes)
            if open_ := [i for i in indexes if i not in decided]:
                waiting.append((task, open_))
        return waiting

    # --- settings ------------------------------------------------------------------------

    async def channel_config(self, channel: str) -> ChannelConfig:
        return await load_channel(self.store, channel)

    async def save_channel_config(self, channel: str, config: ChannelConfig) -> None:
        await save_channel(self.store, channel, config)

    async def first_notice(self, key: str) -> bool:
        """True the first time ``key`` is asked about (a notice said once per upload)."""
        if await self.store.get_setting(NOTICE, key):
            return False
        await self.store.put_setting(NOTICE, key, True)
        return True

    async def link_used(self, key: str) -> bool:
        """A Refine link (by the digest of its signature) has handed over its result."""
        return bool(await self.store.get_setting(LINKS_USED, key))

    async def use_link(self, key: str, task_id: str) -> None:
        """Note that the Refine link ``key`` handed over its result, to ``task_id``."""
        await self.store.put_setting(LINKS_USED, key, task_id)

    async def language_sets(self, team: str) -> LanguageSets:
        """Workspace ``team``'s language sets and flag sets (``/tolk config set …``); a
        desk that serves one workspace reads that one's, whatever ``team`` says."""
        stored = await self.store.get_setting(LANGUAGE_SETS, self._workspace(team))
        return LanguageSets.from_json(stored)

    async def save_language_sets(self, team: str, sets: LanguageSets) -> None:
        await self.store.put_setting(LANGUAGE_SETS, self._workspace(team), sets.to_json())

    async def glossary(self, team: str) -> Glossary:
        """Workspace ``team``'s glossary (``/tolk glossary …``), as ``language_sets``."""
        return Glossary.from_json(await self.store.get_setting(GLOSSARY, self._workspace(team)))

    async def save_glossary(self, team: str, glossary: Glossary) -> None:
        await self.store.put_setting(GLOSSARY, self._workspace(team), glossary.to_json())

    async def expect_glossary_import(
        self, team: str, channel: str, user: str, until: float
    ) -> None:
        """``user``'s next CSV upload in ``channel`` is a glossary import, until ``until``."""
        await self.store.put_setting(GLOSSARY_IMPORT, self._importing(team, channel, user), until)

    async def glossary_import_expected(self, team: str, channel: str, user: str) -> bool:
        """``expect_glossary_import`` holds now (an expired one is forgotten)."""
        key = self._importing(team, channel, user)
        until = await self.store.get_setting(GLOSSARY_IMPORT, key)
        if until is None:
            return False
        if isinstance(until, int | float) and until > self._clock():
            return True
        await self.store.delete_setting(GLOSSARY_IMPORT, key)
        return False

    async def take_glossary_import(self, team: str, channel: str, user: str) -> bool:
        """Take the expected import (once: of two uploads at the same moment, one)."""
        until = await self.store.take_setting(GLOSSARY_IMPORT, self._importing(team, channel, user))
        return isinstance(until, int | float) and until > self._clock()

    def _importing(self, team: str, channel: str, user: str) -> str:
        return f"{self._workspace(team)}:{channel}:{user}"

    def _workspace(self, team: str) -> str:
        return self.team if self.team is not None else team
