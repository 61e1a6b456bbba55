"""``/tolk glossary list | add | remove | export | import``: the workspace's glossary
(issue 21; ``bot.core.glossary``), and a CSV uploaded to import into it.

Anyone lists and exports it; Tolk's admins change it (``tolk_admin``: ``TOLK_ADMINS``
when it is set, else the workspace's admins and owners — the rule of language sets).

An export is a CSV file sent to the asking person's DM with Tolk (the DM always takes a
file; a channel Tolk is not in does not). An import is a CSV shared in a channel: with
the message text ``/tolk glossary import``, or as the person's next CSV in the channel
where they typed ``/tolk glossary import`` (for ``IMPORT_MINUTES``). Such an upload is
taken here and nowhere else: this module registers before ``uploads`` and Bolt runs the
first listener that matches. A CSV is read all or nothing, and merged: a term in the
file replaces that term's entries; the others stay.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from bot.core.fetch import FileTooLarge
from bot.core.glossary import (
    MAX_CSV_BYTES,
    MAX_ENTRIES,
    TOO_BIG,
    UNKNOWN_LANGUAGE,
    Glossary,
    GlossaryError,
    Problem,
    Term,
    make_term,
)
from bot.core.languages import LanguageError, lookup
from bot.core.mrkdwn import unescape
from handlers import ports
from handlers.slack.parsing import UsageError
from handlers.slack.tolk import tolk_admin

log = logging.getLogger(__name__)

ACTIONS = ("list", "add", "remove", "export", "import")
CHANGES = frozenset({"add", "remove", "import"})  # for Tolk's admins
IMPORT_COMMAND = "/tolk glossary import"
IMPORT_MINUTES = 10
EXPORT_NAME = "glossary.csv"
#: Slack waits 3 s for a command's answer: the DM and its file must leave time for it.
EXPORT_SECONDS = 2.5


def register(app: AsyncApp) -> None:
    app.command("/tolk", matchers=[is_glossary])(on_glossary)
    app.event({"type": "message", "subtype": "file_share"}, matchers=[is_import])(on_import)


# --- the command ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GlossaryCommand:
    action: str
    term: Term | None = None  # add: the entry, checked
    name: str = ""  # remove: the term as typed


async def is_glossary(command: dict[str, Any]) -> bool:
    words = str(command.get("text") or "").split(maxsplit=1)
    return bool(words) and words[0].lower() == "glossary"


async def on_glossary(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    desk, config, slack = ports.desk(context), ports.config(context), ports.slack(context)
    team, user = command.get("team_id", ""), command["user_id"]
    try:
        cmd = parse_glossary(command.get("text", ""))
    except UsageError as exc:
        await ack(text=str(exc))
        return
    if cmd.action in CHANGES and not await tolk_admin(slack, config, user):
        await ack(text=messages.glossary_admins_only(sorted(config.admins)))
        return
    glossary = await desk.glossary(team)
    if cmd.action == "list":
        await ack(**messages.glossary_list(glossary.entries))
    elif cmd.action == "export":
        await ack(text=await _export(slack, user, glossary))
    elif cmd.action == "import":
        until = desk.now() + IMPORT_MINUTES * 60
        await desk.expect_glossary_import(team, command["channel_id"], user, until)
        await ack(text=messages.glossary_import_how(IMPORT_MINUTES))
    elif cmd.action == "add":
        assert cmd.term is not None
        try:
            changed, replaced = glossary.add(cmd.term)
        except GlossaryError:
            await ack(text=messages.glossary_full(MAX_ENTRIES))
            return
        await desk.save_glossary(team, changed)
        entry = cmd.term
        text = messages.glossary_added(
            user, entry.term, entry.translation, entry.lang, replaced is not None
        )
        await ack(response_type="in_channel", text=text)
    else:  # remove
        changed, gone = glossary.remove(cmd.name)
        if not gone:
            await ack(text=messages.glossary_no_term(cmd.name, near(glossary, cmd.name)))
            return
        await desk.save_glossary(team, changed)
        text = messages.glossary_removed(user, gone[0].term, len(gone))
        await ack(response_type="in_channel", text=text)


def near(glossary: Glossary, term: str) -> list[str]:
    """The glossary's terms most like ``term`` (any case), best first."""
    terms = {t.casefold(): t for t in glossary.terms()}
    found = difflib.get_close_matches(term.strip().casefold(), list(terms), n=5, cutoff=0.6)
    return [terms[f] for f in found]


