"""The sandbox console: type what a person would do in Slack, read what Tolk answers.

Each line is a slash command as typed in Slack, or one of ``upload PATH…``,
``react :flag-kr: LAST``, ``wait``, ``help``, ``quit``. Requests are signed and sent to
the bot exactly as Slack sends them; what the bot posts through the Slack Web API (and
through ``response_url``) is printed as a transcript: messages, thread replies, DMs,
files and where they were saved.

Workspaces. The console acts in one workspace at a time: at first the sandbox's own
(``sandbox``, where Alice types into #general). With the app Tolk is to the emulated Slack
(:class:`SandboxApp`), ``install NAME`` adds a workspace with a #general and a person and
installs Tolk there through Slack's OAuth flow, ``use NAME`` moves the console there,
``workspaces`` lists them and ``uninstall NAME`` removes Tolk from one the way Slack does
(its token revoked, ``tokens_revoked`` and ``app_uninstalled`` sent to Tolk). The
transcript shows what lands in the current workspace; what lands elsewhere meanwhile is
shown on ``use``.

Typed at a terminal, the console shows a ``> `` prompt, and what lands in Slack while it
waits for the next line (a thread reply, a file, a final message) is printed at once,
above the prompt. From a script or a pipe it prints each line after ``> `` instead, and
what landed after each line, so a transcript reads the same every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import shlex
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from bot.core.mrkdwn import unescape
from emulators.signed import (
    block_actions_payload,
    command_body,
    event_body,
    interaction_body,
    post_signed,
)
from emulators.slack import Call, SlackEmulator
from sandbox.review import ReviewCommands, review_card
from sandbox.workspaces import HOME, ConsoleError, Place, SandboxApp, WorkspaceCommands

USER = "U0ALICE"
CHANNEL = "C0GENERAL"
PROMPT = "> "
SAMPLES = Path(__file__).resolve().parent / "samples"
WATCH_SECONDS = 0.2  # how often a waiting prompt looks for what landed

HELP = """Type what you would do in Slack:
  /translate zh>en 你好                               a slash command, as typed in Slack
  /translate-image zh>ko https://example.com/a.jpg   (add --provider alibaba for Alibaba)
  /translate-image zh>ko https://example.com/a.jpg --engine google
                        pick Xiangji's engine: aliyun, google, papago, baidu,
                        deepl or chatgpt (every engine's key is set here)
  /translate zh>en 你好 --engine googlellm            text through GoogleLLM
  /tolk quota                                         what is left on every key
  /translate-doc en>ja https://example.com/guide.docx
  /cutout https://example.com/a.png --bg 255,255,255
  /media-job ImageCartoonize oss://media/cat.jpg {"Model": "3d"}
  /tolk help | tasks | cancel ID | retry ID
  /tolk config auto-docs on en>de                    then: upload notes.md
  /tolk config auto-docs on en>de --provider rozetta  the same through Rozetta
  in #secret /translate-image zh>ko https://example.com/a.jpg
                        a command in #secret, a private channel Tolk was never
                        invited to: see where the answers go
  upload PATH…          post local files into #general as a message
  upload catalogue.csv /translate-image zh>ko,ja
                        a catalogue (the bundled sample: 12 SKUs): one ZIP per
                        language and a manifest come back in its thread; also
                        /tolk config set sea th,vi,id,ms then zh>sea, and
                        /tolk config confirm-over 10 to see the estimate first
  react :flag-kr: LAST  react to the last message (or a message ts)
  refine [TASK] [N]     press Refine on a translated or cut-out image: prints your
                        editor link (open it in a browser on this machine)
  /tolk config review on   then /translate-image … : each result waits on a card
  approve [TASK] [N]    press Approve on result N's card (default: the first waiting)
  reject [TASK] [N]     press Reject; the final message comes once all are decided
  /tolk glossary add "Tolk Pro"   a term never translated; then
                        /translate zh>ja Tolk Pro 新品上市 keeps it, and with
                        /tolk config auto-images on zh>ja, upload brand-violation.png
                        is marked (upload brand-ok.png is not)
  install NAME          add a workspace NAME (a #general, a person) and install Tolk
                        there through Slack's OAuth flow, as its admin would (the
                        first install restarts Tolk as an app installed with OAuth,
                        and installs it in this sandbox's workspace first)
  workspaces            every workspace: which one you are in, where Tolk is installed
  use NAME              act in NAME (the first one is `sandbox`): commands, uploads and
                        reactions come from its person in its #general, and what
                        lands there is shown
  uninstall NAME        an admin removes Tolk from NAME: Slack revokes its token and
                        tells Tolk, which forgets NAME and ends its pending tasks
  wait                  until no task is pending
  metrics               what /metrics reports (tasks, provider calls, latencies)
  quit"""


Landed = tuple[str, float, list[str]]  # (workspace, when, the lines that show it)


class Console(WorkspaceCommands, ReviewCommands):
    def __init__(
        self,
        slack: SlackEmulator,
        events_url: str,
        signing_secret: str,
        *,
        idle: Callable[[], Any],
        out: TextIO,
        interactive: bool = False,
        app: SandboxApp | None = None,
        many_workspaces: Callable[[], Awaitable[SandboxApp]] | None = None,
    ) -> None:
        self.slack = slack
        self.events_url = events_url
        self.secret = signing_secret
        self.idle = idle  # awaitable factory: True when no task is pending
        self.out = out
        self.interactive = interactive  # a person at a terminal: prompt, live results
        self.app = app  # None: Tolk serves the emulator's workspace with one bot token
        self.many_workspaces = many_workspaces  # restarts Tolk as an app installed by OAuth
        self.home = Place(HOME, slack.team_id, USER, CHANNEL)
        self.places = {HOME: self.home}
        self.here = self.home  # where commands come from, and what the transcript shows
        self._seen_calls = 0
        self._seen_responses = 0
        self._last_ts: dict[str, str] = {}  # per workspace: Tolk's latest message
        self._held: dict[str, list[Landed]] = {}  # what landed elsewhere, by workspace
        self._response_teams: dict[str, str] = {}  # response_url -> its workspace
        self._session: aiohttp.ClientSession | None = None
        self._prompting = False  # a prompt is on screen, waiting for a line
        self._busy = False  # a command is running

    def say(self, line: str = "") -> None:
        self._emit([line])

    def _emit(self, lines: list[str]) -> None:
        """Print ``lines``; while a prompt waits, above it, then the prompt again with
        what the person has typed so far."""
        if not lines:
            return
        if not self._prompting:
            print("\n".join(lines), file=self.out, flush=True)
            return
        typed = _typed_so_far()
        self.out.write("\r\x1b[K" + "\n".join(lines) + "\n" + PROMPT + typed)
        self.out.flush()

    async def run(self, lines: AsyncIterator[str] | None = None) -> int:
        """Run commands from an async iterator of lines (by default, typed at the prompt);
        return the exit status."""
        lines = lines if lines is not None else self.typed_lines()
        async with aiohttp.ClientSession() as self._session:
            watcher = asyncio.create_task(self._watch()) if self.interactive else None
            try:
                async for raw in lines:
                    line = raw.strip()
                    if not line or line.startswith("#"):
                        continue
                    if not self.interactive:  # at a terminal, the line is on screen already
                        self.say(f"{PROMPT}{line}")
                    if line in ("quit", "exit"):
                        break
                    self._busy = True  # its own answers first, in order
                    try:
                        await self.execute(line)
                    except ConsoleError as exc:
                        self.say(f"  ! {exc}")
                    finally:
                        await asyncio.sleep(0.05)
                        self.show_new()
                        self._busy = False
                if not self.interactive:
                    await self.wait()  # a script's last results
            finally:
                if watcher is not None:
                    watcher.cancel()
        return 0

    async def typed_lines(self) -> AsyncIterator[str]:
        """Lines typed at the prompt, until ``quit`` or the end of input (Ctrl-D).

        A daemon thread reads them (with line editing where ``readline`` is there), and
        the prompt stays at the bottom while commands run: what they print, and what
        lands in Slack meanwhile, goes above it. Lines typed meanwhile wait their turn."""
        with contextlib.suppress(ImportError):  # input() edits lines with it once imported
            import readline  # noqa: F401

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            while True:
                self._prompting = True
                try:
                    text: str | None = input(PROMPT)
                except (EOFError, OSError, ValueError):
                    text = None
                self._prompting = False
                loop.call_soon_threadsafe(queue.put_nowait, text)
                if text is None or text.strip() in ("quit", "exit"):
                    return

        threading.Thread(target=read, name="sandbox-prompt", daemon=True).start()
        while (text := await queue.get()) is not None:
            yield text
        self.say()  # end of input (Ctrl-D): leave the prompt's line

    async def _watch(self) -> None:
        """Between commands, print what lands in Slack as it lands."""
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            if not self._busy:
                self.show_new()

    async def execute(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        if word == "in":
            where, _, rest = rest.partition(" ")
            command, _, text = rest.partition(" ")
            if not command.startswith("/"):
                raise ConsoleError("write: in #secret /translate zh>en 你好")
            await self.slash(command, text, channel=self._channel_id(where))
        elif word.startswith("/"):
            await self.slash(word, rest)
        elif word == "upload":
            paths, slash, text = rest.partition(" /")  # `upload a.csv /translate-image …`
            await self.upload(shlex.split(paths), f"/{text}".strip() if slash else "")
        elif word == "react":
            await self.react(rest.split())
        elif word == "refine":
            await self.refine(rest.split())
        elif word in ("approve", "reject"):
            await self.decide(rest.split(), approve=word == "approve")
        elif word == "install":
            await self.install(rest.split())
        elif word == "workspaces":
            self.list_workspaces()
        elif word == "use":
            self.use(rest.split())
        elif word == "uninstall":
            await self.uninstall(rest.split())
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

    def _channel_id(self, name: str) -> str:
        with self.slack.in_workspace(self.here.team):
            channels = [c for c in self.slack.channels.values() if not c.is_im]
        for channel in channels:
            if name.lstrip("#") in (channel.name, channel.id):
                return channel.id
        names = ", ".join(f"#{c.name}" for c in channels)
        raise ConsoleError(f"there is no channel {name}; try one of {names}")

    async def slash(
        self, command: str, text: str, *, channel: str | None = None, place: Place | None = None
    ) -> None:
        place = place or self.here
        channel = channel or place.channel
        with self.slack.in_workspace(place.team):
            response_url = self._response_url(place, channel)
            trigger_id = self.slack.new_trigger_id()
        body = command_body(
            command,
            text,
            user=place.user,
            channel=channel,
            team=place.team,
            response_url=response_url,
            trigger_id=trigger_id,
        )
        status, answer = await self._post(body)
        if status == 404:
            self.say(f"  (Slack would say: {command} is not a command this app handles)")
        elif answer.strip():
            self._print_ack(answer)

    def _response_url(self, place: Place, channel: str) -> str:
        """A command's (or a press's) ``response_url``, remembered as ``place``'s."""
        url = self.slack.new_response_url(channel=channel, user=place.user)
        self._response_teams[url] = place.team
        return url

    async def upload(self, paths: list[str], text: str = "") -> None:
        """Post files as a message (with ``text``, e.g. ``/translate-image zh>ko,ja`` for
        a catalogue); a name not found here is looked for among ``SAMPLES``."""
        if not paths:
            raise ConsoleError("upload needs at least one file path, e.g. upload photo.jpg")
        files = await asyncio.to_thread(_read_files, paths)
        place = self.here
        with self.slack.in_workspace(place.team):
            message = self.slack.post_user_message(place.channel, place.user, text, files=files)
        self._last_ts[place.team] = message["ts"]
        self.say(f"  [#general] you shared {', '.join(f[0] for f in files)} (ts {message['ts']})")
        event = {**message, "type": "message", "subtype": "file_share", "channel": place.channel}
        await self._event(event)
        for file in message.get("files", []):
            await self._event(
                {
                    "type": "file_shared",
                    "file_id": file["id"],
                    "file": {"id": file["id"]},
                    "user_id": place.user,
                    "channel_id": place.channel,
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
                "user": self.here.user,
                "reaction": reaction,
                "item": {"type": "message", "channel": self.here.channel, "ts": target},
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
        await self.press(*found)

    async def press(self, message: dict[str, Any], action: dict[str, Any]) -> None:
        """Press ``action`` on Tolk's ``message``, as the person at the console."""
        place = self.here
        with self.slack.in_workspace(place.team):
            trigger_id = self.slack.new_trigger_id()
            response_url = self._response_url(place, place.channel)
        payload = block_actions_payload(
            message,
            action,
            user=place.user,
            channel=place.channel,
            trigger_id=trigger_id,
            response_url=response_url,
            team=place.team,
        )
        status, _ = await self._post(interaction_body(payload))
        if status >= 400:
            self.say(f"  (the bot answered HTTP {status})")

    def replies(self) -> list[dict[str, Any]]:
        """Every thread reply in the console's channel, oldest first."""
        channel = self.here.channel
        with self.slack.in_workspace(self.here.team):
            return [
                reply
                for parent in self.slack.messages(channel)
                for reply in self.slack.thread(channel, parent["ts"])
            ]

    def _refine_control(self, task: str, number: int) -> tuple[dict, dict] | None:
        """The newest message with a Refine control (for ``task``, if named), and the
        press on image ``number``."""
        for message in reversed(self.replies()):
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
        """Print what Tolk posted in the current workspace since the last look: Web API
        calls that worked and ``response_url`` answers, in the order they arrived. What
        landed in another workspace waits for ``use`` of it."""
        calls = self.slack.calls[self._seen_calls :]
        self._seen_calls += len(calls)
        responses = self.slack.responses[self._seen_responses :]
        self._seen_responses += len(responses)
        landed = self._held.pop(self.here.team, [])  # what landed here while away
        for call in calls:
            if call.faulted or not (call.response or {}).get("ok"):
                continue
            team = self._team_of(call)
            with self.slack.in_workspace(team):
                lines = self._render(call.method, call.args, call.response or {}, team)
            landed.append((team, call.at, lines))
        for record in responses:
            team = self._response_teams.get(str(record.get("url")), self.home.team)
            with self.slack.in_workspace(team):
                lines = self._render_response(record, team)
            landed.append((team, float(record.get("at") or 0), lines))
        landed.sort(key=lambda item: item[1])
        for item in landed:
            if item[0] != self.here.team and item[2]:
                self._held.setdefault(item[0], []).append(item)
        self._emit([line for team, _, lines in landed if team == self.here.team for line in lines])

    def _team_of(self, call: Call) -> str:
        """The workspace a Web API call acted in: its token's."""
        auth = next((v for k, v in call.headers.items() if k.lower() == "authorization"), "")
        token = auth.removeprefix("Bearer ").strip() or str(call.args.get("token") or "")
        issued = self.slack.tokens.get(token)
        return issued.team_id if issued is not None else self.home.team

    def _render(
        self, method: str, args: dict[str, Any], resp: dict[str, Any], team: str
    ) -> list[str]:
        if method == "chat.postMessage":
            if not args.get("thread_ts") and resp.get("ts"):
                self._last_ts[team] = resp["ts"]
            where = "  ↳ thread" if args.get("thread_ts") else f"  [{self._where(args, team)}]"
            lines = [f"{where} Tolk: {_text(args)}"]
            if review_card(args):
                lines.append("      [Approve] [Reject] type `approve` or `reject` (`TASK N`)")
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

    def _render_response(self, record: dict[str, Any], team: str) -> list[str]:
        """A ``response_url`` answer as the person sees it."""
        if record.get("delete_original"):
            return ["  (removed) Tolk deleted the message it had answered with"]
        text = _text({"text": record.get("text"), "blocks": record.get("blocks")})
        if record.get("replace_original"):
            return [f"  (edited) Tolk: {text}"]
        if record.get("response_type") == "in_channel":
            where = "↳ thread" if record.get("thread_ts") else f"[{self._where(record, team)}]"
            return [f"  {where} Tolk: {text}"]
        return [f"  (only you) Tolk: {text}"]

    def _where(self, args: dict[str, Any], team: str) -> str:
        """``#general``, or ``DM to you`` for a direct message to the console's person
        (in workspace ``team``, whose channels and people the emulator shows now)."""
        value = str(args.get("channel") or "")
        if not value:
            return "the channel"
        channel = self.slack.channels.get(value)
        if value in self.slack.users or (channel is not None and channel.is_im):
            user = value if value in self.slack.users else (channel.name if channel else value)
            you = next((p.user for p in self.places.values() if p.team == team), USER)
            return "DM to you" if user == you else f"DM to {user}"
        return f"#{channel.name}" if channel else value

    def _last_message_ts(self) -> str | None:
        with self.slack.in_workspace(self.here.team):
            messages = self.slack.messages(self.here.channel)
        return messages[-1]["ts"] if messages else self._last_ts.get(self.here.team)

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
        """An Events API callback from the current workspace, as Slack posts it."""
        team = self.here.team
        if self.app is not None:
            body = json.dumps(self.slack.event_payload(self.app.client_id, team, event))
        else:
            body = event_body(event, team=team)
        status, _ = await self._post(body, content_type="application/json")
        if status >= 400:
            self.say(f"  (the bot answered HTTP {status})")

    async def _post(
        self, body: str, content_type: str = "application/x-www-form-urlencoded"
    ) -> tuple[int, str]:
        assert self._session is not None
        return await post_signed(
            self._session, self.events_url, self.secret, body, content_type=content_type
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _typed_so_far() -> str:
    """What the person has typed at the prompt (``readline``'s line buffer), to show it
    again under the lines printed above it."""
    try:
        import readline
    except ImportError:  # no readline on this platform: the text is still in the terminal
        return ""
    return readline.get_line_buffer()


def _read_files(paths: list[str]) -> list[tuple[str, bytes, str]]:
    files = []
    for name in paths:
        path = Path(name).expanduser()
        if not path.is_file() and (SAMPLES / name).is_file():
            path = SAMPLES / name  # the bundled samples: `upload catalogue.csv`
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
            text = f"{_sections(args) or text}  ({extra})"
            break
    return unescape(text).replace("\n", "\n        ")  # as Slack shows it: &lt; is <


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


def _sections(args: dict[str, Any]) -> str:
    """Every section's text, one after the other, as Slack shows a long message."""
    return "\n".join(
        str(block.get("text", {}).get("text", ""))
        for block in args.get("blocks") or []
        if block.get("type") == "section"
    )


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB"
