"""Every sentence Tolk says, and the Block Kit it says it in.

One voice: short, concrete, and when something is wrong, what to type instead. Result
and failure messages never use the word "quota"; only quota alerts do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.mrkdwn import clip, escape, person, sections, split, unescape

USAGE = {
    "translate": (
        "Usage: `/translate [SRC>]TGT TEXT` — e.g. `/translate zh>en 我是中国人` or "
        "`/translate ja Good morning`. Options: `--engine aliyun|google|papago|baidu|deepl|chatgpt|googlellm`, "
        "`--private` (only you see the answer)."
    ),
    "translate-image": (
        "Usage: `/translate-image [SRC>]TGT URL…` — e.g. "
        "`/translate-image zh>ko https://example.com/a.jpg`. Up to 20 URLs. Options: "
        "`--removed` (also the text-removed image), `--ocr` (also the recognised text), "
        "`--fast` / `--best`, `--engine aliyun|google|papago|baidu|deepl|chatgpt` (Xiangji's "
        "engine; without it, the first one configured), `--provider xiangji|alibaba`. "
        "Alibaba's image-task API is marked for retirement by Alibaba, so Xiangji is the default."
    ),
    "translate-doc": (
        "Usage: `/translate-doc [SRC>]TGT URL` — e.g. `/translate-doc en>ja https://example.com/guide.docx`. "
        "Options: `--scene general|title|description|message|medical|social|tech`, "
        "`--provider alibaba|rozetta`. Word, Excel, PowerPoint, PDF, text, HTML, Markdown and more, up to 50 MB."
    ),
    "media-job": (
        "Usage: `/media-job FUNCTION oss://bucket/object [JSON]` — e.g. "
        '`/media-job ImageCartoonize oss://my-bucket/photos/cat.jpg {"Model": "3d"}` or '
        '`/media-job CaptionExtraction oss://my-bucket/video.mp4 {"fps": 5}`; '
        "`/media-job status JOBID` follows a job submitted elsewhere."
    ),
    "cutout": (
        "Usage: `/cutout URL… [--bg R,G,B]` — e.g. `/cutout https://example.com/a.png` or "
        "`/cutout https://example.com/a.png --bg 255,255,255` for a white background. Up to 20 URLs."
    ),
    "tolk": (
        "Usage: `/tolk help`, `/tolk tasks`, `/tolk cancel T7Q2K`, `/tolk retry T7Q2K`, "
        "`/tolk quota`, `/tolk config …`."
    ),
    "config": (
        "Usage: `/tolk config show` · `/tolk config auto-images on [SRC>]TGT [--engine E]` (e.g. `on zh>ko`) · "
        "`/tolk config auto-images off` · `/tolk config auto-docs on [SRC>]TGT [--provider alibaba|rozetta]` · "
        "`/tolk config auto-docs off` · `/tolk config defaults [SRC>]TGT` · `/tolk config quota-threshold N`."
    ),
}


def _lang(code: str | None) -> str:
    return code or "auto"


# --- bad input -------------------------------------------------------------------------


def option_needs_value(name: str, usage: str) -> str:
    return f"`--{name}` needs a value, e.g. `--{name} VALUE`.\n{usage}"


def unknown_option(token: str, usage: str) -> str:
    return f"Unknown option `{person(token)}`.\n{usage}"


def unknown_choice(option: str, value: str, choices: Sequence[str], usage: str) -> str:
    return f"`{option} {person(value)}` is not one of {', '.join(choices)}.\n{usage}"


def conflicting_options(a: str, b: str, usage: str) -> str:
    return f"Use either `{a}` or `{b}`, not both.\n{usage}"


def missing_language(usage: str) -> str:
    return f"Say which language to translate into, e.g. `en` or `zh>en`.\n{usage}"


def missing_text(usage: str) -> str:
    return f"There is no text to translate after the language.\n{usage}"


def missing_urls(usage: str) -> str:
    return f"Give at least one image URL after the language.\n{usage}"


def not_a_url(url: str, usage: str) -> str:
    return f"`{person(url)}` is not a web address; write a full `https://…` URL.\n{usage}"


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


#: Xiangji's engines as people read them.
ENGINE_LABELS = {
    "aliyun": "Aliyun",
    "google": "Google",
    "papago": "Papago",
    "baidu": "Baidu",
    "deepl": "DeepL",
    "chatgpt": "ChatGPT",
    "googlellm": "GoogleLLM",
}


def engine_label(engine: str) -> str:
    return ENGINE_LABELS.get(engine, engine)


def engine_note(engine: str | None) -> str:
    """`` with the Google engine`` — nothing for Aliyun, Xiangji's own default."""
    if not engine or engine == "aliyun":
        return ""
    return f" with the {engine_label(engine)} engine"


def engine_not_configured(engine: str, variable: str, configured: Sequence[str], usage: str) -> str:
    """An image engine whose key is not set: the variable to set, and what can be used."""
    runs_on = " (ChatGPT runs on the Aliyun key)" if engine == "chatgpt" else ""
    names = ", ".join(f"`{e}`" for e in configured)
    text = (
        f"The {engine_label(engine)} image engine is not configured here{runs_on}: an admin "
        f"can turn it on by setting `{variable}`. Configured engines: {names}; leave "
        "`--engine` out to use the first."
    )
    return f"{text}\n{usage}" if usage else text


def image_translation_off(usage: str) -> str:
    return (
        "Xiangji image translation is off here: an admin can turn it on by setting "
        "`XIANGJI_USER_KEY` and an image key — `XIANGJI_IMG_TRANS_KEY` (Aliyun), "
        "`XIANGJI_IMG_TRANS_GOOGLE_KEY`, `XIANGJI_IMG_TRANS_PAPAGO_KEY`, "
        f"`XIANGJI_IMG_TRANS_BAIDU_KEY` or `XIANGJI_IMG_TRANS_DEEPL_KEY`.\n{usage}"
    )


