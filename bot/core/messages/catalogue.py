"""Catalogues: the parent kept up to date, the files' comments, the closing message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.mrkdwn import escape

_BAR = 10  # cells of the progress bar
_LISTED = 10  # failures named in the closing message; the manifest has them all


def _bar(done: int, total: int) -> str:
    filled = round(_BAR * done / total) if total else _BAR
    return "▓" * filled + "░" * (_BAR - filled)


def _lines(rows: int, counts: Sequence[tuple[str, int, int]]) -> list[str]:
    return [
        f"`{lang}` {_bar(done + failed, rows)} {done:,}/{rows:,}"
        + (f" · {failed:,} failed" if failed else "")
        for lang, done, failed in counts
    ]


def catalogue_parent(
    task_id: str, user: str, name: str, rows: int, counts: Sequence[tuple[str, int, int]]
) -> str:
    """The parent, edited in place as chunks finish: one line per language."""
    langs = ", ".join(lang for lang, _, _ in counts)
    head = f":card_index_dividers: <@{user}> asked to translate catalogue `{escape(name)}`"
    if not rows:
        return f"{head} into {langs} · reading it… · task `{task_id}`"
    return "\n".join(
        [f"{head}: {rows:,} images into {langs} · task `{task_id}`", *_lines(rows, counts)]
    )


def catalogue_done(
    task_id: str,
    name: str,
    rows: int,
    counts: Sequence[tuple[str, int, int]],
    failed: Sequence[tuple[str, str, str]],
) -> str:
    """The closing message: per language, then the failures (the first ``LISTED``)."""
    total = sum(f for _, _, f in counts)
    head = (
        f":white_check_mark: Catalogue `{escape(name)}` done — {rows:,} images into "
        f"{len(counts)} language{'s' if len(counts) != 1 else ''}, one ZIP each and a manifest "
        f"(task `{task_id}`)."
    )
    lines = [head, *_lines(rows, counts)]
    if total:
        lines.append(f":warning: {total:,} failed (all in the manifest):")
        lines += [
            f"• `{escape(rid)}` ({lang}): {escape(error)}" for rid, lang, error in failed[:_LISTED]
        ]
        if len(failed) > _LISTED:
            lines.append(f"… and {len(failed) - _LISTED:,} more")
    return "\n".join(lines)


def catalogue_zip_comment(lang: str, counts: tuple[int, int]) -> str:
    done, failed = counts
    note = f", {failed:,} failed (see the manifest)" if failed else ""
    return f"`{lang}`: {done:,} translated images{note}"


def catalogue_manifest_comment() -> str:
    return (
        "The manifest: one line per image and language — id, source, language, file, status, error"
    )


def catalogue_needs_xiangji() -> str:
    return (
        "Catalogues are translated by Xiangji, which is not set up here: set "
        "XIANGJI_USER_KEY and an image key (or, with many workspaces, Provider keys in "
        "Tolk's Home tab)"
    )


def catalogue_unreadable(name: str) -> str:
    return f"`{escape(name)}` could not be read from Slack just now: upload it again in a minute"


RETRY_FAILED = "tolk_catalogue_retry"


def catalogue_retry_button(task_id: str, count: int) -> list[dict[str, Any]]:
    """The closing message's Retry failed button (its value: the task)."""
    return [
        {
            "type": "actions",
            "block_id": f"catalogue_retry:{task_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": RETRY_FAILED,
                    "text": {"type": "plain_text", "text": f"Retry failed ({count:,})"},
                    "value": task_id,
                }
            ],
        }
    ]


def catalogue_retry_started(task_id: str, new_id: str, user: str) -> str:
    return f":repeat: <@{user}> retries the failed images of `{task_id}` as task `{new_id}`"


def catalogue_nothing_to_retry(task_id: str) -> str:
    return f"Nothing of `{task_id}` failed, or it has been retried already"


def catalogue_refused(name: str, reason: str) -> str:
    """An uploaded catalogue that cannot be read; ``reason`` quotes the sheet's cells."""
    return f"`{escape(name)}`: {escape(reason)}"