async def _export(slack: AsyncWebClient, user: str, glossary: Glossary) -> str:
    """The glossary as a CSV in ``user``'s DM with Tolk; what the command answers."""
    try:
        async with asyncio.timeout(EXPORT_SECONDS):
            opened = await slack.conversations_open(users=user)
            await slack.files_upload_v2(
                channel=opened["channel"]["id"],
                file=glossary.to_csv(),
                filename=EXPORT_NAME,
                title=EXPORT_NAME,
                initial_comment=messages.glossary_export_comment(len(glossary)),
            )
    except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError, KeyError) as exc:
        log.warning("glossary export to %s's DM failed: %s", user, exc)
        return messages.glossary_export_failed()
    return messages.glossary_exported(len(glossary))


# --- parsing ---------------------------------------------------------------------------------
#
# ``add TERM``, ``add TERM = TRANSLATION [--lang L]``, ``add TERM =L:TRANSLATION``;
# ``remove TERM``. A term or translation is one word, or several in one pair of quotes
# ("…" or “…”) — or several words unquoted, taken as typed. Slack sends &, < and > escaped:
# a term is kept as the person wrote it.

_OPEN = '"“”„'
_CLOSE = '"“”'
_EQUALS = "=＝"
_OPTION = re.compile(r"(?:--|—|–)[A-Za-z][A-Za-z0-9-]*(?:=\S*)?")
_LANG_PREFIX = re.compile(r"([A-Za-z][A-Za-z-]{1,19}):(.*)", re.S)


@dataclass(frozen=True)
class _Tok:
    kind: str  # "q" quoted, "w" word, "eq" an equals sign, "opt" an option
    value: str
    start: int
    end: int


def _tokens(text: str, usage: str) -> list[_Tok]:
    found: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _OPEN:
            close = next((j for j in range(i + 1, n) if text[j] in _CLOSE), -1)
            if close < 0:
                raise UsageError(messages.glossary_bad_quotes(usage))
            found.append(_Tok("q", text[i + 1 : close], i, close + 1))
            i = close + 1
        elif c in _EQUALS:
            found.append(_Tok("eq", c, i, i + 1))
            i += 1
        elif (option := _OPTION.match(text, i)) and (
            option.end() == n or text[option.end()].isspace()
        ):
            found.append(_Tok("opt", option.group(), i, option.end()))
            i = option.end()
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _EQUALS + _OPEN:
                j += 1
            found.append(_Tok("w", text[i:j], i, j))
            i = j
    return found


def _phrase(text: str, tokens: list[_Tok], usage: str) -> str:
    """What ``tokens`` say as one term or translation: a quoted one's inside, or the
    words as typed (equals signs among them included)."""
    if not tokens:
        return ""
    if len(tokens) == 1 and tokens[0].kind == "q":
        return tokens[0].value
    if any(t.kind == "q" for t in tokens):
        raise UsageError(messages.glossary_bad_quotes(usage))
    return text[tokens[0].start : tokens[-1].end]


def _options(tokens: list[_Tok], usage: str) -> tuple[list[_Tok], str | None]:
    """The tokens without the options, and ``--lang``'s value. Options go last."""
    rest: list[_Tok] = []
    lang: str | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind != "opt":
            if lang is not None:
                raise UsageError(messages.glossary_options_last(usage))
            rest.append(tok)
            i += 1
            continue
        name, _, value = tok.value.lstrip("-—–").partition("=")
        if name.lower() != "lang":
            raise UsageError(messages.unknown_option(tok.value, usage))
        if not value:
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            if following is None or following.kind not in ("w", "q"):
                raise UsageError(messages.option_needs_value("lang", usage))
            value = following.value
            i += 1
        lang = value
        i += 1
    return rest, lang


def _language(word: str, usage: str) -> str:
    try:
        return lookup(word).code
    except LanguageError:
        raise UsageError(messages.glossary_entry_refused(UNKNOWN_LANGUAGE, word, usage)) from None