def cutout_has_no_engine(usage: str) -> str:
    return (
        "`/cutout` has no `--engine`: background removal is one Xiangji service on its own "
        f"key (`XIANGJI_MATTING_KEY`). Leave `--engine` out.\n{usage}"
    )


def source_not_supported(detail: str) -> str:
    return detail


# --- acknowledgements ------------------------------------------------------------------


def ack_text(task_id: str, source: str | None, target: str) -> str:
    return f"Translating {_lang(source)}→{target}… (task `{task_id}`)"


def ack_images(
    task_id: str, count: int, source: str | None, target: str, *, engine: str | None = None
) -> str:
    noun = "image" if count == 1 else f"{count} images"
    return (
        f"On it: translating {noun} {_lang(source)}→{target}{engine_note(engine)}. "
        f"Results go in the thread (task `{task_id}`)."
    )


def ack_duplicate(task_id: str, state: str) -> str:
    return f"That request is already task `{task_id}` ({state})."


# --- in the channel and the thread -----------------------------------------------------


# --- where Tolk cannot post (bot/work: the answer goes through response_url or a DM) ----

_WHY_NOT = {
    "channel_not_found": "it was never invited there",
    "not_in_channel": "it is not a member there",
    "is_archived": "the channel is archived",
    "thread_not_found": "the thread's first message was deleted",
    "user_not_in_channel": "you are not in that channel any more",
}


def _why_not(code: str) -> str:
    return _WHY_NOT.get(code, f"Slack said `{escape(code)}`")


def cannot_post(code: str) -> str:
    return f"Tolk cannot post there ({_why_not(code)})"


def moved_parent(task_id: str, origin: str, code: str, what: str) -> str:
    """The first message of a task's results in the person's DM with Tolk."""
    about = f"\n{what}" if what else ""
    return (
        f":mailbox_with_mail: Tolk cannot post in <#{origin}> ({_why_not(code)}), so the results "
        f"of task `{task_id}` come here.{about}\nTo get them in the channel next time, type "
        "`/invite @Tolk` there."
    )


def moved_notice(task_id: str, origin: str, code: str) -> str:
    """Told only to the person, in the channel, through the command's response_url."""
    return (
        f":mailbox_with_mail: Tolk cannot post here ({_why_not(code)}), so the results of task "
        f"`{task_id}` go to your direct messages with Tolk. To get them here, type "
        "`/invite @Tolk` in this channel."
    )


def cannot_post_anywhere(task_id: str, origin: str, code: str) -> str:
    return (
        f":x: Task `{task_id}` stopped: Tolk cannot post in <#{origin}> ({_why_not(code)}) "
        "and could not open a direct message with you. Type `/invite @Tolk` in the channel, "
        f"then `/tolk retry {task_id}`."
    )


def download_failed(reason: str) -> str:
    """Plain text (an item's error): escaped where it is shown."""
    return f"the file could not be fetched: {reason}"


def not_a_document(name: str) -> str:
    return f"{name}: the address answered with a web page, not the document (is it public?)"


def long_text_comment(length: int) -> str:
    return f":page_facing_up: The whole translation ({length:,} characters), as a text file."


def image_parent(
    task_id: str,
    user: str,
    count: int,
    source: str | None,
    target: str,
    *,
    engine: str | None = None,
) -> str:
    noun = "1 image" if count == 1 else f"{count} images"
    what = f"{noun} {_lang(source)}→{target}{engine_note(engine)}"
    return f":frame_with_picture: <@{user}> asked to translate {what} · task `{task_id}`"


def ack_doc(task_id: str, names: Sequence[str], source: str | None, target: str) -> str:
    what = names[0] if len(names) == 1 else f"{len(names)} documents"
    return f"On it: translating {what} {_lang(source)}→{target}. The file goes in the thread (task `{task_id}`)."


def doc_parent(
    task_id: str, user: str, names: Sequence[str], source: str | None, target: str
) -> str:
    what = _file_name(names[0]) if len(names) == 1 else f"{len(names)} documents"
    return f":page_facing_up: <@{user}> asked to translate {what} {_lang(source)}→{target} · task `{task_id}`"


def doc_comment(filename: str, pages: int | None) -> str:
    name = escape(filename)
    return f"{name} · {pages} page{'s' if pages != 1 else ''}" if pages else name


def _file_name(source: str) -> str:
    return escape(source.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or source)


def rozetta_comment(filename: str, count: float | None) -> str:
    """Rozetta's ``wordCount``: words on T-4OO, characters on T-3MT."""
    name = escape(filename)
    return f"{name} · {count:,.0f} words/characters" if count else name


def url_refused(url: str) -> str:
    host = url.split("//", 1)[-1].split("/", 1)[0]  # plain text (an item's error)
    return (
        f"Tolk does not fetch files from {host}: it is not a public address. Share the file "
        "in Slack instead, or ask an admin to add the host to `TOLK_ALLOWED_FILE_HOSTS`."
    )


def needs_job_id(usage: str) -> str:
    return f"Give the MTS JobId after `status`, e.g. `/media-job status 88c6ca184c0e432bbf5b665e2a15abcd`.\n{usage}"


def missing_media_input(usage: str) -> str:
    return f"Give the input object after the function, as `oss://bucket/object`.\n{usage}"


def ack_media(task_id: str, function: str, source: str) -> str:
    return f"On it: {function} on `{person(source)}`. Results go in the thread (task `{task_id}`)."


def ack_media_status(task_id: str, job_id: str) -> str:
    return f"Following MTS job `{job_id}`; its results go in the thread (task `{task_id}`)."


def media_parent(task_id: str, user: str, function: str | None, source: str) -> str:
    what = f"{function} on `{person(source)}`" if function else f"MTS job `{person(source)}`"
    return f":clapper: <@{user}> asked for {what} · task `{task_id}`"


def media_done(task_id: str, function: str, files: int, summary: str | None) -> str:
    noun = "1 file" if files == 1 else f"{files} files"
    text = f":white_check_mark: {function} finished — {noun} in this thread (task `{task_id}`)."
    return f"{text}\n{summary}" if summary else text


