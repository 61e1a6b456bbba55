"""The PostgreSQL task store, on asyncpg: several replicas share the work.

Schema (created and migrated by the bot: ``MIGRATIONS`` below, applied at open in one
transaction under an advisory lock, so replicas starting together migrate once)::

    schema_migrations(version int PRIMARY KEY, name text, applied_at timestamptz)
    tasks(id text PRIMARY KEY, dedupe_key text UNIQUE, channel text, user_id text,
          settled bool, next_poll_at float8, lease_until float8, lease_owner bigint,
          wake_at float8, created_at float8, body jsonb,
          cancel_by text, cancel_at float8)
    settings(namespace text, key text, value jsonb, updated_at timestamptz,
             PRIMARY KEY (namespace, key))

``body`` is ``Task.to_json()``; the columns are what the store queries. The columns
``next_poll_at`` and ``lease_until`` are the truth (a claim or a wake changes them
without rewriting the body), and every task read gets them from there.

Leases. ``claim_due`` leases tasks in one statement (``FOR UPDATE SKIP LOCKED``) and
records the replica as ``lease_owner``. A lease holds until ``lease_until`` *and* while its
owner is alive: each store holds a session advisory lock on its owner id on a connection
of its own, so when a replica dies (or closes its store) its connection goes and its
leases are free at once, as SQLite's leases die with their process; a replica that hangs
loses them when they expire. Either way another replica claims the task.

Saves are fenced by the lease, so a replica that lost its lease cannot clobber the new
owner's work (``save`` below); a save that is not applied is logged and counted in
``skipped_saves``, never raised.

Wakes (``wake``): a task not leased is made due at once; a leased one keeps the wake in
``wake_at`` and it applies when the holder's save releases the lease (or when another
replica claims the task after the holder died).

Cancellation (``request_cancel``): one ``UPDATE`` of the task's own ``cancel_by`` and
``cancel_at``, which no save overwrites (a save names the columns it writes); the first
request stands, and the columns are cleared when the task settles.

Needs a real session per connection (a direct connection or session pooling, not
transaction pooling), for the advisory locks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import zlib
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from bot.core.storage import WAITING
from bot.core.tasks import Task, new_task_id

log = logging.getLogger(__name__)

# Advisory lock keys (the two-int4 form): (_LOCK_BASE + n, x). "Tolk" in ASCII.
_LOCK_BASE = 0x546F6C6B
_MIGRATION_LOCK = (_LOCK_BASE, 0)
_OWNER_CLASS = _LOCK_BASE + 1  # (class, owner id): held while a replica's store is open
_EXCLUSIVE_CLASS = _LOCK_BASE + 2  # (class, crc32(name)): exclusive() jobs

# Ordered, append-only: a released migration is never edited, a change is a new version.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "tasks and settings",
        """
        CREATE TABLE tasks (
            id           text PRIMARY KEY,
            dedupe_key   text NOT NULL UNIQUE,
            channel      text NOT NULL,
            user_id      text NOT NULL,
            settled      boolean NOT NULL DEFAULT false,
            next_poll_at double precision NOT NULL,
            lease_until  double precision NOT NULL DEFAULT 0,
            lease_owner  bigint,
            wake_at      double precision,
            created_at   double precision NOT NULL,
            body         jsonb NOT NULL
        ) WITH (fillfactor = 80);  -- room for HOT updates: a claim changes no indexed column
        CREATE INDEX tasks_due ON tasks (next_poll_at) WHERE NOT settled;
        CREATE INDEX tasks_woken ON tasks (wake_at) WHERE wake_at IS NOT NULL AND NOT settled;
        CREATE INDEX tasks_channel ON tasks (channel, created_at);
        CREATE INDEX tasks_user ON tasks (user_id, created_at DESC);
        CREATE TABLE settings (
            namespace  text NOT NULL,
            key        text NOT NULL,
            value      jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (namespace, key)
        );
        """,
    ),
    (
        2,
        "cancellation on the task",
        """
        ALTER TABLE tasks ADD COLUMN cancel_by text, ADD COLUMN cancel_at double precision;
        -- requests made before were settings ('cancel', task id) → user: onto their tasks
        UPDATE tasks t SET cancel_by = s.value #>> '{}',
                           cancel_at = extract(epoch FROM s.updated_at)
        FROM settings s
        WHERE s.namespace = 'cancel' AND s.key = t.id AND NOT t.settled
          AND jsonb_typeof(s.value) = 'string';
        DELETE FROM settings WHERE namespace = 'cancel';
        """,
    ),
]

# Owners whose store is open: their session holds the (_OWNER_CLASS, owner) lock.
_LIVE_OWNERS = f"""
    SELECT objid::bigint FROM pg_locks
    WHERE locktype = 'advisory' AND classid = {_OWNER_CLASS}::oid AND objsubid = 2
      AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""

