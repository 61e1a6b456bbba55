"""The console's workspaces: ``install NAME``, ``workspaces``, ``use NAME`` and
``uninstall NAME`` (see ``sandbox.console``), for Tolk installed with Slack's OAuth."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from emulators.slack import SlackEmulator
from sandbox.install import install_in, page_text

HOME = "sandbox"  # the console's name for the emulator's own workspace
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,29}")


@dataclass(frozen=True)
class SandboxApp:
    """Tolk as the app the emulated Slack knows (``register_app``): its client id, and
    Tolk's address, where a browser starts an install. ``pending`` names the unsettled
    tasks of a workspace (to show what an uninstall ends)."""

    client_id: str
    url: str
    pending: Callable[[str], Awaitable[list[str]]] | None = None


@dataclass
class Place:
    """A workspace the console can act in: the person who types, and their #general."""

    name: str
    team: str
    user: str
    channel: str
    installed: bool = True


class ConsoleError(Exception):
    pass


class WorkspaceCommands:
    """The workspace commands, mixed into ``sandbox.console.Console``, whose state they
    share (declared here for the type checker)."""

    slack: SlackEmulator
    app: SandboxApp | None
    many_workspaces: Callable[[], Awaitable[SandboxApp]] | None
    home: Place
    places: dict[str, Place]
    here: Place
    _held: dict[str, list[Any]]
    idle: Callable[[], Any]  # awaitable factory: True when no task is pending

    def say(self, line: str = "") -> None: ...
    def show_new(self) -> None: ...
    async def wait(self, limit: float = 120.0) -> None: ...
    async def slash(self, command: str, text: str) -> None: ...

    async def install(self, words: list[str]) -> None:
        """Add workspace ``NAME`` to the emulated Slack (or take one Tolk was removed
        from) and install Tolk there: the browser's part of Slack's OAuth flow, with the
        workspace's person approving."""
        if len(words) != 1 or not _NAME.fullmatch(words[0]):
            raise ConsoleError("write: install NAME (letters, digits, - or _), e.g. install beta")
        name = words[0].lower()
        switched = self.app is None
        app = await self.installable()
        place = self.places.get(name)
        if place is not None and place.installed:
            if switched and place is self.home:
                return  # installed just now
            raise ConsoleError(
                f"Tolk is installed in {name} already (team {place.team}); `use {name}` to act "
                "there"
            )
        if place is None:
            place = self.places[name] = self._new_workspace(name)
            self.say(
                f"  Slack: a workspace {name} (team {place.team}) with #general and one "
                f"person, {self._person(place)}"
            )
        await self._install(app, place)

    async def installable(self) -> SandboxApp:
        """The app Tolk is to Slack's OAuth; the first time, Tolk is restarted as one
        (it served the sandbox's workspace with a bot token) and installed there."""
        if self.app is not None:
            return self.app
        if self.many_workspaces is None:
            raise ConsoleError("Tolk serves one workspace here; it cannot be installed in more")
        if not await self.idle():
            self.say("  Waiting for the pending tasks to finish first…")
            await self.wait()
        self.say(
            "  Tolk serves one workspace here, with a bot token (SLACK_BOT_TOKEN). To be "
            "installed in more, it restarts as an app installed with Slack's OAuth "
            "(SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, TOLK_SECRET_KEY, "
            "TOLK_SHARED_PROVIDER_KEYS=on), on the same database; the emulated Slack knows "
            "the app. First it is installed in sandbox, the workspace you started in:"
        )
        await self.installed_by_oauth(await self.many_workspaces())
        assert self.app is not None
        return self.app

    async def installed_by_oauth(self, app: SandboxApp) -> None:
        """Tolk is now ``app`` (installed with Slack's OAuth): install it in the sandbox's
        own workspace, as its person would."""
        self.app = app
        self.home.installed = False
        await self._install(app, self.home)

    async def _install(self, app: SandboxApp, place: Place) -> None:
        """What a browser does to install Tolk in ``place``, its person approving."""
        status, page = await install_in(
            self.slack, app.url, client_id=app.client_id, team=place.team, user=place.user
        )
        if status != 200:
            raise ConsoleError(f"Tolk was not installed in {place.name}: {page_text(page)}")
        place.installed = True
        self.say(
            f"  Installed Tolk in {place.name} (team {place.team}) through Slack's OAuth flow: "
            f"{app.url}/slack/install → Slack's consent page, approved by "
            f"{self._person(place)} → /slack/oauth_redirect"
        )
        self.say(f"  Tolk's page: {page_text(page)}")
        if place is not self.here:
            self.say(f"  Type `use {place.name}` to act there.")

    def _new_workspace(self, name: str) -> Place:
        """A workspace in the emulated Slack: ids made from ``name``, a #general, and one
        person (an admin: the one who installs)."""
        stem = re.sub(r"[^A-Z0-9]", "", name.upper())[:10] or "W"
        taken = {self.slack.team_id, *self.slack.workspaces}
        suffix, n = stem, 1
        while f"T0{suffix}" in taken:
            n += 1
            suffix = f"{stem}{n}"
        team = f"T0{suffix}"
        place = Place(name, team, f"U0{suffix}ADMIN", f"C0{suffix}GEN", installed=False)
        self.slack.add_workspace(team, name, general=place.channel)
        with self.slack.in_workspace(team):
            self.slack.add_user(place.user, "admin", real_name=f"{name} admin", is_admin=True)
        return place

    def list_workspaces(self) -> None:
        width = max(len(name) for name in self.places)
        for place in self.places.values():
            mark = "*" if place is self.here else " "
            state = "installed" if place.installed else "not installed"
            if self.app is None:
                state = "bot token"  # SLACK_BOT_TOKEN: Tolk serves this one workspace
            you = " ← you are here" if place is self.here else ""
            self.say(
                f"  {mark} {place.name:<{width}}  {place.team:<12}  {state:<13}  "
                f"#general, as {self._person(place)}{you}"
            )

    def use(self, words: list[str]) -> None:
        if len(words) != 1:
            raise ConsoleError("write: use NAME (type `workspaces` to see them)")
        place = self.places.get(words[0].lower())
        if place is None:
            raise ConsoleError(
                f"there is no workspace {words[0]}; try one of {', '.join(self.places)} "
                "(or `install NAME` to add one)"
            )
        self.show_new()  # what landed here so far belongs to the transcript of here
        self.here = place
        note = "" if place.installed else " (Tolk is not installed there)"
        self.say(
            f"  Now in {place.name} (team {place.team}): you are {self._person(place)} in "
            f"#general{note}"
        )
        if self._held.get(place.team):
            self.say(f"  What landed in {place.name} meanwhile:")
            self.show_new()

    async def uninstall(self, words: list[str]) -> None:
        """An admin removes Tolk from workspace ``NAME``, as Slack does it: the app's
        tokens there are revoked and Slack posts ``tokens_revoked`` and
        ``app_uninstalled`` to Tolk's events URL. Then shows what Tolk did about it, and
        what a command from there gets now."""
        app = self._oauth("uninstall")
        if len(words) != 1:
            raise ConsoleError("write: uninstall NAME (type `workspaces` to see them)")
        place = self.places.get(words[0].lower())
        if place is None or not place.installed:
            where = "no workspace" if place is None else "not installed in"
            raise ConsoleError(f"Tolk is {where} {words[0]}; type `workspaces` to see them")
        before = await app.pending(place.team) if app.pending else None
        self.show_new()
        sent = []
        for payload in self.slack.uninstall(app.client_id, place.team):
            status, _ = await self.slack.send_event(app.client_id, payload)
            sent.append(f"{payload['event']['type']} (HTTP {status})")
        place.installed = False
        self.say(
            f"  Slack: an admin removed Tolk from {place.name} (team {place.team}); its token "
            f"is revoked, and Slack sent Tolk {' and '.join(sent)}"
        )
        if before is not None and app.pending is not None:
            after = await app.pending(place.team)
            ended = [task for task in before if task not in after]
            tasks = (
                f"its {_count(len(ended), 'pending task')} ({', '.join(ended)}) ended without a "
                "message"
                if ended
                else "none of its tasks was pending"
            )
            self.say(f"  Tolk forgot {place.name}: its installation and keys are deleted, {tasks}")
            if after:
                self.say(f"  ! still pending in {place.name}: {', '.join(after)}")
        self.say(f"  A command from {place.name} now: /tolk tasks")
        self.show_new()
        # its answer is shown wherever the console is; what landed there before waits
        was, self.here = self.here, place
        earlier = self._held.pop(place.team, [])
        try:
            await self.slash("/tolk", "tasks")
            await asyncio.sleep(0.05)
            self.show_new()
        finally:
            self.here = was
            if earlier:
                self._held[place.team] = earlier + self._held.get(place.team, [])
        if before is not None and app.pending is not None:
            started = await app.pending(place.team)
            self.say("  Tolk did nothing for it." if not started else f"  ! Tolk started {started}")

    def _oauth(self, command: str) -> SandboxApp:
        if self.app is None:
            raise ConsoleError(
                f"Tolk serves one workspace here, with a bot token: nothing to {command} until "
                "`install NAME` has made it an app installed with Slack's OAuth"
            )
        return self.app

    def _person(self, place: Place) -> str:
        with self.slack.in_workspace(place.team):
            user = self.slack.users.get(place.user, {})
        return f"{user.get('name', place.user)} ({place.user})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
