"""``/tolk config``: a channel's settings (``bot.core.channels.ChannelConfig``)
shown, changed and refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.channels import ChannelConfig, Route
from bot.core.messages._common import engine_note, typed


def config_on_off(setting: str, usage: str) -> str:
    return f"Write `/tolk config {setting} on zh>ko` or `/tolk config {setting} off`.\n{usage}"


def config_needs_language(setting: str, usage: str) -> str:
    return f"`{setting}` needs one language or pair, e.g. `zh>ko` or `en`.\n{usage}"


def config_needs_number(usage: str) -> str:
    return (
        f"`quota-threshold` needs a whole number, e.g. `/tolk config quota-threshold 500`.\n{usage}"
    )


def config_number_not_negative(value: str, usage: str) -> str:
    return (
        f"`quota-threshold` must be zero or more, not `{typed(value, 30)}`: write a whole "
        f"number like `/tolk config quota-threshold 500` (`0` turns this channel's alerts "
        f"off).\n{usage}"
    )


def admins_only(admins: Sequence[str]) -> str:
    names = ", ".join(f"<@{a}>" for a in sorted(admins))
    return f"Only Tolk admins ({names}) can change this channel's settings. `/tolk config show` shows them."


def _route(route: Route | None, default_source: str) -> str:
    if route is None:
        return "off"
    provider = f" via {route.provider}" if route.provider else ""
    engine = engine_note(route.engine)
    return f"{route.source or default_source}→{route.target}{provider}{engine}"


def config_show(config: ChannelConfig, default_threshold: int) -> str:
    threshold = (
        config.quota_threshold
        if config.quota_threshold is not None
        else f"{default_threshold} (default)"
    )
    defaults = _route(config.defaults, "auto") if config.defaults else "none"
    reviewers = ", ".join(f"<@{u}>" for u in config.reviewers) or "none"
    return (
        "*Tolk settings for this channel*\n"
        f"• auto-images: {_route(config.auto_images, 'zh')}\n"
        f"• auto-docs: {_route(config.auto_docs, 'auto')}\n"
        f"• defaults: {defaults}\n"
        f"• quota-threshold: {threshold}\n"
        f"• review: {'on' if config.review else 'off'} · reviewers: {reviewers}"
    )


def config_changed(user: str, setting: str, value: str) -> str:
    return f":gear: <@{user}> set `{setting}` to {value} for this channel."


def auto_docs_needs_source(target: str) -> str:
    example = "zh" if target == "en" else "en"
    return (
        "Alibaba document translation needs the documents' language: write "
        f"`/tolk config auto-docs on SRC>{target}` (e.g. `{example}>{target}`), or "
        f"`/tolk config auto-docs on {target} --provider rozetta` to have Rozetta detect it."
    )