_COLUMNS = "t.body, t.next_poll_at, t.lease_until"

_DUE = f"""
    NOT settled
      AND (next_poll_at <= $1 OR wake_at <= $1)
      AND (lease_until <= $1
           OR (lease_owner IS NOT NULL AND lease_owner NOT IN ({_LIVE_OWNERS})))
"""
_ORDER = "ORDER BY LEAST(next_poll_at, wake_at), created_at, id"
_LEASE = f"""
UPDATE tasks t
SET lease_until = $1 + $3, lease_owner = $4,
    next_poll_at = LEAST(t.next_poll_at, t.wake_at), wake_at = NULL
FROM due WHERE t.id = due.id
RETURNING t.id, t.created_at, {_COLUMNS}
"""

_CLAIM = f"""
WITH due AS (
    SELECT id FROM tasks WHERE {_DUE} {_ORDER} LIMIT $2 FOR UPDATE SKIP LOCKED
)
{_LEASE}"""

# The same, with at most $5 tasks that are not waiting on a provider ($6: the waiting states)
_CLAIM_STEPS = f"""
WITH waiting AS (
    SELECT id, next_poll_at, wake_at, created_at FROM tasks
    WHERE {_DUE} AND body->>'state' = ANY($6::text[])
    {_ORDER} LIMIT $2 FOR UPDATE SKIP LOCKED
), steps AS (
    SELECT id, next_poll_at, wake_at, created_at FROM tasks
    WHERE {_DUE} AND NOT body->>'state' = ANY($6::text[])
    {_ORDER} LIMIT LEAST($2, $5) FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id FROM (SELECT * FROM waiting UNION ALL SELECT * FROM steps) d {_ORDER} LIMIT $2
)
{_LEASE}"""

# A lease counts while its time runs and its owner is alive (no owner: time alone).
_NEXT_DUE = f"""
WITH live AS ({_LIVE_OWNERS})
SELECT min(GREATEST(
    LEAST(next_poll_at, wake_at),
    CASE WHEN lease_owner IS NULL OR lease_owner IN (SELECT * FROM live)
         THEN lease_until ELSE 0 END))
FROM tasks WHERE NOT settled
"""

# Leased for a wake: not released, and the holder is alive (or no owner and time runs).
_WAKE = f"""
WITH live AS ({_LIVE_OWNERS}),
cur AS (
    SELECT id, lease_until > 0 AND (
        CASE WHEN lease_owner IS NULL THEN lease_until > $2
             ELSE lease_owner IN (SELECT * FROM live) END) AS leased
    FROM tasks WHERE id = $1 AND NOT settled
    FOR UPDATE
)
UPDATE tasks t
SET next_poll_at = CASE WHEN cur.leased THEN t.next_poll_at ELSE LEAST(t.next_poll_at, $2) END,
    wake_at = CASE WHEN cur.leased THEN LEAST(t.wake_at, $2) ELSE NULL END
FROM cur WHERE t.id = cur.id
RETURNING t.id
"""

# The first request stands: both columns are set together, only while cancel_by is empty.
_REQUEST_CANCEL = """
UPDATE tasks SET cancel_by = COALESCE(cancel_by, $2),
                 cancel_at = CASE WHEN cancel_by IS NULL THEN $3 ELSE cancel_at END
WHERE id = $1 AND NOT settled
RETURNING id
"""

# Save modes (see PostgresTaskStore.save)
_HOLDER, _OTHER = 1, 2

