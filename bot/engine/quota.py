"""Watching the Xiangji quota: remaining counts, low-count alerts, and who spent what.

After provider work (the work engine's ``on_settled`` hook) and on a schedule, the
watcher reads Xiangji's amount-query for every configured service. When a service's
remaining count falls below the threshold — the channel's ``quota_threshold`` when set,
else ``TOLK_QUOTA_THRESHOLD`` — it posts one alert in the thread of the work that
crossed it, and one in ``TOLK_QUOTA_ALERT_CHANNEL`` when that is set. It alerts again
only after the count has risen above the threshold and fallen again.

Everything it must remember lives in the store (settings namespace ``"quota"``), so a
restart neither forgets a crossing nor repeats an alert:

- ``reading``: the last successful count of each service and when it was read;
- ``state:<type>:<scope>``: per service and threshold scope (``default`` or
  ``channel:<id>``) whether the current crossing was alerted, how many crossings there
  were, and the post intents of an alert in flight (its marker makes a retried post
  find the first one in Slack instead of posting twice);
- ``error:<task id>``: the quota-error alert of one task;
- ``usage`` and ``counted:<task id>``: units spent per channel and per user, each task
  counted once. Text through Google, Papago or DeepL costs Xiangji 3–4.5× its characters
  (Xiangji spec, 'Text translation'): such spend is kept as a ``[low, high]`` range,
  exact spend as a number.

Every configured key is its own service (``wire.QUOTA_SERVICES``): one per image engine
(Types 1, 3, 4, 5, 7), text (2), matting (8) and video (9). An image task spends the
Type of its engine (``request["engine"]``; ChatGPT runs on Aliyun's key, Type 1). Video
is shown only: Tolk never spends it, so it is never alerted on.

One ``asyncio.Lock`` serialises read → compare → post, so two tasks settling at the
same moment never both alert for one crossing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot.config import Settings
from bot.core import messages
from bot.core.channels import load_channel
from bot.core.spend import text_cost, text_units
from bot.core.storage import TaskStore
from bot.core.tasks import Item, Place, Task
from bot.engine.delivery import Delivery
from providers.errors import ErrorKind, ProviderError
from providers.xiangji import XiangjiClient
from providers.xiangji.wire import (
    IMAGE_ENGINES,
    MEANINGS,
    QUOTA_KEY_ATTRS,
    QUOTA_MATTING,
    QUOTA_SERVICES,
    QUOTA_TEXT,
    QUOTA_VIDEO,
    TEXT_ENGINES,
    classify,
)

log = logging.getLogger(__name__)

NAMESPACE = "quota"

#: Xiangji amount-query ``Type`` → service name, one per key; a service counts as
#: configured when its key (``_KEY_ATTRS``, ``XiangjiKeys.quota_types``) is set.
SERVICES: dict[int, str] = dict(QUOTA_SERVICES)
_KEY_ATTRS: dict[int, str] = dict(QUOTA_KEY_ATTRS)
#: Which service a task's operation spends. ``None``: the image engine's Type (the
#: task's ``request["engine"]``); ``translate_message`` goes by item kind.
OPERATION_SERVICES: dict[str, int | None] = {
    "xiangji.translate_image": None,
    "xiangji.translate_text": QUOTA_TEXT,
    "xiangji.cutout": QUOTA_MATTING,
}
#: Shown in `/tolk quota` and the Home tab, never spent by Tolk, so never alerted on.
SHOWN_ONLY = frozenset({QUOTA_VIDEO})
#: Names the usage record had before every key was its own service.
_OLD_NAMES = {"image translation": QUOTA_SERVICES[1]}
_TEXT_ENGINE_NAMES = {number: name for name, number in TEXT_ENGINES.items()}
DEFAULT_SCOPE = "default"
#: Seconds one amount-query may take after work or on the schedule: the work engine
#: awaits the after-settle hook, so a hanging account endpoint must not hold it long.
READ_SECONDS = 10.0


class QuotaWatcher:
    def __init__(
        self,
        store: TaskStore,
        xiangji: XiangjiClient | None,
        delivery: Delivery,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        scope: str = "",
    ) -> None:
        self.store = store
        self.scope = scope  # a workspace's team id with many: its readings, spend and alerts
        self.xiangji = xiangji
        self.delivery = delivery
        self.settings = settings
        self.clock = clock
        self._lock = asyncio.Lock()  # read → compare → post, one at a time
        self._usage_lock = asyncio.Lock()  # read-modify-write of the usage record
        self.left: dict[str, float] = {}  # the last count read per service (metrics)

    # --- reading ------------------------------------------------------------------------

    def services(self) -> dict[int, str]:
        """The Xiangji services whose key is configured, by amount-query type."""
        settings = self.settings.xiangji
        if self.xiangji is None or settings is None:
            return {}
        return {t: SERVICES[t] for t in settings.keys().quota_types() if t in SERVICES}

    async def read_all(
        self, *, within: float | None = None, types: set[int] | None = None
    ) -> dict[str, int | None]:
        """Service name → remaining count, ``None`` where the read failed (logged, never
        raised); every configured service, or those of ``types``. Successful counts are
        cached in the store with the time they were read."""
        services = {t: name for t, name in self.services().items() if types is None or t in types}
        if not services:
            return {}
        counts = await asyncio.gather(*(self._read_one(t, within) for t in services))
        readings = dict(zip(services.values(), counts, strict=True))
        now = self.clock()
        cached = dict((await self._get("reading") or {}).get("services") or {})
        for name, left in readings.items():
            if left is not None:
                cached[name] = {"left": left, "at": now}
                self.left[name] = left
        try:
            await self._put("reading", {"at": now, "services": cached})
        except Exception:
            log.exception("could not cache the Xiangji quota reading")
        return readings

    async def _read_one(self, service_type: int, within: float | None) -> int | None:
        name = SERVICES[service_type]
        assert self.xiangji is not None
        try:
            quota = await asyncio.wait_for(self.xiangji.amount_query(service_type), within)
        except ProviderError as exc:
            log.warning("could not read the Xiangji quota of %s: %s", name, exc)
            return None
        except TimeoutError:
            log.warning("could not read the Xiangji quota of %s: no answer in time", name)
            return None
        except Exception as exc:  # a read must never break the caller
            log.warning("could not read the Xiangji quota of %s: %r", name, exc)
            return None
        return quota.left_count

    async def last_reading(self) -> dict[str, dict[str, float]]:
        """The cached counts without calling Xiangji: name → {"left", "at"} (App Home)."""
        return dict((await self._get("reading") or {}).get("services") or {})

    # --- threshold alerts ---------------------------------------------------------------

    async def check(self, place: Place | None = None, *, reason: str = "schedule") -> list[str]:
        """Read every service and alert where a count crossed below the threshold.

        With ``place`` the alert goes in its thread (its channel top level when it has no
        thread) and the threshold is that channel's; without, only the alert channel gets
        it. Returns the text of each alert posted (one per crossing, however many copies).
        Never raises for a failed read or post: both are logged and retried next time."""
        try:
            async with self._lock:
                readings = await self.read_all(within=READ_SECONDS)
                return await self._compare(readings, place, reason)
        except Exception:
            log.exception("quota check (%s) failed", reason)
            return []

    async def _compare(
        self,
        readings: dict[str, int | None],
        place: Place | None,
        reason: str,
        types: set[int] | None = None,
    ) -> list[str]:
        """Alert for each service (of ``types``, else every one) below the threshold;
        never for a service Tolk does not spend (``SHOWN_ONLY``)."""
        threshold, scope = await self._threshold(place)
        targets = self._targets(place)
        posted: list[str] = []
        for service_type, name in self.services().items():
            if service_type in SHOWN_ONLY or (types is not None and service_type not in types):
                continue
            left = readings.get(name)
            if left is None:
                continue
            key = f"state:{service_type}:{scope}"
            state = await self._get(key) or {}
            low = bool(state.get("low"))
            if low and left > threshold:
                log.info("%s back above %d (%d left): alerts re-armed", name, threshold, left)
                await self._put(key, {**state, "low": False, "pending": None})
                continue
            if low or left >= threshold:
                continue
            if not targets:  # nowhere to say it yet: stay armed for the next work
                log.info(
                    "%s below %d (%d left); nowhere to alert (%s)", name, threshold, left, reason
                )
                continue
            crossing = int(state.get("crossings", 0)) + 1
            marker = f"quota:{service_type}:{scope}:{crossing}"
            text = messages.quota_alert(name, left, threshold)
            delivered, state = await self._deliver(key, state, marker, text, targets)
            if delivered:
                await self._put(key, {**state, "low": True, "crossings": crossing, "pending": None})
                log.info("quota alert (%s): %s has %d left (< %d)", reason, name, left, threshold)
                posted.append(text)
        return posted

    async def _threshold(self, place: Place | None) -> tuple[int, str]:
        if place is not None:
            channel = await load_channel(self.store, place.channel)
            if channel.quota_threshold is not None:
                return int(channel.quota_threshold), f"channel:{place.channel}"
        return int(self.settings.quota_threshold), DEFAULT_SCOPE

    def _targets(self, place: Place | None) -> list[tuple[str, str | None]]:
        targets: list[tuple[str, str | None]] = []
        if place is not None:
            targets.append((place.channel, place.thread_ts))
        alert_channel = self.settings.quota_alert_channel
        if alert_channel and (alert_channel, None) not in targets:
            targets.append((alert_channel, None))
        return targets

    async def _deliver(
        self,
        key: str,
        state: dict[str, Any],
        marker: str,
        text: str,
        targets: list[tuple[str, str | None]],
    ) -> tuple[bool, dict[str, Any]]:
        """Post ``text`` to each target at most once per ``marker``; True if any got it.

        Before each post the intent is saved; a later attempt that finds an intent but
        no ts looks for the marker in Slack first (the answer to a post can be lost)."""
        pending = state.get("pending") or {}
        if pending.get("marker") != marker:
            pending = {"marker": marker, "intents": {}, "sent": {}}
        state = {**state, "pending": pending}
        delivered = False
        for channel, thread_ts in targets:
            where = f"{channel}/{thread_ts or '-'}"
            if where in pending["sent"]:
                delivered = True
                continue
            try:
                ts = None
                if where in pending["intents"]:
                    ts = await self.delivery.find_marker(
                        channel, marker, thread_ts=thread_ts, oldest=pending["intents"][where] - 60
                    )
                if ts is None:
                    pending["intents"][where] = self.clock()
                    await self._put(key, state)
                    ts = await self.delivery.post(channel, text, marker=marker, thread_ts=thread_ts)
            except Exception as exc:
                log.warning("could not post quota alert %s in %s: %r", marker, channel, exc)
                continue
            pending["sent"][where] = ts
            delivered = True
        await self._put(key, state)
        return delivered, state

    # --- after provider work ------------------------------------------------------------

    async def on_task_settled(self, task: Task) -> None:
        """The work engine's ``on_settled`` hook: count what the task spent, alert on a
        quota or arrears error, then check the counts (Xiangji work only) of the services
        the task spent or was refused by — an image task's engine key, not every key."""
        try:
            await self._record_spend(task)
        except Exception:
            log.exception("task %s: could not record what it spent", task.id)
        error = _quota_error(task)
        worked = any(i.status == "done" for i in task.items)  # nothing spent, nothing to read
        is_xiangji = (
            task.provider == "xiangji"
            and self.xiangji is not None
            and (worked or error is not None)
        )
        if error is None and not is_xiangji:
            return
        place = _work_place(task)
        types = {_item_service(task, i) for i in task.items if i.status == "done"}
        if error is not None:
            types.add(_error_service(task))
        spent = {t for t in types if t is not None}
        try:
            async with self._lock:
                readings = (
                    await self.read_all(within=READ_SECONDS, types=spent) if is_xiangji else {}
                )
                if error is not None:
                    await self._alert_error(task, place, error, readings)
                if is_xiangji:
                    await self._compare(readings, place, "work", spent)
        except Exception:
            log.exception("task %s: quota check after work failed", task.id)

    async def _alert_error(
        self, task: Task, place: Place, error: dict[str, Any], readings: dict[str, int | None]
    ) -> None:
        key = f"error:{task.id}"
        record = await self._get(key) or {}
        if record.get("done"):
            return
        service_type = _error_service(task)
        name = SERVICES[service_type] if service_type else _operation_name(task)
        code = str(error.get("code", "?"))
        meaning = str(error.get("message") or _meaning(code))
        left = readings.get(name) if service_type else None
        text = messages.quota_error_alert(
            name, code, meaning, left=left, provider=task.provider.capitalize()
        )
        delivered, record = await self._deliver(
            key, record, f"quota-error:{task.id}", text, self._targets(place)
        )
        if not delivered:
            return
        await self._put(key, {**record, "done": True})
        log.info("task %s: quota alert for error %s on %s", task.id, code, name)
        if service_type:
            # This alert stands for the current crossing: no second alert in the thread.
            threshold_scope = (await self._threshold(place))[1]
            skey = f"state:{service_type}:{threshold_scope}"
            state = await self._get(skey) or {}
            if not state.get("low"):
                crossings = int(state.get("crossings", 0)) + 1
                await self._put(skey, {**state, "low": True, "crossings": crossings})

    # --- spend --------------------------------------------------------------------------

    async def _record_spend(self, task: Task) -> None:
        spent: dict[str, Any] = {}
        for item in task.items:
            service_type = _item_service(task, item)
            if item.status != "done" or service_type is None:
                continue
            low, high = 1, 1
            if service_type == QUOTA_TEXT:
                low, high = text_cost(text_units(item.source), _text_engine(task))
            name = SERVICES[service_type]
            spent[name] = add_units(spent.get(name, 0), low, high)
        if not spent:
            return
        async with self._usage_lock:
            if await self._get(f"counted:{task.id}") is not None:
                return
            usage = _blank_usage(await self._get("usage"))
            for table, who in (("channels", task.place.channel), ("users", task.place.user)):
                row = usage[table].setdefault(who, {})
                for name, units in spent.items():
                    row[name] = add_units(row.get(name, 0), *unit_range(units))
            await self._put("usage", usage)
            await self._put(f"counted:{task.id}", spent)

    async def usage(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{"channels": {channel: {service: units}}, "users": {user: {service: units}}}``;
        units are images, or characters of quota for text translation: a number when
        exact, ``[low, high]`` when it is an estimate (``text_cost``)."""
        return _blank_usage(await self._get("usage"))

    # --- /tolk quota --------------------------------------------------------------------

    async def report(self, *, within: float = 2.0) -> str:
        """The ephemeral answer to ``/tolk quota``: each configured service with its
        remaining count (read now, within ``within`` seconds; else the last known count), then
        what each channel and user spent."""
        services = self.services()
        usage = await self.usage()
        shown_only = [SERVICES[t] for t in SHOWN_ONLY]
        if not services:
            return messages.quota_report([], usage["channels"], usage["users"], threshold=None)
        readings = await self.read_all(within=within)
        cached = await self.last_reading()
        now = self.clock()
        rows: list[tuple[str, int | None, int | None, float | None]] = []
        for name in services.values():
            left = readings.get(name)
            last = cached.get(name) if left is None else None
            if last:
                rows.append((name, None, int(last["left"]), max(0.0, now - float(last["at"]))))
            else:
                rows.append((name, left, None, None))
        return messages.quota_report(
            rows,
            usage["channels"],
            usage["users"],
            threshold=self.settings.quota_threshold,
            shown_only=shown_only,
        )

    # --- store --------------------------------------------------------------------------

    async def _get(self, key: str) -> Any:
        return await self.store.get_setting(NAMESPACE, self._key(key))

    async def _put(self, key: str, value: Any) -> None:
        await self.store.put_setting(NAMESPACE, self._key(key), value)

    def _key(self, key: str) -> str:
        return f"{self.scope}:{key}" if self.scope else key


def unit_range(value: Any) -> tuple[int, int]:
    """A stored spend — a number (exact) or ``[low, high]`` (an estimate) — as a range."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return int(value[0]), int(value[1])
    return int(value or 0), int(value or 0)


def add_units(value: Any, low: int, high: int) -> int | list[int]:
    """``value`` plus ``low``–``high``: a number while exact, else ``[low, high]``."""
    a, b = unit_range(value)
    return a + low if a + low == b + high else [a + low, b + high]


def _text_engine(task: Task) -> str | None:
    """The text engine of a ``/translate`` task by name (older tasks store its number);
    a message's text goes through the default engine (Aliyun)."""
    if task.operation != "xiangji.translate_text":
        return None
    engine = task.request.get("engine")
    if isinstance(engine, int) and not isinstance(engine, bool):
        return _TEXT_ENGINE_NAMES.get(engine)
    return engine.lower() if isinstance(engine, str) else None


def image_service(task: Task) -> int:
    """The quota Type an image of ``task`` spends: its engine's (Aliyun when none)."""
    engine = IMAGE_ENGINES.get(str(task.request.get("engine") or "aliyun"))
    return (engine or IMAGE_ENGINES["aliyun"]).quota_type


def _blank_usage(data: Any) -> dict[str, dict[str, dict[str, Any]]]:
    data = data if isinstance(data, dict) else {}
    usage: dict[str, dict[str, dict[str, Any]]] = {"channels": {}, "users": {}}
    for table, rows in usage.items():
        for who, row in (data.get(table) or {}).items():
            rows[who] = {}
            for old, units in dict(row).items():
                name = _OLD_NAMES.get(str(old), str(old))
                rows[who][name] = add_units(rows[who].get(name, 0), *unit_range(units))
    return usage


def _quota_error(task: Task) -> dict[str, Any] | None:
    """The task's quota/arrears error: the engine's note, or (Xiangji) a failed item's."""
    noted = task.notes.get("quota_error")
    if noted:
        return dict(noted)
    if task.provider == "xiangji":
        for item in task.items:
            error = item.error or {}
            code = error.get("code")
            if item.status == "failed" and code and classify(code) is ErrorKind.QUOTA:
                return {"code": str(code), "message": error.get("message"), "kind": "quota"}
    return None


def _item_service(task: Task, item: Item) -> int | None:
    """The Xiangji service one item of ``task`` spends, if any."""
    if task.provider != "xiangji":
        return None
    if task.operation == "xiangji.translate_message":
        kind = (getattr(item, "meta", None) or {}).get("kind", "file")
        return QUOTA_TEXT if kind == "text" else image_service(task) if kind == "file" else None
    if task.operation not in OPERATION_SERVICES:
        return None
    return OPERATION_SERVICES[task.operation] or image_service(task)


def _error_service(task: Task) -> int | None:
    """The service a quota error is about: the failed item's, else the first unfinished
    item's (the one in flight when the provider refused), else the operation's."""
    if task.provider != "xiangji":
        return None
    for wanted in ("failed", "pending"):
        for item in task.items:
            code = (item.error or {}).get("code")
            quota_item = wanted == "pending" or (code and classify(code) is ErrorKind.QUOTA)
            if item.status == wanted and quota_item:
                return _item_service(task, item)
    if task.operation not in OPERATION_SERVICES:
        return None
    return OPERATION_SERVICES[task.operation] or image_service(task)


def _work_place(task: Task) -> Place:
    """Where the work is in Slack: its thread, or the message it answered with."""
    if task.place.thread_ts:
        return task.place
    sent = task.notes.get("sent") or {}
    ts = sent.get(f"{task.id}:message")
    return replace(task.place, thread_ts=ts) if ts else task.place


def _operation_name(task: Task) -> str:
    return task.operation.split(".")[-1].replace("_", " ")


def _meaning(code: str) -> str:
    try:
        return MEANINGS.get(int(code), "no detail given")
    except ValueError:
        return "no detail given"
