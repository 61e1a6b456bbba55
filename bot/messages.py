"""Every sentence Tolk says, and the Block Kit it says it in.

One voice: short, concrete, and when something is wrong, what to type instead. Result
and failure messages never use the word "quota"; only quota alerts do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

USAGE = {
    "translate": (
        "Usage: `/translate [SRC>]TGT TEXT` — e.g. `/translate zh>en 我是中国人` or "
        "`/translate ja Good morning`. Options: `--engine aliyun|google|papago|baidu|deepl|chatgpt`, "
        "`--private` (only you see the answer)."
    ),
    "translate-image": (
        "Usage: `/translate-image [SRC>]TGT URL…` — e.g. "
        "`/translate-image zh>ko https://example.com/a.jpg`. Up to 20 URLs. Options: "
        "`--removed` (also the text-removed image), `--ocr` (also the recognised text), "
        "`--fast` / `--best`, `--provider xiangji|alibaba`."
    ),
    "cutout": (
        "Usage: `/cutout URL… [--bg R,G,B]` — e.g. `/cutout https://example.com/a.png` or "
        "`/cutout https://example.com/a.png --bg 255,255,255` for a white background. Up to 20 URLs."
    ),
    "tolk": ("Usage: `/tolk help`, `/tolk tasks`, `/tolk cancel T7Q2K`, `/tolk retry T7Q2K`."),
}


def _lang(code: str | None) -> str:
    return code or "auto"


# --- bad input -------------------------------------------------------------------------


def option_needs_value(name: str, usage: str) -> str:
    return f"`--{name}` needs a value, e.g. `--{name} VALUE`.\n{usage}"


def unknown_option(token: str, usage: str) -> str:
    return f"Unknown option `{token}`.\n{usage}"


def unknown_choice(option: str, value: str, choices: Sequence[str], usage: str) -> str:
    return f"`{option} {value}` is not one of {', '.join(choices)}.\n{usage}"


def conflicting_options(a: str, b: str, usage: str) -> str:
    return f"Use either `{a}` or `{b}`, not both.\n{usage}"


def missing_language(usage: str) -> str:
    return f"Say which language to translate into, e.g. `en` or `zh>en`.\n{usage}"


def missing_text(usage: str) -> str:
    return f"There is no text to translate after the language.\n{usage}"


def missing_urls(usage: str) -> str:
    return f"Give at least one image URL after the language.\n{usage}"


def not_a_url(url: str, usage: str) -> str:
    return f"`{url}` is not a web address; write a full `https://…` URL.\n{usage}"


def text_too_long(length: int, limit: int) -> str:
    return (
        f"That text is {length:,} characters; the limit is {limit:,}. "
        "Split it into shorter parts and send each with `/translate`."
    )


def too_many_images(count: int, limit: int) -> str:
    return f"That is {count} images; one command takes up to {limit}. Send the rest separately."


def provider_off(provider: str, what: str, variables: Sequence[str]) -> str:
    return (
        f"{provider} is not configured here, so {what} is off. "
        f"An admin can turn it on by setting {', '.join(f'`{v}`' for v in variables)}."
    )


def source_not_supported(detail: str) -> str:
    return detail


# --- acknowledgements ------------------------------------------------------------------


def ack_text(task_id: str, source: str | None, target: str) -> str:
    return f"Translating {_lang(source)}→{target}… (task `{task_id}`)"


def ack_images(task_id: str, count: int, source: str | None, target: str) -> str:
    noun = "image" if count == 1 else f"{count} images"
    return f"On it: translating {noun} {_lang(source)}→{target}. Results go in the thread (task `{task_id}`)."


def ack_duplicate(task_id: str, state: str) -> str:
    return f"That request is already task `{task_id}` ({state})."


# --- in the channel and the thread -----------------------------------------------------


def image_parent(task_id: str, user: str, count: int, source: str | None, target: str) -> str:
    noun = "1 image" if count == 1 else f"{count} images"
    return f":frame_with_picture: <@{user}> asked to translate {noun} {_lang(source)}→{target} · task `{task_id}`"


def progress(done: int, total: int) -> str:
    return f"{done} of {total} done"


def translation_blocks(
    task_id: str, user: str, original: str, translated: str, source: str | None, target: str
) -> tuple[str, list[dict[str, Any]]]:
    fallback = f"{translated}\n({_lang(source)}→{target} for <@{user}>)"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": translated}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{_lang(source)}→{target} for <@{user}> · original: {_quote(original)} · task `{task_id}`",
                }
            ],
        },
    ]
    return fallback, blocks


def _quote(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"


def result_comment(index: int, total: int, source_url: str, variant: str | None = None) -> str:
    name = source_url.rsplit("/", 1)[-1] or source_url
    label = f" ({variant})" if variant else ""
    return f"{index}/{total} · {name}{label}" if total > 1 else f"{name}{label}"


def done(task_id: str, delivered: int, total: int, failures: Sequence[str] = ()) -> str:
    if not failures:
        noun = "1 image" if total == 1 else f"all {total} images"
        return f":white_check_mark: Done — {noun} translated (task `{task_id}`)."
    lines = "\n".join(f"• {f}" for f in failures)
    return (
        f":warning: {delivered} of {total} translated (task `{task_id}`). Not translated:\n{lines}"
    )


def failure(task_id: str, provider: str, code: str, meaning: str, hint: str = "") -> str:
    hint = f" {hint}" if hint else ""
    return f":x: Task `{task_id}` failed: {provider} error {code} — {meaning}.{hint}"


def expired(task_id: str, minutes: float) -> str:
    return (
        f":hourglass: Task `{task_id}` gave up after {minutes:.0f} minutes without a result. "
        f"Try again with `/tolk retry {task_id}`."
    )


def item_failure(source: str, code: str, meaning: str) -> str:
    name = source.rsplit("/", 1)[-1] or source
    return f"{name}: error {code} — {meaning}"


def download_refused(url: str) -> str:
    return f"the result URL's host is not allowed for downloads ({url.split('/')[2] if '//' in url else url})"


def cannot_detect(usage: str) -> str:
    return f"I could not tell which language that text is in; name it, e.g. `zh>en`.\n{usage}"


def same_language(code: str) -> str:
    return f"The text is already in `{code}`; pick a different target language."


def provider_not_ready(provider: str, what: str) -> str:
    return f"`--provider {provider}` for {what} is not available yet; leave it out to use Xiangji."


def ocr_text(source_url: str, lines: Sequence[Any]) -> str:
    """The recognised text of one image and its translation, as a readable list."""
    name = source_url.rsplit("/", 1)[-1] or source_url
    rows = "\n".join(f"• {line.source} → {line.target}" for line in lines)
    return f"Text in {name}:\n{rows}"


def cutout_parent(task_id: str, user: str, count: int) -> str:
    noun = "1 image" if count == 1 else f"{count} images"
    return f":scissors: <@{user}> asked to cut out {noun} · task `{task_id}`"


def cancelled(task_id: str, user: str | None) -> str:
    who = f" by <@{user}>" if user else ""
    return f":no_entry_sign: Task `{task_id}` was cancelled{who}; nothing more will be posted."


def bad_color(value: str, usage: str) -> str:
    return f"`--bg {value}` is not a colour; write three numbers 0–255, e.g. `--bg 255,255,255`.\n{usage}"


def needs_task_id(action: str) -> str:
    return f"Say which task, e.g. `/tolk {action} T7Q2K` (the id is in the task's first message)."


def ack_cutout(task_id: str, count: int) -> str:
    noun = "the background" if count == 1 else f"the backgrounds of {count} images"
    return f"On it: removing {noun}. Results go in the thread (task `{task_id}`)."


HELP = """*Tolk* translates text, images and files where you work. Every command answers at once with a task id; results land in a thread.