_SAVE = """
WITH i AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::float8[],
        $7::float8[], $8::float8[], $9::text[], $10::int[], $11::float8[], $12::bigint[]
    ) AS i(id, dedupe_key, channel, user_id, settled, next_poll_at,
           lease_until, created_at, body, mode, held, owner)
),
upd AS (
    UPDATE tasks t SET
        dedupe_key = i.dedupe_key,
        channel = i.channel,
        user_id = i.user_id,
        settled = i.settled,
        created_at = i.created_at,
        body = i.body::jsonb,
        lease_until = CASE WHEN i.mode = 1 THEN i.lease_until ELSE t.lease_until END,
        lease_owner = CASE WHEN i.mode <> 1 THEN t.lease_owner
                           WHEN i.lease_until > 0 THEN i.owner END,
        next_poll_at = CASE
            WHEN NOT i.settled AND (CASE WHEN i.mode = 1 THEN i.lease_until
                                         ELSE t.lease_until END) = 0
            THEN LEAST(i.next_poll_at, t.wake_at)
            ELSE i.next_poll_at END,
        wake_at = CASE
            WHEN i.settled OR (CASE WHEN i.mode = 1 THEN i.lease_until
                                    ELSE t.lease_until END) = 0
            THEN NULL ELSE t.wake_at END,
        cancel_by = CASE WHEN i.settled THEN NULL ELSE t.cancel_by END,
        cancel_at = CASE WHEN i.settled THEN NULL ELSE t.cancel_at END
    FROM i
    WHERE t.id = i.id AND (i.settled OR NOT t.settled) AND CASE
        WHEN i.mode = 1 THEN t.lease_until = i.held AND t.lease_owner = i.owner
        ELSE t.lease_until = i.lease_until OR t.lease_until = 0 END
    RETURNING t.id
),
ins AS (
    INSERT INTO tasks (id, dedupe_key, channel, user_id, settled, next_poll_at,
                       lease_until, created_at, body)
    SELECT i.id, i.dedupe_key, i.channel, i.user_id, i.settled, i.next_poll_at,
           i.lease_until, i.created_at, i.body::jsonb
    FROM i WHERE i.mode <> 1 AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = i.id)
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT id FROM upd UNION ALL SELECT id FROM ins
"""