def media_failed(task_id: str, function: str, code: str, meaning: str) -> str:
    return (
        f":x: {function} failed (task `{task_id}`): MTS error {escape(code)} — {escape(meaning)}."
    )


def no_mts_output() -> str:
    return (
        "MTS needs somewhere to write results: an admin sets `ALIBABA_MTS_OUTPUT` "
        "(e.g. `oss://my-bucket.oss-cn-hangzhou.aliyuncs.com/tolk/`)."
    )


def provider_gave_no_reason() -> str:
    return "the provider could not translate it and gave no reason"


def unknown_mts_job() -> str:
    return "MTS does not know this job (is it an intelligent-production JobId?)"


def try_again() -> str:
    return (
        ":hourglass: Tolk could not record that just now (its store is busy) and did nothing. "
        "Please send it again in a moment."
    )


def no_public_url() -> str:
    return (
        "Alibaba must download the file from Tolk, and Tolk has no public address: an admin "
        "sets `TOLK_PUBLIC_URL` (e.g. `https://tolk.example.com`) to this service's public URL."
    )


def option_not_for_provider(option: str, provider: str, usage: str) -> str:
    return f"`{option}` is not available with `--provider {provider}`; leave it out or use Xiangji.\n{usage}"


def one_document(usage: str) -> str:
    return f"Give one document URL per command.\n{usage}"


def missing_document(usage: str) -> str:
    return f"Give the document's URL after the language.\n{usage}"


def progress(done: int, total: int) -> str:
    return f"{done} of {total} done"


NOTHING_CAME_BACK = "_(the translator sent back no text)_"
LONG_TEXT = 12_000  # past this a translation comes as a text file, with a preview


def translation_blocks(
    task_id: str, user: str, original: str, translated: str, source: str | None, target: str
) -> dict[str, Any]:
    """``/translate``'s answer. ``original`` is the person's Slack text, ``translated``
    Slack mrkdwn (``bot.core.slacktext.from_translation``)."""
    about = (
        f"{_lang(source)}→{target} for <@{user}> · original: {_quote(original)} · task `{task_id}`"
    )
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": about}]}
    body, attachment = _long_text(translated, task_id, target)
    fallback = f"{clip(translated, 3000)}\n({_lang(source)}→{target} for <@{user}>)"
    return {"text": fallback, "blocks": [*sections(body), context], **attachment}


def _long_text(text: str, task_id: str, target: str) -> tuple[str, dict[str, Any]]:
    """Text to show, and the whole text as a file when it is too long to read in Slack
    (Slack folds long messages, and a file is easier to take into a CMS)."""
    if not text.strip():
        return NOTHING_CAME_BACK, {}
    if len(text) <= LONG_TEXT:
        return text, {}
    preview = split(text, 2800)[0]
    shown = f"{preview}\n… _({len(text):,} characters in all: the whole translation is in the text file in this thread)_"
    name = f"translation-{target}-{task_id}.txt"
    return shown, {"attachment": {"name": name, "text": unescape(text)}}


def _quote(text: str, limit: int = 200) -> str:
    return f"“{clip(person(' '.join(text.split())), limit)}”"


def result_comment(index: int, total: int, source_url: str, variant: str | None = None) -> str:
    name = escape(source_url.rsplit("/", 1)[-1] or source_url)
    label = f" ({variant})" if variant else ""
    return f"{index}/{total} · {name}{label}" if total > 1 else f"{name}{label}"


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


def failure(task_id: str, provider: str, code: str, meaning: str, hint: str = "") -> str:
    hint = f" {hint}" if hint else ""
    meaning = escape(meaning.rstrip("."))
    return f":x: Task `{task_id}` failed: {provider} error {escape(code)} — {meaning}.{hint}"


def expired(task_id: str, minutes: float) -> str:
    return (
        f":hourglass: Task `{task_id}` gave up after {minutes:.0f} minutes without a result. "
        f"Try again with `/tolk retry {task_id}`."
    )


def item_failure(source: str, code: str, meaning: str) -> str:
    name = escape(source.rsplit("/", 1)[-1] or source)
    return f"{name}: error {escape(code)} — {escape(meaning)}"


def download_refused(url: str) -> str:
    host = url.split("/")[2] if "//" in url else url
    return f"the result URL's host is not allowed for downloads ({host})"


def cannot_detect(usage: str) -> str:
    return f"I could not tell which language that text is in; name it, e.g. `zh>en`.\n{usage}"


def same_language(code: str) -> str:
    return f"The text is already in `{code}`; pick a different target language."


def provider_not_ready(provider: str, what: str) -> str:
    return f"`--provider {provider}` for {what} is not available yet; leave it out to use Xiangji."


def ocr_unavailable(source_url: str, reason: str) -> str:
    """``--ocr`` on an image translated one by one, whose recognised text could not be read."""
    name = escape(source_url.rsplit("/", 1)[-1] or source_url)
    return f"The recognised text of {name} could not be read: {escape(reason.rstrip('.'))}."


def ocr_text(source_url: str, lines: Sequence[Any]) -> str:
    """The recognised text of one image and its translation, as a readable list."""
    name = escape(source_url.rsplit("/", 1)[-1] or source_url)
    rows = "\n".join(f"• {escape(line.source)} → {escape(line.target)}" for line in lines)
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

• `/translate zh>en 我是中国人` — translate text (`--engine deepl` or `--engine googlellm`, `--private`)
• `/translate-image zh>ko https://example.com/a.jpg` — translate the text in images, up to 20 URLs (`--removed`, `--ocr`, `--fast`/`--best`, `--engine google`: aliyun, google, papago, baidu, deepl or chatgpt)
• `/translate-doc en>ja https://example.com/guide.docx` — translate a document; the translated file lands in the thread (`--scene tech`)
• `/cutout https://example.com/a.png --bg 255,255,255` — remove the background
• React to a message with a flag (:flag-kr:, :jp:, :us: …) — its text and images are translated into that language, in its thread
• *Translate…* in a message's ⋯ menu — the same, with languages and options picked in a form (works inside threads)
• `/tolk config auto-images on zh>ko` — translate every image posted in this channel (`--engine papago`: its engine, for flags and the Translate… form too)
• `/tolk config auto-docs on en>ja` — translate every document posted in this channel
• `/tolk config defaults zh>en` — languages used when a command or flag does not name them
• `/tolk config quota-threshold 500` — warn in the thread when a service has fewer left
• `/tolk config show` — this channel's settings
• `/tolk tasks` — pending tasks in this channel
• `/tolk cancel T7Q2K` — stop a task · `/tolk retry T7Q2K` — run a failed or expired task again
• `/tolk quota` — what is left of each service, and who used how much

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


