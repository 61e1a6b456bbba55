"""Spend you can see before it goes (issue 20 item 4): what a piece of work costs, when
Tolk asks before starting it, and each channel's monthly limits.

- ``cost_of``: the images and characters a task would spend. Images are the items of an
  image operation (one per image and target language); characters the length of each
  text item (UTF-16 units, as Xiangji counts them; one item per target language, so a
  text into three languages counts three times). Items that failed before anything
  started (too many, too large, not a Slack file) cost nothing. Documents are not
  counted: their length is not known until the provider reads them.
- ``needs_go``: work over the channel's ``confirm-over`` (default 50 images or 20,000
  characters) waits for someone to press Go.
- ``over_limit``: work that would take a channel past its monthly limit of images or
  characters (``/tolk config limit images 2000/month``) is refused.
- ``SpendBook``: the month counters (workspace + channel + calendar month in UTC) and the
  requests waiting for Go (24 h), in the store's settings: namespaces ``spend`` and
  ``spend-hold``.
- ``text_units``/``text_cost``: what Xiangji bills for text (also used by the quota
  watcher, ``bot.engine.quota``).
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bot.core.channels import ChannelConfig, load_channel
from bot.core.storage import TaskStore
from bot.core.tasks import Item, Place
from providers.xiangji.wire import (
    IMAGE_ENGINES,
    QUOTA_MATTING,
    QUOTA_SERVICES,
    QUOTA_TEXT,
    TEXT_COST,
)

NAMESPACE = "spend"  # "<team>:<channel>:<YYYY-MM>" → {"images": n, "characters": n}
HOLD = "spend-hold"  # "req:<id>" → a request waiting for Go; "key:<dedupe key>" → its id;
# "done:<id>" → what became of it (started, cancelled, refused)

CONFIRM_IMAGES = 50  # work over this many images waits for Go…
CONFIRM_CHARACTERS = 20_000  # …and over this many characters
CHARACTERS_PER_IMAGE = 400  # `confirm-over N` alone: N images or N × 400 characters
HOLD_SECONDS = 24 * 3600  # a request waiting for Go is dropped after this

#: Operations whose items are images (each image into each target language).
CATALOGUE = "xiangji.catalogue"  # a spreadsheet of images: ``request["rows_expected"]``
IMAGE_OPERATIONS = frozenset(
    {"xiangji.translate_image", "xiangji.cutout", "alibaba.translate_image"}
)
#: Operations whose items are texts.
TEXT_OPERATIONS = frozenset({"xiangji.translate_text"})
#: Operations with texts and images (a message: flags, the Translate… form, uploads).
MESSAGE_OPERATIONS = frozenset({"xiangji.translate_message"})

TEXT_SERVICE = QUOTA_SERVICES[QUOTA_TEXT]


def text_units(text: str) -> int:
    """Characters as Xiangji counts them: Java ``String.length()`` (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def text_cost(units: int, engine: str | None) -> tuple[int, int]:
    """Text quota a translation of ``units`` characters spends through ``engine``:
    (low, high) — equal for Aliyun and Baidu, 3–4.5× for Google, Papago and DeepL."""
    low, high = text_factor(engine)
    return math.floor(units * low), math.ceil(units * high)


def text_factor(engine: str | None) -> tuple[float, float]:
    """Text credits per character through ``engine`` (low, high)."""
    return TEXT_COST.get(engine or "aliyun", (1.0, 1.0))


@dataclass(frozen=True)
class Cost:
    """What a task would spend: ``images`` and ``characters`` (the channel's counters and
    limits), and the Xiangji credits they take from each quota service, ``(service, low,
    high)`` (text through Google, Papago or DeepL is a range)."""

    images: int = 0
    characters: int = 0
    credits: tuple[tuple[str, int, int], ...] = ()
    text_engine: str | None = None  # the engine of the text, when it has one

    def __bool__(self) -> bool:
        return bool(self.images or self.characters)


def cost_of(operation: str, request: Mapping[str, Any], items: tuple[Item, ...]) -> Cost:
    """What recording this work would spend (see the module docstring)."""
    live = [i for i in items if i.status != "failed"]
    if operation == CATALOGUE:
        return _catalogue_cost(request)
    if operation in IMAGE_OPERATIONS:
        images, texts = live, []
    elif operation in TEXT_OPERATIONS:
        images, texts = [], live
    elif operation in MESSAGE_OPERATIONS:
        images = [i for i in live if i.meta.get("kind") == "file"]
        texts = [i for i in live if i.meta.get("kind") == "text"]
    else:
        return Cost()
    characters = sum(text_units(i.source) for i in texts)
    engine = _text_engine(operation, request)
    credits: list[tuple[str, int, int]] = []
    service = image_service(operation, request)
    if images and service is not None:
        credits.append((service, len(images), len(images)))
    if characters:
        credits.append((TEXT_SERVICE, *text_cost(characters, engine)))
    return Cost(len(images), characters, tuple(credits), engine if characters else None)


def _catalogue_cost(request: Mapping[str, Any]) -> Cost:
    """A catalogue's rows (counted when the upload was read), once per language."""
    count = int(request.get("rows_expected", 0)) * max(1, len(targets_of(request)))
    service = image_service(CATALOGUE, request)
    if not count or service is None:
        return Cost()
    return Cost(count, 0, ((service, count, count),), None)


def targets_of(request: Mapping[str, Any]) -> list[str]:
    """The languages work goes into, in the asked order (``request["targets"]`` with
    several, else ``request["target"]``; none for a cutout)."""
    several = [str(t["lang"]) for t in request.get("targets") or ()]
    return several or ([str(request["target"])] if request.get("target") else [])


def image_service(operation: str, request: Mapping[str, Any]) -> str | None:
    """The Xiangji quota service an image of this work spends (None: not Xiangji's)."""
    if operation == "xiangji.cutout":
        return QUOTA_SERVICES[QUOTA_MATTING]
    if not operation.startswith("xiangji."):
        return None
    engine = IMAGE_ENGINES.get(str(request.get("engine") or "aliyun"), IMAGE_ENGINES["aliyun"])
    return QUOTA_SERVICES[engine.quota_type]


def _text_engine(operation: str, request: Mapping[str, Any]) -> str | None:
    """``/translate --engine``; a message's text goes through the default (Aliyun)."""
    engine = request.get("engine") if operation in TEXT_OPERATIONS else None
    return engine.lower() if isinstance(engine, str) else None


# --- the channel's settings ----------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    """Images and characters counted for one channel in one month."""

    images: int = 0
    characters: int = 0

    def __add__(self, cost: Cost | Use) -> Use:
        return Use(self.images + cost.images, self.characters + cost.characters)

    def __sub__(self, cost: Cost | Use) -> Use:
        return Use(self.images - cost.images, self.characters - cost.characters)


def confirm_over(config: ChannelConfig) -> tuple[int, int]:
    """Images and characters over which work waits for Go in this channel."""
    images = config.confirm_images if config.confirm_images is not None else CONFIRM_IMAGES
    chars = config.confirm_characters
    return images, chars if chars is not None else CONFIRM_CHARACTERS


def needs_go(config: ChannelConfig, cost: Cost | Use) -> bool:
    images, characters = confirm_over(config)
    return cost.images > images or cost.characters > characters


@dataclass(frozen=True)
class OverLimit:
    """Work refused by a monthly limit: which (``images``/``characters``), the limit, what
    is used this month, and what the work asked for."""

    service: str
    limit: int
    used: int
    asked: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


def over_limit(config: ChannelConfig, used: Use, cost: Cost | Use) -> OverLimit | None:
    """The first monthly limit this work would go past, if any."""
    for service, limit, spent, asked in (
        ("images", config.limit_images, used.images, cost.images),
        ("characters", config.limit_characters, used.characters, cost.characters),
    ):
        if limit is not None and asked and spent + asked > limit:
            return OverLimit(service, limit, spent, asked)
    return None


def month_of(now: float) -> str:
    """The calendar month (UTC) of ``now``: ``2025-05``."""
    return time.strftime("%Y-%m", time.gmtime(now))


def month_name(month: str) -> str:
    """``2025-05`` as people read it: ``May 2025``."""
    return time.strftime("%B %Y", time.strptime(month, "%Y-%m"))


# --- what waits for Go ---------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """A task as a handler would record it (``TaskDesk.record``'s arguments)."""

    dedupe_key: str
    place: Place
    provider: str
    operation: str
    request: dict[str, Any]
    items: tuple[Item, ...]

    def record_args(self) -> dict[str, Any]:
        return {
            "dedupe_key": self.dedupe_key,
            "place": self.place,
            "provider": self.provider,
            "operation": self.operation,
            "request": self.request,
            "items": self.items,
        }

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "items": [asdict(i) for i in self.items]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Work:
        return cls(
            dedupe_key=str(data["dedupe_key"]),
            place=Place(**data["place"]),
            provider=str(data["provider"]),
            operation=str(data["operation"]),
            request=dict(data["request"]),
            items=tuple(
                Item(**{**i, "outputs": tuple(i.get("outputs") or ())}) for i in data["items"]
            ),
        )


@dataclass(frozen=True)
class Held:
    """A request waiting for Go: the work, who asked, when, and its cost."""

    id: str
    work: Work
    at: float
    images: int
    characters: int

    @property
    def team(self) -> str:
        return self.work.place.team

    @property
    def user(self) -> str:
        return self.work.place.user

    def cost(self) -> Use:
        return Use(self.images, self.characters)


class SpendBook:
    """Month counters and requests waiting for Go, kept in the store's settings.

    ``lock`` is held by whoever checks a limit and then reserves the work's count, so two
    requests in this process cannot both pass a limit that only one fits (replicas each
    have their own: across them a limit may be overstepped by the work of one moment).
    The lock is not held while the work is recorded: a reservation counts at once, is
    written with everyone else's reserved meanwhile (``flush``: one write per channel for
    a burst of commands), and is given back if the work was not recorded after all."""

    def __init__(self, store: TaskStore, *, clock: Callable[[], float]) -> None:
        self.store = store
        self._clock = clock
        self.lock = asyncio.Lock()
        self._reserved: dict[str, Use] = {}  # counter key → counted, not yet written
        self._flushing = asyncio.Lock()

    def now(self) -> float:
        return self._clock()

    async def channel(self, channel: str) -> ChannelConfig:
        return await load_channel(self.store, channel)

    # --- month counters ------------------------------------------------------------------

    async def used(self, team: str, channel: str, month: str | None = None) -> Use:
        """This month's (or ``month``'s) counts for the channel, reservations included."""
        key = f"{team}:{channel}:{month or month_of(self.now())}"
        return await self._stored(key) + self._reserved.get(key, Use())

    async def _stored(self, key: str) -> Use:
        row = await self.store.get_setting(NAMESPACE, key) or {}
        return Use(int(row.get("images", 0)), int(row.get("characters", 0)))

    def reserve(self, team: str, channel: str, cost: Cost | Use) -> str:
        """Count ``cost`` in this month now (hold ``lock``); the key to ``release`` it."""
        key = f"{team}:{channel}:{month_of(self.now())}"
        self._reserved[key] = self._reserved.get(key, Use()) + cost
        return key

    def release(self, key: str, cost: Cost | Use) -> None:
        """Give back a reservation whose work was not recorded."""
        self._reserved[key] = self._reserved.get(key, Use()) - cost

    async def flush(self) -> None:
        """Write every reservation made so far into the store: the first caller writes
        for everyone waiting behind it."""
        async with self._flushing:
            for key, reserved in list(self._reserved.items()):
                if reserved == Use():
                    del self._reserved[key]
                    continue
                total = await self._stored(key) + reserved
                row = {"images": total.images, "characters": total.characters}
                await self.store.put_setting(NAMESPACE, key, row)
                # written and remembered: no await since, so ``used`` never counts it twice
                self._reserved[key] = self._reserved[key] + Use(
                    -reserved.images, -reserved.characters
                )

    async def count(self, team: str, channel: str, cost: Cost | Use) -> Use:
        """Add recorded work to this month's counts (hold ``lock``); the new counts."""
        self.reserve(team, channel, cost)
        await self.flush()
        return await self.used(team, channel)

    # --- requests waiting for Go ---------------------------------------------------------

    async def hold(self, work: Work, cost: Cost) -> str:
        """Keep ``work`` until Go or Cancel (at most ``HOLD_SECONDS``); its random id."""
        await self._sweep()
        hold_id = secrets.token_urlsafe(12)
        now = self.now()
        record = {
            "work": work.to_json(),
            "at": now,
            "images": cost.images,
            "characters": cost.characters,
        }
        await self.store.put_setting(HOLD, f"req:{hold_id}", record)
        await self.store.put_setting(HOLD, f"key:{work.dedupe_key}", {"id": hold_id, "at": now})
        return hold_id

    async def held_for(self, dedupe_key: str) -> str | None:
        """The id of the hold made for this very request (a redelivered event), if any."""
        found = await self.store.get_setting(HOLD, f"key:{dedupe_key}")
        if not found or self.now() - float(found.get("at", 0)) > HOLD_SECONDS:
            return None
        return str(found["id"])

    async def held(self, hold_id: str) -> Held | None:
        """The request waiting under ``hold_id``; None when unknown, answered or expired."""
        return self._held(hold_id, await self.store.get_setting(HOLD, f"req:{hold_id}"))

    async def take(self, hold_id: str) -> Held | None:
        """The request under ``hold_id``, taken: one taker gets it, whoever else asks at
        the same moment gets None."""
        return self._held(hold_id, await self.store.take_setting(HOLD, f"req:{hold_id}"))

    async def put_back(self, held: Held) -> None:
        """A taken request, waiting again (what was to follow it failed)."""
        record = {
            "work": held.work.to_json(),
            "at": held.at,
            "images": held.images,
            "characters": held.characters,
        }
        await self.store.put_setting(HOLD, f"req:{held.id}", record)

    async def decide(self, hold_id: str, outcome: dict[str, Any]) -> None:
        """What became of a request: ``{"state": started|cancelled|refused, "by", …}``."""
        await self.store.put_setting(HOLD, f"done:{hold_id}", {**outcome, "at": self.now()})

    async def outcome(self, hold_id: str) -> dict[str, Any] | None:
        found = await self.store.get_setting(HOLD, f"done:{hold_id}")
        return dict(found) if found else None

    def _held(self, hold_id: str, record: Any) -> Held | None:
        if not record or self.now() - float(record.get("at", 0)) > HOLD_SECONDS:
            return None
        return Held(
            hold_id,
            Work.from_json(record["work"]),
            float(record["at"]),
            int(record.get("images", 0)),
            int(record.get("characters", 0)),
        )

    async def _sweep(self) -> None:
        """Forget requests and answers older than ``HOLD_SECONDS`` (each new hold)."""
        cutoff = self.now() - HOLD_SECONDS
        for key, value in (await self.store.list_settings(HOLD)).items():
            if isinstance(value, dict) and float(value.get("at", 0)) < cutoff:
                await self.store.delete_setting(HOLD, key)