def parse_glossary(text: str) -> GlossaryCommand:
    """What follows ``/tolk`` (``glossary …``) as a command; ``UsageError`` says what
    is wrong and how to write it."""
    usage = messages.USAGE["glossary"]
    text = unescape(text)
    head = re.match(r"\s*\S+\s*(\S*)", text)
    assert head is not None  # the matcher saw "glossary" first
    action, rest = head.group(1).lower(), text[head.end() :]
    if not action:
        return GlossaryCommand("list")
    if action not in ACTIONS:
        raise UsageError(messages.unknown_choice("/tolk glossary", head.group(1), ACTIONS, usage))
    if action in ("list", "export", "import"):
        if rest.strip():
            raise UsageError(messages.glossary_takes_nothing(action, rest.strip(), usage))
        return GlossaryCommand(action)
    tokens, lang = _options(_tokens(rest, usage), usage)
    if action == "remove":
        if lang is not None:
            raise UsageError(messages.unknown_option("--lang", usage))
        name = _phrase(rest, tokens, usage)
        if not name.strip():
            raise UsageError(messages.glossary_needs_term("remove", usage))
        return GlossaryCommand("remove", name=name)
    equals = next((i for i, t in enumerate(tokens) if t.kind == "eq"), None)
    term = _phrase(rest, tokens if equals is None else tokens[:equals], usage)
    if not term.strip() and equals is None:
        raise UsageError(messages.glossary_needs_term("add", usage))
    translation: str | None = None
    if equals is not None:
        after = tokens[equals + 1 :]
        prefix = _LANG_PREFIX.fullmatch(after[0].value) if after and after[0].kind == "w" else None
        if prefix is not None and _known(prefix.group(1)):
            code = _language(prefix.group(1), usage)
            if lang is not None and _language(lang, usage) != code:
                raise UsageError(messages.glossary_two_languages(prefix.group(1), lang, usage))
            lang = code
            first = after[0]
            shift = len(prefix.group(1)) + 1
            after = [_Tok("w", prefix.group(2), first.start + shift, first.end), *after[1:]]
            if not prefix.group(2):
                after = after[1:]
        translation = _phrase(rest, after, usage)
    try:
        entry = make_term(term, translation, lang)
    except GlossaryError as exc:
        problem: Problem = exc.problems[0]
        raise UsageError(
            messages.glossary_entry_refused(problem.kind, problem.detail, usage)
        ) from None
    return GlossaryCommand("add", term=entry)


def _known(word: str) -> bool:
    try:
        lookup(word)
    except LanguageError:
        return False
    return True


# --- importing a CSV -------------------------------------------------------------------------


def asks_for_import(event: dict[str, Any]) -> bool:
    """The message's text is ``/tolk glossary import``."""
    return " ".join(str(event.get("text") or "").split()).lower() == IMPORT_COMMAND


def csv_files(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        f
        for f in event.get("files") or ()
        if f.get("url_private")
        and (
            PurePosixPath(str(f.get("name") or "").lower()).suffix == ".csv"
            or str(f.get("filetype") or "").lower() == "csv"
        )
    ]


def _where(event: dict[str, Any], context: dict[str, Any]) -> tuple[str, str, str]:
    team = str(context.get("team_id") or event.get("team") or "")
    return team, str(event.get("channel") or ""), str(event.get("user") or "")


async def is_import(event: dict[str, Any], context: dict[str, Any]) -> bool:
    """A person's upload that is a glossary import: marked so, or their next CSV where
    they asked for one."""
    if event.get("bot_id") or not event.get("user"):
        return False
    if asks_for_import(event):
        return True
    if not csv_files(event):
        return False
    return await ports.desk(context).glossary_import_expected(*_where(event, context))


async def on_import(event: dict[str, Any], context: dict[str, Any]) -> None:
    """Import the upload's CSV (all or nothing, merged) and say how it went in its thread."""
    desk, config, slack = ports.desk(context), ports.config(context), ports.slack(context)
    channels = ports.channels(context)
    team, channel, user = _where(event, context)
    ts = str(event.get("ts") or "")
    thread_ts = str(event.get("thread_ts") or ts)
    if not await channels.first_notice(f"glossary-import:{team}:{channel}:{ts}"):
        return  # this upload again (Slack retries an event it thinks was missed)
    if not asks_for_import(event) and not await desk.take_glossary_import(team, channel, user):
        return  # taken by another upload at the same moment

    async def say(text: str) -> None:
        await slack.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)

    if not await tolk_admin(slack, config, user):
        await say(messages.glossary_admins_only(sorted(config.admins)))
        return
    files = csv_files(event)
    if len(files) != 1:
        await say(messages.glossary_import_needs_csv())
        return
    file = files[0]
    name = str(file.get("name") or "glossary.csv")
    try:
        if int(file.get("size") or 0) > MAX_CSV_BYTES:
            raise GlossaryError([Problem(0, TOO_BIG, str(file.get("size")))])
        data = await _read(context, file, team)
        merged, added, replaced = (await desk.glossary(team)).merge(Glossary.from_csv(data))
    except GlossaryError as exc:
        await say(messages.glossary_import_refused(name, exc.problems))
        return
    except Exception:  # Slack could not hand it over now
        log.warning("glossary CSV %s could not be read", file.get("id"), exc_info=True)
        await say(messages.glossary_import_unreadable(name))
        return
    await desk.save_glossary(team, merged)
    await say(messages.glossary_imported(user, name, added, replaced, len(merged)))


async def _read(context: dict[str, Any], file: dict[str, Any], team: str) -> bytes:
    try:
        return await ports.files(context)(
            str(file["url_private"]), limit=MAX_CSV_BYTES, file_id=str(file.get("id")), team=team
        )
    except FileTooLarge:
        raise GlossaryError([Problem(0, TOO_BIG, str(MAX_CSV_BYTES + 1))]) from None