_INSERT = """
INSERT INTO tasks (id, dedupe_key, channel, user_id, settled, next_poll_at,
                   lease_until, created_at, body)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""


def _task(row: asyncpg.Record) -> Task:
    """A task from its body, with the columns that are the truth about timing."""
    body = row["body"]
    body["next_poll_at"], body["lease_until"] = row["next_poll_at"], row["lease_until"]
    return Task.from_json(body)


def encode(task: Task) -> str:
    return json.dumps(task.to_json())


def _int4(n: int) -> int:
    return n - (1 << 32) if n >= 1 << 31 else n


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
    )


async def migrate(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied.

    One transaction under an advisory lock: a replica that starts while another migrates
    waits, then finds nothing left to do."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *_MIGRATION_LOCK)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
            )
            applied.append(version)
        newer = sorted(done - {v for v, _, _ in MIGRATIONS})
        if newer:
            log.warning("database has schema versions %s this release does not know", newer)
    if applied:
        log.info("database migrated to schema version %d", MIGRATIONS[-1][0])
    return applied


class PostgresTaskStore:
    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        self._url = url
        self._pool = pool
        self._session: asyncpg.Connection | None = None  # holds the owner and job locks
        self._session_lock = asyncio.Lock()
        self.owner = 0  # this store's owner id: leases it claims carry it
        self._held: dict[str, tuple[float, int]] = {}  # task id → (lease, owner) we claimed
        self._exclusive: set[str] = set()  # exclusive() names held by this store
        self.skipped_saves = 0  # saves not applied because the lease was lost
        self._closed = False

    @classmethod
    async def open(cls, url: str, *, min_size: int = 1, max_size: int = 10) -> PostgresTaskStore:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection
        )
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            store = cls(url, pool)
            await store._connect_session()
        except BaseException:
            await pool.close()
            raise
        return store

    async def _connect_session(self) -> None:
        """A connection of our own whose session lock says this store is alive."""
        session = await asyncpg.connect(self._url)
        try:
            while True:
                owner = random.randint(1, 2**31 - 1)
                if await session.fetchval(
                    "SELECT pg_try_advisory_lock($1, $2)", _OWNER_CLASS, owner
                ):
                    break
        except BaseException:
            await session.close()
            raise
        self._session, self.owner = session, owner

    async def _alive(self) -> None:
        """Reconnect the session if it was lost (its leases are then up for grabs: a new
        owner id, and saves under the old leases are fenced like any stale replica's)."""
        if self._closed:
            raise RuntimeError("the task store is closed")
        if self._session is None or self._session.is_closed():
            async with self._session_lock:
                if self._session is None or self._session.is_closed():
                    log.warning("store session lost; reconnecting under a new owner id")
                    await self._connect_session()

    # --- tasks --------------------------------------------------------------------------

    async def create_if_absent(self, task: Task) -> tuple[Task, bool]:
        while True:
            try:
                inserted = await self._pool.fetchval(_INSERT, *self._row(task))
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != "tasks_pkey":
                    raise
                task = task.but(id=new_task_id())  # the id is taken by another task
                continue
            if inserted is not None:
                return task, True
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM tasks t WHERE dedupe_key = $1", task.dedupe_key
            )
            if row is not None:
                return _task(row), False

    @staticmethod
    def _row(task: Task) -> tuple[Any, ...]:
        return (
            task.id,
            task.dedupe_key,
            task.place.channel,
            task.place.user,
            task.settled,
            task.next_poll_at,
            task.lease_until,
            task.created_at,
            encode(task),
        )

    async def get(self, task_id: str) -> Task | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM tasks t WHERE id = $1", task_id)
        return _task(row) if row else None

    async def save(self, *tasks: Task) -> None:
        """Persist ``tasks`` in one statement (one transaction), fenced by leases.

        - A task this store claimed, saved with that lease or with ``lease_until=0``
          (released): applied only while the row still carries *our* lease (same
          ``lease_until`` and owner). If the lease expired and another replica claimed
          the task, the save is skipped, even after the new owner released it: this
          replica's copy is stale.
        - Any other task (created here, or read with ``get``): applied when the row is
          not leased or still carries the lease the caller saw; the row's lease is kept
          as it is (only a claim takes a lease, only its holder releases it).
        - A task not in the table is inserted.
        - A settled task is never made unsettled again: a step that was under way when
          its task was ended elsewhere (Tolk removed from the workspace) is stale.

        A release applies a wake that came during the lease. Skipped saves are logged
        and counted in ``skipped_saves``; the caller is not told (its step is stale and
        the new owner's step does the work)."""
        if not tasks:
            return
        latest = {task.id: task for task in tasks}  # several copies of one task: the last
        cols: list[list[Any]] = [[] for _ in range(12)]
        ours: dict[str, tuple[float, int]] = {}  # the leases these saves are made under
        for task in latest.values():
            held = self._held.get(task.id)
            if held is not None and task.lease_until in (0.0, held[0]):
                ours[task.id] = held
            mine = ours.get(task.id)
            values = (
                *self._row(task),
                _HOLDER if mine is not None else _OTHER,
                mine[0] if mine is not None else None,
                mine[1] if mine is not None else None,
            )
            for col, value in zip(cols, values, strict=True):
                col.append(value)
        for attempt in range(5):
            try:
                saved = {r["id"] for r in await self._pool.fetch(_SAVE, *cols)}
                break
            except asyncpg.DeadlockDetectedError:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        for task in latest.values():
            held = ours.get(task.id)
            if held is not None and task.lease_until == 0.0 and self._held.get(task.id) == held:
                del self._held[task.id]  # released (or lost): no longer ours
            if task.id not in saved:
                self.skipped_saves += 1
                if held is not None:
                    log.warning(
                        "task %s: save skipped: its lease (until %s) was taken by another "
                        "claim after it expired; this copy is stale",
                        task.id,
                        held[0],
                    )
                else:
                    log.warning("task %s: save skipped: a running step holds its lease", task.id)

    async def reschedule(self, *tasks: Task) -> None:
        """A full save: the next replica to claim a task reads its poll count (its
        back-off) from the row."""
        await self.save(*tasks)

    async def claim_due(
        self, now: float, *, limit: int, lease_seconds: float, step_limit: int | None = None
    ) -> list[Task]:
        await self._alive()
        if step_limit is None:
            rows = await self._pool.fetch(_CLAIM, now, limit, lease_seconds, self.owner)
        else:
            rows = await self._pool.fetch(
                _CLAIM_STEPS,
                now,
                limit,
                lease_seconds,
                self.owner,
                max(0, step_limit),
                sorted(WAITING),
            )
        rows = sorted(rows, key=lambda r: (r["next_poll_at"], r["created_at"], r["id"]))
        claimed = [_task(row) for row in rows]
        for task in claimed:
            self._held[task.id] = (task.lease_until, self.owner)
        return claimed

    async def wake(self, task_id: str, now: float) -> bool:
        return await self._pool.fetchval(_WAKE, task_id, now) is not None

    async def request_cancel(self, task_id: str, by: str, at: float) -> bool:
        return await self._pool.fetchval(_REQUEST_CANCEL, task_id, by, at) is not None

    async def cancel_requests(self, task_ids: Collection[str]) -> dict[str, str]:
        if not task_ids:
            return {}
        rows = await self._pool.fetch(
            """SELECT id, cancel_by FROM tasks
               WHERE id = ANY($1::text[]) AND cancel_by IS NOT NULL AND NOT settled""",
            list(task_ids),
        )
        return {r["id"]: r["cancel_by"] for r in rows}

    async def next_due_at(self) -> float | None:
        due = await self._pool.fetchval(_NEXT_DUE)
        return None if due is None else float(due)

    async def count_unsettled(self) -> dict[str, int]:
        rows = await self._pool.fetch(
            "SELECT body->>'state' AS state, count(*) AS n FROM tasks WHERE NOT settled GROUP BY 1"
        )
        return {r["state"]: r["n"] for r in rows}

    async def list_for_channel(self, channel: str, *, active_only: bool = True) -> list[Task]:
        rows = await self._pool.fetch(
            f"""SELECT {_COLUMNS} FROM tasks t WHERE channel = $1 AND (NOT settled OR NOT $2)
                ORDER BY created_at, id""",
            channel,
            active_only,
        )
        return [_task(r) for r in rows]

    async def list_for_user(self, user: str, *, limit: int = 20) -> list[Task]:
        rows = await self._pool.fetch(
            f"""SELECT {_COLUMNS} FROM tasks t WHERE user_id = $1
                ORDER BY created_at DESC, id DESC LIMIT $2""",
            user,
            limit,
        )
        return [_task(r) for r in rows]

    async def list_unsettled(self, team: str) -> list[Task]:
        # No index on the team: the unsettled tasks are few (tasks_due covers them).
        rows = await self._pool.fetch(
            f"""SELECT {_COLUMNS} FROM tasks t
                WHERE NOT settled AND body->'place'->>'team' = $1
                ORDER BY created_at, id""",
            team,
        )
        return [_task(r) for r in rows]

    # --- settings -----------------------------------------------------------------------

    async def get_setting(self, namespace: str, key: str) -> Any | None:
        return await self._pool.fetchval(
            "SELECT value FROM settings WHERE namespace = $1 AND key = $2", namespace, key
        )

    async def put_setting(self, namespace: str, key: str, value: Any) -> None:
        await self._pool.execute(
            """INSERT INTO settings (namespace, key, value) VALUES ($1, $2, $3)
               ON CONFLICT (namespace, key)
               DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
            namespace,
            key,
            value,
        )

    async def take_setting(self, namespace: str, key: str) -> Any | None:
        return await self._pool.fetchval(
            "DELETE FROM settings WHERE namespace = $1 AND key = $2 RETURNING value",
            namespace,
            key,
        )

    async def delete_setting(self, namespace: str, key: str) -> None:
        await self._pool.execute(
            "DELETE FROM settings WHERE namespace = $1 AND key = $2", namespace, key
        )

    async def list_settings(self, namespace: str) -> dict[str, Any]:
        rows = await self._pool.fetch(
            "SELECT key, value FROM settings WHERE namespace = $1", namespace
        )
        return {r["key"]: r["value"] for r in rows}

    # --- periodic work, once across replicas --------------------------------------------

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """Yield True to exactly one replica at a time for ``name`` (others get False
        and skip): a session advisory lock on this store's own connection."""
        if name in self._exclusive:  # session locks nest: guard our own concurrent use
            yield False
            return
        await self._alive()
        key = (_EXCLUSIVE_CLASS, _int4(zlib.crc32(name.encode())))
        self._exclusive.add(name)
        try:
            session = self._session
            assert session is not None
            async with self._session_lock:
                got = await session.fetchval("SELECT pg_try_advisory_lock($1, $2)", *key)
            try:
                yield bool(got)
            finally:
                if got and not session.is_closed():
                    async with self._session_lock:
                        await session.execute("SELECT pg_advisory_unlock($1, $2)", *key)
        finally:
            self._exclusive.discard(name)

    async def close(self) -> None:
        self._closed = True
        try:
            try:  # a connection still in use after this long is given up on
                await asyncio.wait_for(self._pool.close(), timeout=10)
            except TimeoutError:
                self._pool.terminate()
        finally:
            session, self._session = self._session, None
            if session is not None and not session.is_closed():
                try:  # free our leases now rather than when the server notices the close
                    async with self._session_lock:
                        await session.execute("SELECT pg_advisory_unlock_all()")
                finally:
                    await session.close()


def _check_sequence(migrations: Sequence[tuple[int, str, str]]) -> None:
    versions = [v for v, _, _ in migrations]
    if versions != sorted(set(versions)):
        raise RuntimeError(f"migrations out of order or repeated: {versions}")


_check_sequence(MIGRATIONS)