def cannot_retry(task_id: str, state: str) -> str:
    return f"Task `{task_id}` is {state}; only failed, expired or cancelled tasks can be retried."


def retrying(old_id: str, new_id: str) -> str:
    return f"Retrying task `{old_id}` as task `{new_id}`."


# --- channel settings ------------------------------------------------------------------


def config_on_off(setting: str, usage: str) -> str:
    return f"Write `/tolk config {setting} on zh>ko` or `/tolk config {setting} off`.\n{usage}"


def config_needs_language(setting: str, usage: str) -> str:
    return f"`{setting}` needs one language or pair, e.g. `zh>ko` or `en`.\n{usage}"


def config_needs_number(usage: str) -> str:
    return (
        f"`quota-threshold` needs a whole number, e.g. `/tolk config quota-threshold 500`.\n{usage}"
    )


def admins_only(admins: Sequence[str]) -> str:
    names = ", ".join(f"<@{a}>" for a in sorted(admins))
    return f"Only Tolk admins ({names}) can change this channel's settings. `/tolk config show` shows them."


def _route(route: Any, default_source: str) -> str:
    if route is None:
        return "off"
    provider = f" via {route.provider}" if getattr(route, "provider", None) else ""
    engine = engine_note(getattr(route, "engine", None))
    return f"{route.source or default_source}→{route.target}{provider}{engine}"


def config_show(config: Any, default_threshold: int) -> str:
    threshold = (
        config.quota_threshold
        if config.quota_threshold is not None
        else f"{default_threshold} (default)"
    )
    defaults = _route(config.defaults, "auto") if config.defaults else "none"
    return (
        "*Tolk settings for this channel*\n"
        f"• auto-images: {_route(config.auto_images, 'zh')}\n"
        f"• auto-docs: {_route(config.auto_docs, 'auto')}\n"
        f"• defaults: {defaults}\n"
        f"• quota-threshold: {threshold}"
    )


def quota_unavailable() -> str:
    return "Remaining counts are not available: no Xiangji keys are configured."


def config_changed(user: str, setting: str, value: str) -> str:
    return f":gear: <@{user}> set `{setting}` to {value} for this channel."


# --- message translations (reactions, shortcut, uploads) -------------------------------


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


REFINE_BUTTONS = 5  # more images than this: one menu instead of a row of buttons


