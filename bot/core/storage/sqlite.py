"""The SQLite task store, on sqlitedict with JSON encoding (never pickle).

Layout: tasks, their dedupe keys and requests to cancel them share one table
(``task:<id>``, ``key:<dedupe>``, ``cancel:<id>``), so creating a task is one commit and
a cancellation goes with its task's settling in one commit; settings live in a second
file, because sqlitedict serialises all tables of one file through one connection and a
commit on one table would wait on (and then lose) another table's open write. A group
commit commits both files, one after the other.

The process keeps every unsettled task in memory: SQLite serves one process, so the
memory copy is the working set and the file is the truth after a restart. The settings
are held in memory too, all of them (as JSON text, so a caller's change never reaches
the copy): a command reads a dozen, and a read from the file is a trip to a thread.
Settings and tasks are committed together, in the same group commit. Leases are
memory-only for the same reason: a lease dies with the process that held it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlitedict import SqliteDict

from bot.core.storage import WAITING
from bot.core.tasks import Task, new_task_id

RECENTLY_ENDED = 10_000  # settled tasks whose stale steps' saves are refused (leases: 300 s)
log = logging.getLogger(__name__)

_CANCEL = "cancel:"  # key prefix of a request to cancel a task (here and, once, in settings)


def _open(path: Path, table: str) -> SqliteDict:
    return SqliteDict(
        str(path),
        tablename=table,
        autocommit=False,
        encode=json.dumps,
        decode=json.loads,
        outer_stack=False,
        journal_mode="WAL",  # a reader (a backup, a sqlite3 shell) never blocks a commit
    )


class SqliteTaskStore:
    def __init__(self, tasks: SqliteDict, settings: SqliteDict) -> None:
        self._db = tasks
        self._settings_db = settings
        self._commit_lock = asyncio.Lock()
        self._written = 0  # generation of the last write queued to sqlitedict
        self._committed = 0  # generation the last finished commit covered
        self._settings_written = False  # a settings write is queued for the next commit
        self._active: dict[str, Task] = {}
        self._keys: dict[str, str] = {}
        self._wakes: dict[str, float] = {}  # wakes that arrived during a lease
        self._creating: dict[str, Task] = {}  # written, commit in flight
        self._cancels: dict[str, str] = {}  # unsettled task id → who asked to cancel it
        # every setting, as JSON text: this process is the file's only writer
        self._known: dict[str, str] = {}
        self._ids: set[str] = set()  # every task's id, settled too: a new id is checked here
        self._ended: dict[str, None] = {}  # tasks settled lately, oldest first: never unsettled

    @classmethod
    async def open(cls, path: str | Path) -> SqliteTaskStore:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        settings_path = path.with_name(path.stem + ".settings" + (path.suffix or ".sqlite"))
        store = cls(
            await asyncio.to_thread(_open, path, "tasks"),
            await asyncio.to_thread(_open, settings_path, "settings"),
        )
        await asyncio.to_thread(store._load)
        return store

    def _load(self) -> None:
        cancels: dict[str, str] = {}
        for key, value in self._db.items():
            if key.startswith("task:"):
                self._ids.add(key[5:])
            if key.startswith("key:"):
                self._keys[key[4:]] = value
            elif key.startswith(_CANCEL):
                cancels[key.removeprefix(_CANCEL)] = value["by"]
            elif not value.get("settled"):
                task = Task.from_json(value).but(lease_until=0.0)
                self._active[task.id] = task
        self._cancels = {i: by for i, by in cancels.items() if i in self._active}
        self._adopt_old_cancels()
        self._known = {name: json.dumps(value) for name, value in self._settings_db.items()}

    def _adopt_old_cancels(self) -> None:
        """Requests to cancel made before they were records of their own, as settings
        (``cancel:<task id>`` → user, and an index ``cancel:_recent``): onto their tasks."""
        old = [key for key in self._settings_db if key.startswith(_CANCEL)]
        if not old:
            return
        for key in old:
            task_id, by = key.removeprefix(_CANCEL), self._settings_db[key]
            if task_id in self._active and task_id not in self._cancels and isinstance(by, str):
                self._cancels[task_id] = by
                self._db[key] = {"by": by, "at": None}
            del self._settings_db[key]
        self._db.commit()
        self._settings_db.commit()

    async def _commit(self) -> None:
        """Group commit: wait until a commit covers every write queued so far.

        Writes go into sqlitedict's queue synchronously (no await between a check and
        its write, so they are atomic on the event loop); whoever takes the lock first
        commits for everyone queued behind it, so N concurrent writers pay ~1 fsync."""
        self._written += 1
        mine = self._written
        async with self._commit_lock:
            if self._committed >= mine:
                return
            covered = self._written
            settings, self._settings_written = self._settings_written, False
            await asyncio.to_thread(self._commit_both, settings)
            self._committed = covered

    def _commit_both(self, settings: bool) -> None:
        self._db.commit()
        if settings:
            self._settings_db.commit()

    async def create_if_absent(self, task: Task) -> tuple[Task, bool]:
        existing_id = self._keys.get(task.dedupe_key)
        if existing_id is not None:
            existing = (
                self._active.get(existing_id)
                or self._creating.get(existing_id)
                or await self._read(existing_id)
            )
            if existing is not None:
                return existing, False
        while task.id in self._ids:
            task = task.but(id=new_task_id())
        if task.dedupe_key in self._keys:  # a concurrent create won while we awaited
            return await self.create_if_absent(task)
        self._db["task:" + task.id] = task.to_json()
        self._db["key:" + task.dedupe_key] = task.id
        self._ids.add(task.id)
        self._keys[task.dedupe_key] = task.id  # reserved now: a concurrent create waits on it
        self._creating[task.id] = task
        try:
            await self._commit()
        except Exception:  # not durable: the caller says so, and no work may start
            self._keys.pop(task.dedupe_key, None)
            raise
        finally:
            self._creating.pop(task.id, None)
        self._active[task.id] = task  # only now can the poller claim it
        return task, True

    async def get(self, task_id: str) -> Task | None:
        return self._active.get(task_id) or await self._read(task_id)

    async def _read(self, task_id: str) -> Task | None:
        data = await asyncio.to_thread(self._db.get, "task:" + task_id)
        return Task.from_json(data) if data else None

    async def save(self, *tasks: Task) -> None:
        if not tasks:
            return
        for task in tasks:
            if not task.settled and task.id in self._ended:  # ended meanwhile: a stale step
                log.info("task %s: settled meanwhile; a stale save is skipped", task.id)
                continue
            woken = self._wakes.pop(task.id, None) if not task.lease_until else None
            if woken is not None and not task.settled:
                task = task.but(next_poll_at=min(task.next_poll_at, woken))
            self._db["task:" + task.id] = task.to_json()
            self._ids.add(task.id)
            if task.settled:
                self._active.pop(task.id, None)
                self._ended[task.id] = None
                if len(self._ended) > RECENTLY_ENDED:
                    del self._ended[next(iter(self._ended))]
                if self._cancels.pop(task.id, None) is not None:
                    del self._db[_CANCEL + task.id]  # the request goes with its task
            else:
                self._active[task.id] = task
        await self._commit()

    async def reschedule(self, *tasks: Task) -> None:
        """In memory only: rewriting the JSON of every quiet task each round was most of
        a poll round's cost, and the file's older copy is only ever due sooner."""
        for task in tasks:
            if task.id in self._ended or task.id not in self._active:
                continue  # settled meanwhile: this copy is stale
            woken = self._wakes.pop(task.id, None) if not task.lease_until else None
            if woken is not None:
                task = task.but(next_poll_at=min(task.next_poll_at, woken))
            self._active[task.id] = task

    async def claim_due(
        self, now: float, *, limit: int, lease_seconds: float, step_limit: int | None = None
    ) -> list[Task]:
        due = [t for t in self._active.values() if t.next_poll_at <= now and t.lease_until <= now]
        due.sort(key=lambda t: t.next_poll_at)
        if step_limit is not None:
            steps = [t.id for t in due if t.state not in WAITING][: max(0, step_limit)]
            keep = set(steps)
            due = [t for t in due if t.state in WAITING or t.id in keep]
        claimed = [t.but(lease_until=now + lease_seconds) for t in due[:limit]]
        for task in claimed:
            self._active[task.id] = task
        return claimed

    async def wake(self, task_id: str, now: float) -> bool:
        task = self._active.get(task_id)
        if task is None:
            return False
        if task.lease_until > now:
            self._wakes[task_id] = now
        elif task.next_poll_at > now:
            self._active[task_id] = task.but(next_poll_at=now)  # memory is the working set
        return True

    async def request_cancel(self, task_id: str, by: str, at: float) -> bool:
        if task_id not in self._active:
            return False
        if task_id in self._cancels:  # the first request stands
            return True
        self._cancels[task_id] = by  # no await since the check: atomic on the event loop
        self._db[_CANCEL + task_id] = {"by": by, "at": at}
        try:
            await self._commit()
        except Exception:  # not durable: the caller says so
            self._cancels.pop(task_id, None)
            raise
        return True

    async def cancel_requests(self, task_ids: Collection[str]) -> dict[str, str]:
        return {i: self._cancels[i] for i in task_ids if i in self._cancels}

    async def count_unsettled(self) -> dict[str, int]:
        return dict(Counter(str(t.state) for t in self._active.values()))

    async def next_due_at(self) -> float | None:
        times = [max(t.next_poll_at, t.lease_until) for t in self._active.values()]
        return min(times, default=None)

    async def list_for_channel(self, channel: str, *, active_only: bool = True) -> list[Task]:
        tasks = [t for t in self._active.values() if t.place.channel == channel]
        if not active_only:
            tasks += [t for t in await self._history() if t.place.channel == channel]
        return sorted(tasks, key=lambda t: t.created_at)

    async def list_for_user(self, user: str, *, limit: int = 20) -> list[Task]:
        tasks = [t for t in self._active.values() if t.place.user == user]
        tasks += [t for t in await self._history() if t.place.user == user]
        return sorted(tasks, key=lambda t: t.created_at, reverse=True)[:limit]

    async def _history(self) -> list[Task]:
        """Settled tasks, read from the file (rare: App Home, retries)."""

        def read() -> list[Task]:
            return [
                Task.from_json(v)
                for k, v in self._db.items()
                if k.startswith("task:") and v.get("settled")
            ]

        return await asyncio.to_thread(read)

    async def get_setting(self, namespace: str, key: str) -> Any | None:
        text = self._known.get(f"{namespace}:{key}")
        return None if text is None else json.loads(text)  # a copy the caller may change

    async def put_setting(self, namespace: str, key: str, value: Any) -> None:
        name = f"{namespace}:{key}"
        self._settings_db[name] = value  # queued, then committed with everyone's writes
        self._settings_written = True
        self._known[name] = json.dumps(value)
        await self._commit()

    async def take_setting(self, namespace: str, key: str) -> Any | None:
        name = f"{namespace}:{key}"
        text = self._known.pop(name, None)  # no await since the read: one taker only
        if text is None:
            return None
        del self._settings_db[name]
        self._settings_written = True
        await self._commit()
        return json.loads(text)

    async def delete_setting(self, namespace: str, key: str) -> None:
        name = f"{namespace}:{key}"
        if self._known.pop(name, None) is not None:
            del self._settings_db[name]
            self._settings_written = True
            await self._commit()

    async def list_settings(self, namespace: str) -> dict[str, Any]:
        prefix = namespace + ":"
        return {
            name.removeprefix(prefix): json.loads(text)
            for name, text in self._known.items()
            if name.startswith(prefix)
        }

    async def list_unsettled(self, team: str) -> list[Task]:
        tasks = [t for t in self._active.values() if t.place.team == team]
        return sorted(tasks, key=lambda t: (t.created_at, t.id))

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """One process serves this store, so it is always the one to run ``name``."""
        yield True

    async def close(self) -> None:
        await asyncio.to_thread(self._db.close)
        await asyncio.to_thread(self._settings_db.close)
