"""Per-channel settings (``/tolk config``): auto-translation of uploads (with the
Xiangji image engine for images, also used by flags and the Translate… form), default
languages, the quota alert threshold, when work waits for Go and the monthly limits
(``bot.core.spend``). Stored as JSON in the store's settings table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.core.storage import TaskStore

NAMESPACE = "channel"


@dataclass(frozen=True)
class Route:
    """Where uploads of one kind go: languages by bot code, and the provider."""

    target: str
    source: str | None = None
    provider: str | None = None
    engine: str | None = None  # auto-images: Xiangji's image engine (None: the default)


@dataclass(frozen=True)
class ChannelConfig:
    auto_images: Route | None = None
    auto_docs: Route | None = None
    defaults: Route | None = None  # languages when a command names only a target, or none
    quota_threshold: int | None = None
    changed_by: dict[str, Any] = field(default_factory=dict)  # setting → user id
    # Spend (``bot.core.spend``): work over these waits for Go (None: the defaults), and
    # monthly limits (None: no limit).
    confirm_images: int | None = None
    confirm_characters: int | None = None
    limit_images: int | None = None
    limit_characters: int | None = None
    # Review (``bot.core.review``): results wait on a card until decided, by the
    # requester, these reviewers, or an admin.
    review: bool = False
    reviewers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ChannelConfig:
        if not data:
            return cls()
        routes = {
            k: Route(**data[k]) if data.get(k) else None
            for k in ("auto_images", "auto_docs", "defaults")
        }
        return cls(
            **routes,
            quota_threshold=data.get("quota_threshold"),
            changed_by=data.get("changed_by") or {},
            confirm_images=data.get("confirm_images"),
            confirm_characters=data.get("confirm_characters"),
            limit_images=data.get("limit_images"),
            limit_characters=data.get("limit_characters"),
            review=bool(data.get("review")),
            reviewers=tuple(str(u) for u in data.get("reviewers") or ()),
        )


async def load_channel(store: TaskStore, channel: str) -> ChannelConfig:
    return ChannelConfig.from_json(await store.get_setting(NAMESPACE, channel))


async def save_channel(store: TaskStore, channel: str, config: ChannelConfig) -> None:
    await store.put_setting(NAMESPACE, channel, config.to_json())