def refine_elements(task_id: str, refine: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    """Refine buttons (``tolk_refine_<n>``, value ``<task>:<index>``), or one menu."""
    if len(refine) > REFINE_BUTTONS:
        options = [
            {
                "text": {"type": "plain_text", "text": clip(f"{index + 1} · {name}", 75)},
                "value": f"{task_id}:{index}",
            }
            for index, name in refine[:100]
        ]
        placeholder = {"type": "plain_text", "text": "Refine an image…"}
        return [
            {
                "type": "static_select",
                "action_id": "tolk_refine_pick",
                "placeholder": placeholder,
                "options": options,
            }
        ]
    return [
        {
            "type": "button",
            "action_id": f"tolk_refine_{index + 1}",
            "value": f"{task_id}:{index}",
            "text": {
                "type": "plain_text",
                "text": "Refine" if len(refine) == 1 else f"Refine {index + 1}",
            },
        }
        for index, _ in refine
    ]


def refine_link(url: str, what: str, minutes: int) -> tuple[str, list[dict[str, Any]]]:
    """The ephemeral answer to Refine: a link for the person who pressed it."""
    text = (
        f":art: Your editor link for {what}. It is yours alone and works for {minutes} "
        "minutes; save in the editor and the refined image comes back to this thread."
    )
    button = {
        "type": "button",
        "action_id": "tolk_refine_open",
        "text": {"type": "plain_text", "text": "Open the editor"},
        "url": url,
        "style": "primary",
    }
    blocks = [*sections(text), {"type": "actions", "elements": [button]}]
    return f"{text} {url}", blocks


def refine_unavailable(task_id: str, why: str) -> str:
    return f"That image of task `{task_id}` cannot be refined: {why}."


def refine_needs_public_url() -> str:
    return (
        "Refine opens a page served by Tolk, and this Tolk has no public address: "
        "an admin sets `TOLK_PUBLIC_URL` to turn it on."
    )


def refine_image_label(noun: str, number: int, task_id: str, name: str) -> str:
    """How Refine names an image in Slack: ``image 2 of task `T7Q2K` (shoe.png)``."""
    return f"{noun} {number} of task `{task_id}` ({escape(name)})"


# What the Refine page and its result POST say (handlers/web/refine.py); the page's script shows
# REFINE_PAGE by state.
REFINE_LINK_INVALID = (
    "This Refine link has expired or is not valid. Press Refine under the image in Slack "
    "for a new one."
)
REFINE_IMAGE_GONE = "That image is no longer there to refine."
REFINE_LINK_SPENT = (
    "This link has already sent its refined image to Slack. To refine the image again, "
    "press Refine in Slack for a new link."
)
REFINE_FOREIGN_ORIGIN = "Results are accepted only from Tolk's own Refine page."
REFINE_NOT_JSON_TYPE = "Send the editor's message as application/json."
REFINE_TOO_LARGE = "That result is larger than an editor's message can be."
REFINE_NOT_JSON = "The result is not JSON."
REFINE_NO_URL = "The message carries no refined URL for this link's image."
REFINE_HOST_REFUSED = "The refined image is not on a host Tolk downloads from."


def refine_wrong_message(expected: str) -> str:
    return f"Expected the editor's {expected} message."


def refine_page_texts(minutes: int) -> dict[str, str]:
    return {
        "loading": "Loading Xiangji's editor…",
        "editing": "Edit, then save in the editor: the result goes to the Slack thread "
        f"(this link works for {minutes} minutes).",
        "sending": "Sending the refined image to Slack…",
        "accepted": "Sent: the refined image is on its way to the Slack thread.",
        "already-sent": "Already sent to Slack. For another version, press Refine again.",
        "unchanged": "Nothing changed yet: edit the image, then save.",
        "refused": "Tolk did not take the result.",
        "unreachable": "Could not reach Tolk: ",
    }


def refined_comment(user: str, what: str) -> str:
    return f":art: Refined by <@{user}> in Xiangji's editor · {what}"


def refine_failed(user: str, what: str, reason: str) -> str:
    return f":warning: The image <@{user}> refined ({what}) could not be posted: {escape(reason)}."


def message_translation(
    translated: str,
    source: str | None,
    target: str,
    task_id: str,
    origin: dict[str, str] | None,
    user: str,
) -> dict[str, Any]:
    """A message's translation in its thread; ``translated`` is Slack mrkdwn."""
    body, attachment = _long_text(translated, task_id, target)
    text = f"{body}\n_{_lang(source)}→{target} for <@{user}>_"
    return {"text": clip(text, 3000), "blocks": result_blocks(text, task_id, origin), **attachment}


def cannot_tell_language() -> str:
    return "could not tell the text's language; set `/tolk config defaults zh>en` or use the Translate… shortcut to name it"


def file_too_large(name: str, limit: int) -> str:
    return f"{name} is larger than {limit // (1024 * 1024)} MB"


def not_an_image(name: str) -> str:
    return f"{name} is not a PNG, JPEG, GIF or BMP image"


def not_a_slack_file(name: str) -> str:
    return f"{name} is not stored in Slack"


def too_many_files(limit: int) -> str:
    return f"one message can carry up to {limit} images; post the rest in another message"


def nothing_to_translate() -> str:
    return "That message has no text or images to translate."


# --- the Translate… shortcut -----------------------------------------------------------

MODAL_LANGUAGES = (
    "en",
    "zh",
    "zh-TW",
    "ja",
    "ko",
    "de",
    "fr",
    "es",
    "pt",
    "it",
    "ru",
    "ar",
    "th",
    "vi",
    "id",
    "ms",
    "tr",
    "pl",
    "nl",
)


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": clip(label, 75)}, "value": value}


def translate_modal(
    metadata: str,
    languages: Sequence[tuple[str, str]],
    target: str,
    source: str | None,
    *,
    engines: Sequence[str] = (),
    engine: str | None = None,
) -> dict[str, Any]:
    """The "Translate…" form. ``languages``: (code, English name) pairs; ``engines``: the
    Xiangji image engines to offer (an "Image engine" select, starting at ``engine``),
    empty when there is no choice to make."""
    options = [_option(code, f"{name} ({code})") for code, name in languages][:99]  # + "auto"
    by_code = {o["value"]: o for o in options}
    source_options = [_option("auto", "Detect (text) / Chinese (images)"), *options]
    source_initial = by_code.get(source or "", source_options[0])
    return {
        "type": "modal",
        "callback_id": "tolk_translate_modal",
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Translate"},
        "submit": {"type": "plain_text", "text": "Translate"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "target",
                "label": {"type": "plain_text", "text": "Into"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": options,
                    "initial_option": by_code.get(target, options[0]),
                },
            },
            {
                "type": "input",
                "block_id": "source",
                "label": {"type": "plain_text", "text": "From"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": source_options,
                    "initial_option": source_initial,
                },
            },
            {
                "type": "input",
                "block_id": "provider",
                "label": {"type": "plain_text", "text": "Provider"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [_option("xiangji", "Xiangji")],
                    "initial_option": _option("xiangji", "Xiangji"),
                },
            },
            *_engine_block(engines, engine),
            {
                "type": "input",
                "block_id": "documents",
                "optional": True,
                "label": {"type": "plain_text", "text": "Documents"},
                "hint": {
                    "type": "plain_text",
                    "text": "Who translates the message's documents (Word, PDF …).",
                },
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [_option("alibaba", "Alibaba"), _option("rozetta", "Rozetta")],
                    "initial_option": _option("alibaba", "Alibaba"),
                },
            },
            {
                "type": "input",
                "block_id": "quality",
                "optional": True,
                "label": {"type": "plain_text", "text": "Images"},
                "element": {
                    "type": "radio_buttons",
                    "action_id": "value",
                    "options": [
                        _option("default", "Standard"),
                        _option("fast", "Fast"),
                        _option("best", "Best quality"),
                    ],
                    "initial_option": _option("default", "Standard"),
                },
            },
            {
                "type": "input",
                "block_id": "options",
                "optional": True,
                "label": {"type": "plain_text", "text": "Also post"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "value",
                    "options": [_option("removed", "the image with its text removed")],
                },
            },
        ],
    }


def _engine_block(engines: Sequence[str], engine: str | None) -> list[dict[str, Any]]:
    if not engines:
        return []
    options = [_option(name, engine_label(name)) for name in engines]
    initial = next((o for o in options if o["value"] == engine), options[0])
    return [
        {
            "type": "input",
            "block_id": "engine",
            "optional": True,
            "label": {"type": "plain_text", "text": "Image engine"},
            "hint": {
                "type": "plain_text",
                "text": "Which of Xiangji's engines translates the message's images.",
            },
            "element": {
                "type": "static_select",
                "action_id": "value",
                "options": options,
                "initial_option": initial,
            },
        }
    ]


def modal_error(detail: str) -> str:
    return clip(detail, 150)


# --- quota (alerts and `/tolk quota`: the only messages that say "quota") --------------

_QUOTA_UNITS = {"text translation": "characters"}  # every other service counts images