• `/translate zh>en 我是中国人` — translate text (`--engine deepl`, `--private`)
• `/translate-image zh>ko https://example.com/a.jpg` — translate the text in images, up to 20 URLs (`--removed`, `--ocr`, `--fast`/`--best`)
• `/cutout https://example.com/a.png --bg 255,255,255` — remove the background
• `/tolk tasks` — pending tasks in this channel
• `/tolk cancel T7Q2K` — stop a task
• `/tolk retry T7Q2K` — run a failed or expired task again

Languages: ISO codes (`zh`, `zh-TW`, `en`, `ja`, `ko`, `de` …) or names (`korean`)."""


def task_list(rows: Sequence[tuple[str, str, str, str, float]]) -> str:
    """``rows``: (task id, what, state, user, age in seconds)."""
    if not rows:
        return "No pending tasks in this channel."
    lines = [
        f"• `{tid}` {what} — {state}, {_age(age)} old, for <@{user}>"
        for tid, what, state, user, age in rows
    ]
    return f"*Pending tasks here ({len(rows)})*\n" + "\n".join(lines)


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def no_such_task(task_id: str) -> str:
    return f"There is no task `{task_id}` in this channel. `/tolk tasks` lists the pending ones."


def cannot_cancel(task_id: str, state: str) -> str:
    return f"Task `{task_id}` is already {state}; there is nothing to cancel."


def cancelling(task_id: str) -> str:
    return f"Cancelling task `{task_id}`."


def not_yours(task_id: str) -> str:
    return f"Only the person who started task `{task_id}` or an admin can do that."


def cannot_retry(task_id: str, state: str) -> str:
    return f"Task `{task_id}` is {state}; only failed, expired or cancelled tasks can be retried."


def retrying(old_id: str, new_id: str) -> str:
    return f"Retrying task `{old_id}` as task `{new_id}`."
