"""The sandbox console: type what a person would do in Slack, read what Tolk answers.

Each line is a slash command as typed in Slack, or one of ``upload PATH…``,
``react :flag-kr: LAST``, ``wait``, ``help``, ``quit``. Requests are signed and sent to
the bot exactly as Slack sends them; what the bot posts through the Slack Web API is
printed as a transcript (messages, thread replies, files and where they were saved).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from bot.sandbox.signed import (
    block_actions_payload,
    command_body,
    event_body,
    interaction_body,
    post_signed,
)
from bot.sandbox.slack_emulator import SlackEmulator

USER = "U0ALICE"
CHANNEL = "C0GENERAL"

HELP = """Type what you would do in Slack:
  /translate zh>en 你好                               a slash command, as typed in Slack
  /translate-image zh>ko https://example.com/a.jpg   (add --provider alibaba for Alibaba)
  /translate-doc en>ja https://example.com/guide.docx
  /cutout https://example.com/a.png --bg 255,255,255
  /media-job ImageCartoonize oss://media/cat.jpg {"Model": "3d"}
  /tolk help | tasks | cancel ID | retry ID
  /tolk config auto-docs on en>de                    then: upload notes.md
  /tolk config auto-docs on en>de --provider rozetta  the same through Rozetta
  upload PATH…          post local files into #general as a message
  react :flag-kr: LAST  react to the last message (or a message ts)
  refine [TASK] [N]     press Refine on a translated or cut-out image: prints your
                        editor link (open it in a browser on this machine)
  wait                  until no task is pending
  metrics               what /metrics reports (tasks, provider calls, latencies)
  quit"""


class Console:
    def __init__(
        self,
        slack: SlackEmulator,
        events_url: str,
        signing_secret: str,
        *,
        idle: Callable[[], Any],
        out: TextIO,
    ) -> None:
        self.slack = slack
        self.events_url = events_url
        self.secret = signing_secret
        self.idle = idle  # awaitable factory: True when no task is pending
        self.out = out
        self._seen_calls = 0
        self._last_ts: str | None = None
        self._session: aiohttp.ClientSession | None = None

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    async def run(self, lines: Any) -> int:
        """Run commands from an async iterator of lines; return the exit status."""
        async with aiohttp.ClientSession() as self._session:
            async for raw in lines:
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                self.say(f"> {line}")
                if line in ("quit", "exit"):
                    break
                try:
                    await self.execute(line)
                except ConsoleError as exc:
                    self.say(f"  ! {exc}")
                await asyncio.sleep(0.05)
                self.show_new()
            await self.wait()
        return 0

    async def execute(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        if word.startswith("/"):
            await self.slash(word, rest)
        elif word == "upload":
            await self.upload(shlex.split(rest))
        elif word == "react":
            await self.react(rest.split())
        elif word == "refine":
            await self.refine(rest.split())
        elif word == "wait":
            await self.wait()
        elif word == "metrics":
            await self.metrics()
        elif word == "help":
            self.say(HELP)
        else:
            raise ConsoleError(f"unknown console command {word!r}; type help")

    async def metrics(self) -> None:
        """What ``GET /metrics`` says, without the histogram buckets."""
        assert self._session is not None
        url = self.events_url.replace("/slack/events", "/metrics")
        async with self._session.get(url) as resp:
            text = await resp.text()
        for line in text.splitlines():
            if line.startswith("tolk_") and "_bucket{" not in line and "_created{" not in line:
                self.say(f"  {line}")

    async def slash(self, command: str, text: str) -> None:
        body = command_body(
            command,
            text,
            user=USER,
            channel=CHANNEL,
            response_url=self.slack.new_response_url(channel=CHANNEL, user=USER),
            trigger_id=self.slack.new_trigger_id(),
        )
        status, answer = await self._post(body)
        if status == 404:
            self.say(f"  (Slack would say: {command} is not a command this app handles)")
        elif answer.strip():
            self._print_ack(answer)

    async def upload(self, paths: list[str]) -> None:
        if not paths:
            raise ConsoleError("upload needs at least one file path, e.g. upload photo.jpg")
        files = await asyncio.to_thread(_read_files, paths)
        message = self.slack.post_user_message(CHANNEL, USER, "", files=files)
        self._last_ts = message["ts"]
        self.say(f"  [#general] you shared {', '.join(f[0] for f in files)} (ts {message['ts']})")
        event = {**message, "type": "message", "subtype": "file_share", "channel": CHANNEL}
        await self._event(event)
        for file in message.get("files", []):
            await self._event(
                {
                    "type": "file_shared",
                    "file_id": file["id"],
                    "file": {"id": file["id"]},
                    "user_id": USER,
                    "channel_id": CHANNEL,
                    "event_ts": message["ts"],
                }
            )

    async def react(self, words: list[str]) -> None:
        if len(words) != 2:
            raise ConsoleError("write: react :flag-kr: LAST (or a message ts instead of LAST)")
        reaction = words[0].strip(":")
        target = self._last_message_ts() if words[1].upper() == "LAST" else words[1]
        if target is None:
            raise ConsoleError("there is no message to react to yet")
        await self._event(
            {
                "type": "reaction_added",
                "user": USER,
                "reaction": reaction,
                "item": {"type": "message", "channel": CHANNEL, "ts": target},
                "event_ts": f"{time.time():.6f}",
            }
        )

    async def refine(self, words: list[str]) -> None:
        """Press Refine (image ``N``, default 1) on the latest result, or task ``TASK``'s."""
        task = next((w.upper() for w in words if not w.isdigit()), "")
        number = next((int(w) for w in words if w.isdigit()), 1)
        found = self._refine_control(task, number)
        if found is None:
            raise ConsoleError(
                "no image result to refine yet; translate one first, e.g. "
                "/translate-image zh>en https://example.com/a.jpg"
            )
        message, action = found
        payload = block_actions_payload(
            message,
            action,
            user=USER,
            channel=CHANNEL,
            trigger_id=self.slack.new_trigger_id(),
            response_url=self.slack.new_response_url(channel=CHANNEL, user=USER),
        )
        status, _ = await self._post(interaction_body(payload))
        if status >= 400:
            self.say(f"  (the bot answered HTTP {status})")

    def _refine_control(self, task: str, number: int) -> tuple[dict, dict] | None:
        """The newest message with a Refine control (for ``task``, if named), and the
        press on image ``number``."""
        replies = [
            reply
            for parent in self.slack.messages(CHANNEL)
            for reply in self.slack.thread(CHANNEL, parent["ts"])
        ]
        for message in reversed(replies):
            for element in _refine_elements(message):
                choices = [element] if "value" in element else element.get("options", [])
                for choice in choices:
                    task_id, _, index = choice["value"].partition(":")
                    if index == str(number - 1) and task in ("", task_id):
                        press = (
                            element if choice is element else {**element, "selected_option": choice}
                        )
                        return message, press
        return None

    async def wait(self, limit: float = 120.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self.show_new()
            if await self.idle():
                await asyncio.sleep(0.1)
                self.show_new()
                return
            await asyncio.sleep(0.1)
        self.say("  ! still pending after 2 minutes; carrying on")

    # --- the transcript ---------------------------------------------------------------

    def show_new(self) -> None:
        calls = self.slack.calls[self._seen_calls :]
        self._seen_calls = len(self.slack.calls)
        for call in calls:
            if call.faulted or not (call.response or {}).get("ok"):
                continue
            for line in self._render(call.method, call.args, call.response or {}):
                self.say(line)

    def _render(self, method: str, args: dict[str, Any], resp: dict[str, Any]) -> list[str]:
        if method == "chat.postMessage":
            self._last_ts = (
                resp.get("ts", self._last_ts) if not args.get("thread_ts") else self._last_ts
            )
            where = "  ↳ thread" if args.get("thread_ts") else f"  [#{self._channel_name(args)}]"
            lines = [f"{where} Tolk: {_text(args)}"]
            if _refine_elements(args):
                lines.append(
                    "      [Refine] type `refine` (or `refine TASK N`) for your editor link"
                )
            return lines
        if method == "chat.postEphemeral":
            return [f"  (only you) Tolk: {_text(args)}"]
        if method == "chat.update":
            return [f"  (edited) Tolk: {_text(args)}"]
        if method == "files.completeUploadExternal":
            lines = []
            for entry in resp.get("files", []):
                stored = self.slack.files.get(entry.get("id", ""))
                if stored is None:
                    continue
                where = f" → saved to {stored.path}" if stored.path else ""
                lines.append(f"  ↳ file: {stored.name} ({_size(stored.size)}){where}")
            if args.get("initial_comment"):
                lines.insert(0, f"  ↳ thread Tolk: {args['initial_comment']}")
            return lines
        return []

    def _channel_name(self, args: dict[str, Any]) -> str:
        channel = self.slack.channels.get(str(args.get("channel", "")))
        return channel.name if channel else str(args.get("channel"))

    def _last_message_ts(self) -> str | None:
        messages = self.slack.messages(CHANNEL)
        return messages[-1]["ts"] if messages else self._last_ts

    def _print_ack(self, answer: str) -> None:
        try:
            payload = json.loads(answer)
        except ValueError:
            payload = {"text": answer}
        text = payload.get("text") or ""
        if text:
            visibility = "" if payload.get("response_type") == "in_channel" else "(only you) "
            for i, line in enumerate(text.splitlines()):
                self.say(
                    f"  {visibility if i == 0 else ''}{'Tolk: ' if i == 0 else '      '}{line}"
                )

    async def _event(self, event: dict[str, Any]) -> None:
        status, _ = await self._post(event_body(event), content_type="application/json")
        if status >= 400:
            self.say(f"  (the bot answered HTTP {status})")

    async def _post(
        self, body: str, content_type: str = "application/x-www-form-urlencoded"
    ) -> tuple[int, str]:
        assert self._session is not None
        return await post_signed(
            self._session, self.events_url, self.secret, body, content_type=content_type
        )


class ConsoleError(Exception):
    pass


def _read_files(paths: list[str]) -> list[tuple[str, bytes, str]]:
    files = []
    for name in paths:
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConsoleError(f"no file at {path}")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files.append((path.name, path.read_bytes(), mime))
    return files


def _text(args: dict[str, Any]) -> str:
    text = str(args.get("text") or "")
    if isinstance(args.get("blocks"), str):
        with contextlib.suppress(ValueError):
            args = {**args, "blocks": json.loads(args["blocks"])}
    for block in args.get("blocks") or []:
        if block.get("type") == "context":
            extra = " ".join(e.get("text", "") for e in block.get("elements", []))
            return f"{_first_section(args) or text}  ({extra})"
    return text.replace("\n", "\n        ")


def _refine_elements(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = message.get("blocks") or []
    if isinstance(blocks, str):
        with contextlib.suppress(ValueError):
            blocks = json.loads(blocks)
    return [
        element
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "actions"
        for element in block.get("elements", [])
        if str(element.get("action_id", "")).startswith("tolk_refine_")
    ]


def _first_section(args: dict[str, Any]) -> str:
    for block in args.get("blocks") or []:
        if block.get("type") == "section":
            return str(block.get("text", {}).get("text", ""))
    return ""


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB"