def quota_alert(service: str, left: int, threshold: int) -> str:
    return (
        f":warning: Xiangji quota low: {service} has {left} left (threshold {threshold}). "
        "Top up the Xiangji account before it runs out."
    )


def quota_error_alert(
    service: str, code: str, meaning: str, *, left: int | None = None, provider: str = "Xiangji"
) -> str:
    count = f"{left} left" if left is not None else "remaining count unknown"
    return (
        f":rotating_light: {provider} quota: {service} was refused with error {escape(code)} — {escape(meaning)} "
        f"({count}). Top up or activate the service, then `/tolk retry` the task."
    )


#: How `/tolk quota` says text spend that is a range (Google, Papago, DeepL: seed 002 四.4).
QUOTA_ESTIMATE_NOTE = (
    "(an estimate: Xiangji bills Google, Papago and DeepL text at 3–4.5× the characters)"
)


def _units(value: Any) -> tuple[int, int]:
    """A spend as stored: a number (exact), or ``[low, high]`` (an estimate)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return int(value[0]), int(value[1])
    return int(value or 0), int(value or 0)


def _quota_amount(service: str, value: Any) -> str:
    low, high = _units(value)
    unit = _QUOTA_UNITS.get(service, "images")
    if low == high:
        return f"{service} {low:,} {unit}"
    return f"{service} ~{low:,}–{high:,} {unit} of quota {QUOTA_ESTIMATE_NOTE}"


def _quota_spent(row: dict[str, Any]) -> str:
    return " · ".join(_quota_amount(service, units) for service, units in sorted(row.items()))


def _quota_spenders(rows: dict[str, dict[str, Any]], mention: str) -> list[str]:
    def total(row: dict[str, Any]) -> int:
        return sum(_units(v)[1] for v in row.values())

    ordered = sorted(rows.items(), key=lambda kv: (-total(kv[1]), kv[0]))
    return [f"• {mention.format(who)}: {_quota_spent(row)}" for who, row in ordered if row]


def quota_report(
    rows: Sequence[tuple[str, int | None, int | None, float | None]],
    by_channel: dict[str, dict[str, Any]],
    by_user: dict[str, dict[str, Any]],
    *,
    threshold: int | None,
    shown_only: Sequence[str] = (),
) -> str:
    """``rows``: (service, left now or None, last known left, seconds since it was read),
    one per configured key; ``shown_only``: services Tolk never spends (no alerts).
    Spend: images, or characters of text quota (a ``[low, high]`` range is an estimate)."""
    if not rows:
        lines = ["*Xiangji quota*: no Xiangji service is configured, so there is nothing to count."]
    else:
        lines = [f"*Xiangji quota* (alerts below {threshold} unless a channel sets its own)"]
        for service, left, last, age in rows:
            note = " (not used by Tolk; no alerts)" if service in shown_only else ""
            if left is not None:
                lines.append(f"• {service}: {left} left{note}")
            elif last is not None and age is not None:
                lines.append(
                    f"• {service}: could not be read just now; {last} left {_age(age)} ago{note}"
                )
            else:
                lines.append(f"• {service}: could not be read just now{note}")
    channels = _quota_spenders(by_channel, "<#{}>")
    users = _quota_spenders(by_user, "<@{}>")
    if not channels and not users:
        lines.append("Nothing spent through Tolk yet.")
    else:
        lines += ["*Spent through Tolk, by channel*", *channels, "*By person*", *users]
    return "\n".join(lines)


# --- home and actions ------------------------------------------------------------------
# App Home (handlers/slack/home.py) and the "Delete" button on result messages
# (handlers/slack/actions.py). The Home tab may name the quota; the removal notes never do.

HOME_MAX_BLOCKS = 100  # Slack's limit for a Home tab view
HOME_MAX_SECTION = 3000  # characters in one section's text


def home_task_line(
    task_id: str,
    what: str,
    state: str,
    age: float,
    channel: str,
    link: str | None,
    removed: bool = False,
) -> str:
    """One task on the Home tab: id, what, state, age, where, and a link to its thread."""
    where = f"<#{channel}> · <{link}|open thread>" if link else f"<#{channel}>"
    note = " · results removed" if removed else ""
    return f"• `{task_id}` {what} — {state}, {_age(age)} ago · {where}{note}"


def home_quota_lines(quota: dict[str, int | None] | None) -> str:
    if quota is None:
        return "Quota not available."
    if not quota:
        return "No service with a quota is configured."
    return "\n".join(
        f"• {name}: {left:,} left" if left is not None else f"• {name}: unknown right now"
        for name, left in sorted(quota.items())
    )


def _home_route(route: Any, what: str) -> str:
    if route is None:
        return f"{what} off"
    via = f" via {route.provider}" if getattr(route, "provider", None) else ""
    engine = engine_note(getattr(route, "engine", None))
    return f"{what} {_lang(route.source)}→{route.target}{via}{engine}"


def home_channel_line(channel: str, config: Any, default_threshold: int) -> str:
    """``config``: a ``bot.core.channels.ChannelConfig`` (defaults, auto_images, auto_docs, threshold)."""
    defaults = config.defaults
    languages = (
        f"defaults {_lang(defaults.source)}→{defaults.target}"
        if defaults
        else "no default languages"
    )
    threshold = (
        f"alert below {config.quota_threshold:,}"
        if config.quota_threshold is not None
        else f"alert below {default_threshold:,} (default)"
    )
    parts = [
        languages,
        _home_route(config.auto_images, "auto-translate images"),
        _home_route(config.auto_docs, "auto-translate documents"),
        threshold,
    ]
    return f"• <#{channel}>: " + " · ".join(parts)


def _home_sections(title: str, lines: Sequence[str], empty: str) -> list[dict[str, Any]]:
    """``title`` and ``lines`` as mrkdwn sections, each under Slack's 3,000 characters."""
    if not lines:
        lines = [empty]
    blocks: list[dict[str, Any]] = []
    text = f"*{title}*"
    for line in lines:
        line = line if len(line) < HOME_MAX_SECTION else line[: HOME_MAX_SECTION - 2] + "…"
        if len(text) + 1 + len(line) > HOME_MAX_SECTION:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            text = line
        else:
            text = f"{text}\n{line}"
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks


