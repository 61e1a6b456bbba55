"""manifest.yml agrees with the code: every command, event, shortcut and interaction
the app handles is declared, everything declared is handled, and the scopes cover the
Slack methods the code calls.

What the app handles is recorded by passing ``register_all`` a real ``AsyncApp`` that
notes the name each listener is registered for — every registration still goes through
Bolt, so a listener Bolt would refuse fails here too.
"""

from __future__ import annotations

import pathlib
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import register_all

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ("bot", "handlers", "providers")

# What the code calls → the bot scope Slack requires for it.
METHOD_SCOPES: dict[str, tuple[str, str]] = {
    # pattern in the source: (Slack method, bot scope)
    r"\bchat_postMessage\b": ("chat.postMessage", "chat:write"),
    r"\bchat_postEphemeral\b": ("chat.postEphemeral", "chat:write"),
    r"\bchat_update\b": ("chat.update", "chat:write"),
    r"\bchat_delete\b": ("chat.delete", "chat:write"),
    r"\bfiles_upload_v2\b": ("files.upload v2", "files:write"),
    r"\bfiles_delete\b": ("files.delete", "files:write"),
    r"\bfiles_info\b": ("files.info", "files:read"),
    r"\burl_private(_download)?\b": ("url_private download", "files:read"),
    r"\bconversations_history\b": ("conversations.history", "channels:history"),
    r"\bconversations_replies\b": ("conversations.replies", "channels:history"),
    r"\bconversations_info\b": ("conversations.info", "channels:read"),
    r"\bconversations_open\b": ("conversations.open", "im:write"),
    r"\breactions_get\b": ("reactions.get", "reactions:read"),
    r"\breactions_add\b": ("reactions.add", "reactions:write"),
    r"\breactions_remove\b": ("reactions.remove", "reactions:write"),
    r"\busers_info\b": ("users.info", "users:read"),
}

# A subscribed bot event → the scope Slack requires before it will deliver it.
EVENT_SCOPES = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "file_shared": "files:read",
    "app_mention": "app_mentions:read",
}

Name = str | re.Pattern[str]


