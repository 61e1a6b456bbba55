"""What lands in a task's thread whatever the surface: each item's comment, the
closing message, failures and cancellation; the Delete button under results and what
removing them says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.messages._common import engine_note
from bot.core.messages.refine import refine_elements
from bot.core.mrkdwn import escape, sections


def result_comment(
    index: int,
    total: int,
    source_url: str,
    variant: str | None = None,
    target: str | None = None,
) -> str:
    """``2/6 · shoe.png · ja``: ``target`` names the language in a task of several."""
    name = escape(source_url.rsplit("/", 1)[-1] or source_url)
    label = f" ({variant})" if variant else ""
    into = f" · {escape(target)}" if target else ""
    return f"{index}/{total} · {name}{label}{into}" if total > 1 else f"{name}{label}{into}"


def progress(done: int, total: int) -> str:
    return f"{done} of {total} done"


def done(
    task_id: str,
    delivered: int,
    total: int,
    failures: Sequence[str] = (),
    *,
    noun: str = "image",
    engine: str | None = None,
) -> str:
    how = engine_note(engine)
    if not failures:
        what = f"1 {noun}" if total == 1 else f"all {total} {noun}s"
        return f":white_check_mark: Done — {what} translated{how} (task `{task_id}`)."
    lines = "\n".join(f"• {f}" for f in failures)
    return (
        f":warning: {delivered} of {total} translated{how} (task `{task_id}`). "
        f"Not translated:\n{lines}"
    )


def done_by_language(
    task_id: str,
    sources: int,
    counts: Sequence[tuple[str, int, int]],
    failures: Sequence[str] = (),
    *,
    noun: str = "image",
    engine: str | None = None,
) -> str:
    """The closing message of a task of several target languages: ``sources`` inputs
    (images, documents) and, per language in the asked order, (language, delivered,
    total) — ``ko 2/2 · ja 1/2 · en 2/2`` — then each failure with its language."""
    how = engine_note(engine)
    per = " · ".join(f"{escape(lang)} {ok}/{total}" for lang, ok, total in counts)
    if not failures:
        what = f"1 {noun}" if sources == 1 else f"{sources} {noun}s"
        return (
            f":white_check_mark: Done — {what} into {len(counts)} languages{how}: {per} "
            f"(task `{task_id}`)."
        )
    delivered, total = sum(c[1] for c in counts), sum(c[2] for c in counts)
    lines = "\n".join(f"• {f}" for f in failures)
    return (
        f":warning: {delivered} of {total} translated{how} — {per} (task `{task_id}`). "
        f"Not translated:\n{lines}"
    )


def not_installed(public_url: str | None) -> str:
    where = f" from {public_url}/slack/install" if public_url else ""
    return (
        ":warning: Tolk is not installed in this workspace (or was removed), so nothing was "
        f"done. A workspace admin can install it{where}."
    )


def provider_not_set_up(provider: str) -> str:
    return (
        f"{provider.capitalize()} is no longer set up for this workspace (its keys were "
        "removed): an admin can set them again under Provider keys in Tolk's Home tab"
    )


def failure(task_id: str, provider: str, code: str, meaning: str, hint: str = "") -> str:
    hint = f" {hint}" if hint else ""
    meaning = escape(meaning.rstrip("."))
    return f":x: Task `{task_id}` failed: {provider} error {escape(code)} — {meaning}.{hint}"


def expired(task_id: str, minutes: float) -> str:
    return (
        f":hourglass: Task `{task_id}` gave up after {minutes:.0f} minutes without a result. "
        f"Try again with `/tolk retry {task_id}`."
    )


def item_failure(source: str, code: str, meaning: str, target: str | None = None) -> str:
    """``shoe.png: error 105 — …``; ``target`` first in a task of several languages
    (``ja · shoe.png: …``)."""
    name = escape(source.rsplit("/", 1)[-1] or source)
    into = f"{escape(target)} · " if target else ""
    return f"{into}{name}: error {escape(code)} — {escape(meaning)}"


def provider_gave_no_reason() -> str:
    return "the provider could not translate it and gave no reason"


def cancelled(task_id: str, user: str | None) -> str:
    who = f" by <@{user}>" if user else ""
    return f":no_entry_sign: Task `{task_id}` was cancelled{who}; nothing more will be posted."


def origin_link(origin: dict[str, str] | None) -> str | None:
    """A link to the message the work came from (Slack redirects it to the workspace)."""
    if not origin:
        return None
    return f"https://slack.com/archives/{origin['channel']}/p{origin['ts'].replace('.', '')}"


def delete_button(task_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": "tolk_delete_results",
        "value": task_id,
        "style": "danger",
        "text": {"type": "plain_text", "text": "Delete"},
        "confirm": {
            "title": {"type": "plain_text", "text": "Delete these results?"},
            "text": {"type": "mrkdwn", "text": "Tolk removes what it posted for this task."},
            "confirm": {"type": "plain_text", "text": "Delete"},
            "deny": {"type": "plain_text", "text": "Keep"},
        },
    }


def result_blocks(
    text: str,
    task_id: str,
    origin: dict[str, str] | None,
    refine: Sequence[tuple[int, str]] = (),
) -> list[dict[str, Any]]:
    """A result or closing message: the text, a link back to the original, Refine for
    images Xiangji's editor can touch up (``refine``: item index and name), and Delete."""
    link = origin_link(origin)
    blocks: list[dict[str, Any]] = sections(text)
    if link:
        context = f"<{link}|original message>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    blocks.append(
        {"type": "actions", "elements": [*refine_elements(task_id, refine), delete_button(task_id)]}
    )
    return blocks


def results_removed(task_id: str, user: str) -> str:
    return f":wastebasket: The results of task `{task_id}` were removed by <@{user}>."


def results_not_yours(task_id: str, owner: str) -> str:
    return f"Only <@{owner}>, who asked for task `{task_id}`, can remove its results. Nothing was removed."


def results_task_missing(task_id: str) -> str:
    return f"There is no task `{task_id}` any more, so there is nothing to remove."


def results_partly_removed(task_id: str, problems: Sequence[str]) -> str:
    listed = escape(", ".join(problems[:5])) + (" …" if len(problems) > 5 else "")
    return (
        f"Some results of task `{task_id}` could not be removed ({listed}). "
        "Press *Delete* again in a minute to finish."
    )