def home_view(
    *,
    pending: Sequence[str],
    recent: Sequence[str],
    quota: str,
    channels: Sequence[str],
    updated_at: float,
) -> dict[str, Any]:
    """The Home tab: lines from ``home_task_line``, ``home_quota_lines``, ``home_channel_line``."""
    stamp = int(updated_at)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your Tolk tasks"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Updated <!date^{stamp}^{{date_short_pretty}} at {{time}}|just now> · "
                    "`/tolk help` lists the commands",
                }
            ],
        },
        *_home_sections(
            f"Pending ({len(pending)})",
            pending,
            "Nothing pending. Try `/translate-image zh>ko https://example.com/a.jpg`.",
        ),
        {"type": "divider"},
        *_home_sections(f"Recent ({len(recent)})", recent, "No finished tasks yet."),
        {"type": "divider"},
        *_home_sections("Quota left", [quota], ""),
        {"type": "divider"},
        *_home_sections(
            "Settings of your channels", channels, "You have no tasks in any channel yet."
        ),
    ]
    if len(blocks) > HOME_MAX_BLOCKS:
        more = {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "More is not shown here; `/tolk tasks` lists a channel's pending tasks.",
                }
            ],
        }
        blocks = [*blocks[: HOME_MAX_BLOCKS - 1], more]
    return {"type": "home", "blocks": blocks}


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


# --- what people type (the mistakes seen in trials) ------------------------------------