class RecordingApp(AsyncApp):
    """A real Bolt app that also records what each listener is registered for."""

    def __init__(self) -> None:
        super().__init__(
            client=AsyncWebClient(token="xoxb-manifest-test"),
            signing_secret="manifest-test",
        )
        self.handled: dict[str, set[Name]] = defaultdict(set)

    def _note(self, kind: str, what: Any, key: str) -> None:
        if isinstance(what, dict):
            what = what.get(key)
        if what:
            self.handled[kind].add(what)

    def command(self, command: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("commands", command, "command")
        return super().command(command, *args, **kwargs)

    def event(self, event: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("events", event, "type")
        return super().event(event, *args, **kwargs)

    def message(self, *args: Any, **kwargs: Any) -> Callable:
        self._note("events", "message", "type")
        return super().message(*args, **kwargs)

    def shortcut(self, constraints: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("shortcuts", constraints, "callback_id")
        return super().shortcut(constraints, *args, **kwargs)

    def global_shortcut(self, callback_id: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("shortcuts", callback_id, "callback_id")
        return super().global_shortcut(callback_id, *args, **kwargs)

    def message_shortcut(self, callback_id: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("shortcuts", callback_id, "callback_id")
        return super().message_shortcut(callback_id, *args, **kwargs)

    def action(self, constraints: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("actions", constraints, "action_id")
        return super().action(constraints, *args, **kwargs)

    def block_action(self, constraints: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("actions", constraints, "action_id")
        return super().block_action(constraints, *args, **kwargs)

    def view(self, constraints: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("views", constraints, "callback_id")
        return super().view(constraints, *args, **kwargs)

    def view_submission(self, constraints: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("views", constraints, "callback_id")
        return super().view_submission(constraints, *args, **kwargs)

    def view_closed(self, constraints: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("views", constraints, "callback_id")
        return super().view_closed(constraints, *args, **kwargs)

    def options(self, constraints: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("options", constraints, "action_id")
        return super().options(constraints, *args, **kwargs)

    def block_suggestion(self, action_id: Any, *args: Any, **kwargs: Any) -> Callable:
        self._note("options", action_id, "action_id")
        return super().block_suggestion(action_id, *args, **kwargs)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def handled() -> dict[str, set[Name]]:
    app = RecordingApp()
    register_all(app)
    return app.handled


def _matches(name: Name, value: str) -> bool:
    return bool(name.fullmatch(value)) if isinstance(name, re.Pattern) else name == value


def _covered(names: set[Name], value: str) -> bool:
    return any(_matches(n, value) for n in names)


def _event_type(subscribed: str) -> str:
    """``message.channels`` and the other message subscriptions arrive as ``message``."""
    return subscribed.split(".", 1)[0]


def _bot_events(manifest: dict[str, Any]) -> list[str]:
    subscriptions = (manifest.get("settings") or {}).get("event_subscriptions") or {}
    return list(subscriptions.get("bot_events") or [])


def _bot_scopes(manifest: dict[str, Any]) -> set[str]:
    return set(((manifest.get("oauth_config") or {}).get("scopes") or {}).get("bot") or [])


def _features(manifest: dict[str, Any], key: str) -> Any:
    return (manifest.get("features") or {}).get(key)


def test_registering_records_what_the_app_handles(handled):
    assert handled["commands"], "no slash command recorded: did register_all change?"


def test_every_declared_command_is_handled_and_every_handled_one_declared(manifest, handled):
    declared = {c["command"] for c in _features(manifest, "slash_commands") or []}
    assert {c for c in declared if not _covered(handled["commands"], c)} == set(), (
        "declared in manifest.yml but no app.command() handles them"
    )
    undeclared = {c for c in handled["commands"] if not any(_matches(c, d) for d in declared)}
    assert undeclared == set(), "handled but missing from features.slash_commands"


def test_every_subscribed_event_is_handled(manifest, handled):
    """Slack retries an event the app does not acknowledge; Bolt answers 404 to one
    that no listener matches."""
    unhandled = [
        e for e in _bot_events(manifest) if not _covered(handled["events"], _event_type(e))
    ]
    assert unhandled == [], "subscribed in settings.event_subscriptions.bot_events, never handled"


def test_every_handled_event_is_subscribed(manifest, handled):
    subscribed = {_event_type(e) for e in _bot_events(manifest)}
    missing = {
        e if isinstance(e, str) else e.pattern
        for e in handled["events"]
        if not any(_matches(e, s) for s in subscribed)
    }
    assert missing == set(), "handled but not in settings.event_subscriptions.bot_events"


def test_every_handled_shortcut_is_declared(manifest, handled):
    declared = {s["callback_id"] for s in _features(manifest, "shortcuts") or []}
    missing = {s for s in handled["shortcuts"] if not any(_matches(s, d) for d in declared)}
    assert missing == set(), "handled but no features.shortcuts entry has that callback_id"
    unhandled = {d for d in declared if not _covered(handled["shortcuts"], d)}
    assert unhandled == set(), "declared in features.shortcuts but no listener handles them"


def test_interactivity_is_on_when_the_app_handles_interactions(manifest, handled):
    kinds = [k for k in ("shortcuts", "actions", "views", "options") if handled[k]]
    if not kinds:
        pytest.skip("the app handles no interactions")
    settings = manifest.get("settings") or {}
    interactivity = settings.get("interactivity") or {}
    assert interactivity.get("is_enabled") is True, (
        f"the app handles {', '.join(kinds)}: settings.interactivity.is_enabled must be true"
    )
    if not settings.get("socket_mode_enabled"):
        assert interactivity.get("request_url"), "HTTP mode needs interactivity.request_url"
    if handled["options"]:
        assert interactivity.get("message_menu_options_url") or settings.get(
            "socket_mode_enabled"
        ), "external select options need interactivity.message_menu_options_url"


def test_events_have_a_request_url_in_http_mode(manifest):
    settings = manifest.get("settings") or {}
    if not _bot_events(manifest) or settings.get("socket_mode_enabled"):
        pytest.skip("no event subscriptions, or Socket Mode")
    assert (settings.get("event_subscriptions") or {}).get("request_url")


def test_the_home_tab_is_on_when_the_app_publishes_it(manifest, handled):
    if "app_home_opened" not in handled["events"]:
        pytest.skip("the app has no Home tab")
    app_home = _features(manifest, "app_home") or {}
    assert app_home.get("home_tab_enabled") is True, "features.app_home.home_tab_enabled"


def _source_files() -> list[pathlib.Path]:
    files = [p for d in SOURCES for p in sorted((ROOT / d).rglob("*.py"))]
    # The emulators speak Slack's and the providers' side of the wire, not Tolk's.
    return [p for p in files if "sandbox" not in p.parts and p.name != "emulator.py"]


def test_scopes_cover_the_slack_methods_the_code_calls(manifest, handled):
    scopes = _bot_scopes(manifest)
    sources = {p: p.read_text(encoding="utf-8") for p in _source_files()}
    missing = sorted(
        f"{method} needs {scope} ({path.relative_to(ROOT)})"
        for pattern, (method, scope) in METHOD_SCOPES.items()
        for path, text in sources.items()
        if scope not in scopes and re.search(pattern, text)
    )
    if handled["commands"] and "commands" not in scopes:
        missing.append("slash commands need commands")
    assert missing == []


def test_scopes_cover_the_subscribed_events(manifest):
    scopes = _bot_scopes(manifest)
    missing = [
        f"{event} needs {EVENT_SCOPES[event]}"
        for event in _bot_events(manifest)
        if event in EVENT_SCOPES and EVENT_SCOPES[event] not in scopes
    ]
    assert missing == []


def test_the_scope_table_sees_the_calls_we_know_of():
    """The grep finds real call sites (a renamed client would make the table silent)."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in _source_files())
    for pattern in (r"\bchat_postMessage\b", r"\bfiles_upload_v2\b", r"\bconversations_replies\b"):
        assert re.search(pattern, text), pattern