def _typed(text: str, limit: int = 120) -> str:
    """What the person typed, quoted back inside a code span: one line, no backticks."""
    line = " ".join(text.replace("`", "'").split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def pair_suggestion(written: str, why: str, corrected: str, usage: str, note: str = "") -> str:
    """``written``: the languages as typed; ``why``: ``two`` (two languages, no ``>``) or
    ``spaced`` (spaces around ``>``); ``corrected``: the whole command as it should be."""
    problem = (
        f"`{_typed(written, 60)}` has spaces around `>`."
        if why == "spaced"
        else f"`{_typed(written, 60)}` names two languages without a `>` between them."
    )
    return (
        f"{problem} Did you mean `{_typed(corrected)}`? Write the source, `>` and the target "
        f"with no spaces, like `zh>en`.{note}\n{usage}"
    )


def pair_suggestion_text_note(word: str, corrected: str) -> str:
    return (
        f" If `{_typed(word, 40)}` is part of the text, name the text's language first: "
        f"`{_typed(corrected)}`."
    )


def unknown_option_near(token: str, suggestion: str, usage: str) -> str:
    return f"Unknown option `{_typed(token, 60)}` — did you mean `{suggestion}`?\n{usage}"


def option_in_text(token: str, usage: str) -> str:
    return (
        f"Unknown option `{_typed(token, 60)}`. To translate a word that starts with `--`, "
        f"put it in backticks (`` `{_typed(token, 60)}` ``).\n{usage}"
    )


def option_takes_no_value(token: str, name: str, usage: str) -> str:
    return f"`{_typed(token, 60)}`: `--{name}` takes no value; write just `--{name}`.\n{usage}"


def takes_no_options(what: str, token: str, usage: str) -> str:
    return f"`{what}` takes no options such as `{_typed(token, 60)}`.\n{usage}"


def config_number_not_negative(value: str, usage: str) -> str:
    return (
        f"`quota-threshold` must be zero or more, not `{_typed(value, 30)}`: write a whole "
        f"number like `/tolk config quota-threshold 500` (`0` turns this channel's alerts "
        f"off).\n{usage}"
    )


def auto_docs_needs_source(target: str) -> str:
    example = "zh" if target == "en" else "en"
    return (
        "Alibaba document translation needs the documents' language: write "
        f"`/tolk config auto-docs on SRC>{target}` (e.g. `{example}>{target}`), or "
        f"`/tolk config auto-docs on {target} --provider rozetta` to have Rozetta detect it."
    )


def flag_documents_skipped(reason: str) -> str:
    return f"The documents in that message were not translated: {reason}"


def flag_documents_need_source(target: str) -> str:
    return (
        "Alibaba needs the documents' language to translate them into "
        f"`{target}`: set it for this channel with `/tolk config defaults SRC>{target}` "
        f"(e.g. `{'zh' if target == 'en' else 'en'}>{target}`), or use the Translate… shortcut "
        "on the message and pick it there."
    )


# Refine: the editor's message names a URL that is not this image's result.
REFINE_RESULT_DISAGREES = (
    "The editor's message gives two different refined URLs for this link's image; nothing was sent."
)
REFINE_NOT_THIS_IMAGE = (
    "That URL is not the editor's refined image for this link's image; nothing was sent."
)


def not_yours_to_change(task_id: str, action: str, owner: str, admins: Sequence[str]) -> str:
    """Cancel or retry refused: who may do it — the requester, and the Tolk admins
    (``TOLK_ADMINS``) or, without that list, the workspace's admins and owners."""
    if admins:
        names = ", ".join(f"<@{a}>" for a in sorted(admins))
        others = f"a Tolk admin ({names})"
    else:
        others = "a workspace admin or owner"
    return (
        f"Only the person who started task `{task_id}` (<@{owner}>) or {others} can "
        f"{action} it. Nothing was changed."
    )


# --- Slack files given by link (issue 16: the bot token opens only what the person sees) ---


def slack_file_not_visible() -> str:
    return (
        "That Slack file is not visible here: it is not shared in this conversation, and it "
        "is not yours, so Tolk will not open it for you. To translate it, share it in this "
        "channel (or upload it here) and give that link again — or react to its message "
        "with a flag, or use the Translate… shortcut on it."
    )


def slack_file_unchecked() -> str:
    return (
        "Tolk could not check with Slack just now whether that file is shared here, so it "
        "did not take it. Try again in a moment."
    )


def slack_address_not_a_file(url: str) -> str:
    return (
        f"`{_typed(url, 100)}` is a Slack address, not a Slack file: Tolk opens only a "
        "file's own link (`https://files.slack.com/files-pri/…`), never other Slack pages "
        "or Slack's API. To translate a file from Slack, share it in this channel or upload "
        "it here, and give its link."
    )


def slack_address_not_an_image(url: str) -> str:
    return (
        f"`{_typed(url, 100)}` is a Slack address, not a public image link: Tolk does not "
        "send Slack links to the image service. For an image posted in Slack, react to its "
        "message with a flag or use the Translate… shortcut on it."
    )


# --- Media jobs whose outputs Tolk could not read (issue 17, item 7) ----------------------
# ``how`` Tolk came to read from an OSS endpoint: "configured" (ALIBABA_OSS_ENDPOINT),
# "named" (the host the ``oss://`` location names) or "guessed" (it names none: the default).

MEDIA_UNREAD_SHOWN = 20  # outputs listed one by one; the rest are counted


def _oss_code(text: str) -> str:
    """A value shown inside `…`: escaped, and no backtick to end the span early."""
    return escape(text).replace("`", "'")


def _oss_endpoint_said(endpoint: str, how: str) -> str:
    shown = _oss_code(endpoint)
    if how == "guessed":
        return f"no OSS endpoint is set (`ALIBABA_OSS_ENDPOINT`) and the `oss://` location names none, so Tolk guessed `{shown}`"
    return f"no OSS endpoint is set (`ALIBABA_OSS_ENDPOINT`), so Tolk used `{shown}`, the one the `oss://` location names"


def oss_not_allowed(host: str, endpoint: str, how: str) -> str:
    """Why an output on a host Tolk does not download from was not attached."""
    shown = _oss_code(host)
    if how == "configured":
        return f"Tolk does not download from `{shown}` (not in `TOLK_ALLOWED_FILE_HOSTS`)"
    return (
        f"{_oss_endpoint_said(endpoint, how)}, and `{shown}` is not a host Tolk downloads "
        "from (`TOLK_ALLOWED_FILE_HOSTS`)"
    )


def oss_not_allowed_fix(host: str, how: str) -> str:
    if how == "configured":
        return f"add `{_oss_code(host)}` to `TOLK_ALLOWED_FILE_HOSTS`"
    return (
        "set `ALIBABA_OSS_ENDPOINT` to the OSS endpoint of the output bucket's region (e.g. "
        "`oss-cn-shanghai.aliyuncs.com`) and allow that host in `TOLK_ALLOWED_FILE_HOSTS` "
        "(its default, `*.aliyuncs.com`, does)"
    )


def oss_refused(status: int, endpoint: str, how: str) -> str:
    """Why an output OSS would not hand over (401/403) was not attached."""
    reason = f"OSS refused to hand it over (HTTP {status})"
    return reason if how == "configured" else f"{reason}; {_oss_endpoint_said(endpoint, how)}"


def oss_refused_fix(bucket: str) -> str:
    return (
        "give the RAM user of `ALIBABA_ACCESS_KEY_ID` read access (`oss:GetObject`) to "
        f"bucket `{_oss_code(bucket)}`, and check that `ALIBABA_OSS_ENDPOINT` is in that "
        "bucket's region"
    )


def oss_gone(status: int) -> str:
    """Why an output OSS no longer has (404/410) was not attached: nothing to configure."""
    return (
        f"OSS has no such object any more (HTTP {status}): it was moved or deleted "
        "(a lifecycle rule?) after the job"
    )


def oss_unreachable(detail: str, endpoint: str, how: str) -> str:
    """Why an output that cannot be read in any other way was not attached."""
    reason = f"it could not be read: {escape(detail)}"
    return reason if how == "configured" else f"{reason}; {_oss_endpoint_said(endpoint, how)}"


def oss_unreachable_fix(endpoint: str, how: str) -> str:
    if how == "configured":
        return f"check that `ALIBABA_OSS_ENDPOINT` (`{_oss_code(endpoint)}`) is the output bucket's OSS endpoint"
    return "set `ALIBABA_OSS_ENDPOINT` to the output bucket's OSS endpoint"


def media_done_unread(
    task_id: str,
    function: str,
    job_id: str | None,
    files: int,
    locations: Sequence[str],
    reasons: Sequence[str],
    fixes: Sequence[str],
    summary: str | None = None,
) -> str:
    """A job that succeeded with outputs Tolk could not attach: each one's ``oss://``
    location and why (``reasons``, Tolk's own words, one per location), then what an
    admin changes and how to have them brought here afterwards."""
    one = len(locations) == 1
    count = "1 output" if one else f"{len(locations)} outputs"
    if files:
        attached = "1 file" if files == 1 else f"{files} files"
        head = f"{function} succeeded — {attached} in this thread (task `{task_id}`). Tolk"
    else:
        head = f"{function} succeeded (task `{task_id}`), but Tolk"
    lines = [
        f":white_check_mark: {head} could not attach {count}; {'it is' if one else 'they are'} in OSS:"
    ]
    said = list(dict.fromkeys(reasons))
    for where, why in list(zip(locations, reasons, strict=False))[:MEDIA_UNREAD_SHOWN]:
        lines.append(f"• `{_oss_code(where)}`" + ("" if len(said) == 1 else f" — {why}"))
    if len(locations) > MEDIA_UNREAD_SHOWN:
        lines.append(f"• … and {len(locations) - MEDIA_UNREAD_SHOWN} more")
    if len(said) == 1:  # one reason for all: said once
        lines.append(f"Why: {said[0]}.")
    if fixes:
        them = "it" if one else "them"
        again = (
            f" Then `/media-job status {_oss_code(job_id)}` brings {them} here." if job_id else ""
        )
        lines.append(f"To fix it, an admin can {'; '.join(dict.fromkeys(fixes))}.{again}")
    if summary:
        lines.append(summary)
    return "\n".join(lines)
