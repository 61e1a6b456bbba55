"""Every message builder, fed hostile and oversized inputs, produces what Slack accepts
(the strict emulator's Block Kit validator) and never a ping or a link nobody wrote.

Builders are found by introspection of the package's exports (every surface module of
``bot/core/messages/``), so a new one is covered the day it is written; those whose
arguments are not plain values get theirs from ``SPECIAL``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core import messages
from bot.core.channels import ChannelConfig, Route
from bot.core.glossary import Term
from bot.core.mrkdwn import TEXT, fit_call, sections
from bot.core.spend import Use
from emulators.blockkit import validate_blocks, validate_view

EVIL = "<!here> <!channel|channel> <https://evil.example/login|click me> & <@U0MALLORY>"
HUGE = EVIL + " " + "長い文章です。" * 1500  # ~10,000 characters
PINGS = re.compile(r"<!(here|channel|everyone)")
FOREIGN_LINK = "<https://evil.example/login|click me>"
# Arguments that come from outside Tolk and Slack (a file's name, a provider's words):
# shown as text. What a person typed arrives escaped by Slack and keeps its markup.
UNTRUSTED = {"source_url", "filename", "meaning", "reason", "problems", "names", "name"}
UNTRUSTED_IN = {"item_failure": {"source", "code"}, "failure": {"code"},
                "media_failed": {"code"}, "quota_error_alert": {"code"}}  # fmt: skip
# Item errors are plain text, escaped by the message that shows them (item_failure, failure);
# option names are what the person typed (escaped by Slack); a reason Tolk itself wrote.
PLAIN_TEXT = {"download_failed", "file_too_large", "not_a_document", "not_a_slack_file",
              "not_an_image", "url_refused", "download_refused", "cannot_post", "modal_error",
              "option_needs_value", "option_takes_no_value", "flag_documents_skipped"}  # fmt: skip


# Tolk's own ids: never anything but what Tolk made.
IDS = {"task_id", "user", "old_id", "new_id", "owner", "channel", "job_id", "target"}


def plain_args(fn: Any, value: str, *, only: set[str] | None = None) -> dict[str, Any]:
    """Arguments for a builder whose parameters are plain values: ``value`` for every
    string, or only for the parameters named in ``only`` (the rest get Tolk's own)."""
    args: dict[str, Any] = {}
    for name, param in inspect.signature(fn).parameters.items():
        kind = str(param.annotation)
        ours = name in IDS or (only is not None and name not in only)
        if ours and kind in ("str", "str | None"):
            args[name] = "T7Q2K"
        elif kind in ("str", "str | None"):
            args[name] = value
        elif kind in ("int", "float", "int | None", "float | None"):
            args[name] = 12_345
        elif kind == "bool":
            args[name] = True
        elif kind == "Sequence[str]":
            args[name] = [value if only is None or name in only else "T7Q2K"] * 30
        elif kind == "str | Sequence[str]":  # one target language, or several
            args[name] = ["T7Q2K" if ours else value] * 30
        elif kind == "dict[str, str] | None":
            args[name] = {"channel": "C0GENERAL", "ts": "1700000000.000100"}
        elif param.default is inspect.Parameter.empty:
            raise LookupError(f"{fn.__name__}: give {name} ({kind}) in SPECIAL")
    return args


config = ChannelConfig(
    defaults=Route(source="zh", target="en"),
    auto_images=Route(target="ko", provider="xiangji", engine="papago"),
)
SPECIAL: dict[str, Any] = {
    "review_summary": lambda v: messages.review_summary(
        [(messages.review_item(0, 3, v, v), "approved", "U1")] * 30,
        [messages.review_item(1, 3, v, None)] * 30,
        60,
    ),
    "config_show": lambda v: messages.config_show(config, 500),
    "home_channel_line": lambda v: messages.home_channel_line("C0GENERAL", config, 500),
    "ocr_text": lambda v: messages.ocr_text(v, [SimpleNamespace(source=v, target=v)] * 20),
    "quota_report": lambda v: messages.quota_report(
        [(v, 1, 2, 3.0)] * 10, {"C1": {v: 5}}, {"U1": {v: 7}}, threshold=5
    ),
    "home_quota_lines": lambda v: messages.home_quota_lines({v: 3, "text": None}),
    "task_list": lambda v: messages.task_list([("T1", v, "running", "U1", 60.0)] * 40),
    "home_view": lambda v: messages.home_view(
        pending=[v] * 60, recent=[v] * 60, quota=v, channels=[v] * 10, updated_at=1.0
    ),
    "translate_modal": lambda v: messages.translate_modal(
        "meta", [("en", v)] * 120, target="en", source=None
    ),
    "refine_elements": lambda v: messages.refine_elements("T1", [(i, v) for i in range(120)]),
    "result_blocks": lambda v: messages.result_blocks(
        v, "T1", {"channel": "C1", "ts": "1.2"}, [(i, v) for i in range(3)]
    ),
    "delete_button": lambda v: messages.delete_button("T1"),
    "translation_blocks": lambda v: messages.translation_blocks("T1", "U1", v, v, "en", "ja"),
    "message_translation": lambda v: messages.message_translation(
        v, "en", "ja", "T1", {"channel": "C1", "ts": "1.2"}, "U1"
    ),
    "translations_blocks": lambda v: messages.translations_blocks(
        "T1", "U1", v, [("ko", v, ""), ("ja", None, v), ("en", v, "")] * 10, "zh"
    ),
    "message_translations": lambda v: messages.message_translations(
        [("ko", v, ""), ("ja", None, v)] * 10, "zh", "T1", {"channel": "C1", "ts": "1.2"}, "U1"
    ),
    "done_by_language": lambda v: messages.done_by_language(
        "T1", 12_345, [("ko", 1, 2)] * 30, [v] * 30, noun=v, engine=v
    ),
    "catalogue_parent": lambda v: messages.catalogue_parent(
        "T1", "U1", v, 10_000, [(v, 9_000, 1_000)] * 10
    ),
    "catalogue_zip_comment": lambda v: messages.catalogue_zip_comment(v, (9_000, 1_000)),
    "catalogue_done": lambda v: messages.catalogue_done(
        "T1", v, 10_000, [(v, 9_000, 1_000)] * 10, [(v, v, v)] * 100
    ),
    "refine_link": lambda v: messages.refine_link("https://tolk.example.com/refine/T1/0/x", v, 30),
    "refine_page_texts": None,  # the Refine web page's words, not Slack's
    "installed_text": None,  # the install pages' words, not Slack's
    "install_failure": None,
    "spend_settings": lambda v: messages.spend_settings(
        ChannelConfig(confirm_images=3, limit_images=12_345), Use(12_345, 67_890), "2025-05"
    ),
    "spend_card": lambda v: messages.spend_card("hold-id-0123456789", v),  # Tolk's own id
    "brand_term_changed": lambda v: messages.brand_term_changed(v, v, (134, 0, 1066, 249)),
    "glossary_term_not_used": lambda v: messages.glossary_term_not_used(v, v, v, (1, 2, 3, 4)),
    "glossary_list": lambda v: messages.glossary_list(
        [Term(f"{v}{i}", v if i % 2 else None, "ja" if i % 3 else None) for i in range(500)]
    ),
    "glossary_import_refused": lambda v: messages.glossary_import_refused(
        v, [(i, kind, v) for i, kind in enumerate(["term-too-long", "duplicate", v] * 10)]
    ),
    "sets_list": lambda v: messages.sets_list(
        {f"{v}{i}": [v] * 10 for i in range(50)}, {f"{v}{i}": f"{v}{i}" for i in range(50)}
    ),
}


def surface_modules() -> list[Any]:
    """The package's modules, one per surface (``_common`` and other private ones too)."""
    return [
        importlib.import_module(f"{messages.__name__}.{info.name}")
        for info in pkgutil.iter_modules(messages.__path__)
    ]


def builders() -> list[str]:
    """Every function the package exports, whichever surface module defines it."""
    return sorted(
        name
        for name in messages.__all__
        if inspect.isfunction(getattr(messages, name)) and SPECIAL.get(name, True) is not None
    )


def test_the_package_exports_every_public_name_of_its_modules() -> None:
    """A builder written in a surface module but not re-exported would escape the tests
    below (and the callers, who use ``messages.x``)."""
    exported = set(messages.__all__)
    assert len(exported) == len(messages.__all__)
    for module in surface_modules():
        if module.__name__.rsplit(".", 1)[-1].startswith("_"):
            continue
        public = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (getattr(value, "__module__", None) == module.__name__ or name.isupper())
        }
        assert public <= exported, (module.__name__, sorted(public - exported))
    assert len(builders()) >= 130


def build(name: str, value: str) -> Any:
    if name in SPECIAL:
        return SPECIAL[name](value)
    fn = getattr(messages, name)
    return fn(**plain_args(fn, value))


def shown(obj: Any) -> str:
    """Every text a person sees in a call's arguments that Slack could turn into a ping
    (mrkdwn and a message's ``text``; not plain_text, values, ids or URLs)."""
    if isinstance(obj, dict):
        return " ".join(
            v
            if k == "text" and isinstance(v, str) and obj.get("type") != "plain_text"
            else shown(v)
            for k, v in obj.items()
        )
    if isinstance(obj, list):
        return " ".join(shown(v) for v in obj)
    return ""


def as_posted(result: Any) -> list[tuple[str, dict[str, Any]]]:
    """What a builder's result becomes on the wire: (surface, arguments after Tolk's guard)."""
    if isinstance(result, str):
        return [("message", {"text": result, "blocks": sections(result)})]
    if isinstance(result, tuple):  # (text, blocks)
        return [("message", {"text": result[0], "blocks": result[1]})]
    if isinstance(result, list):  # blocks, or elements of an actions block
        if result and result[0].get("type") in ("button", "static_select"):
            result = [{"type": "actions", "elements": result}]
        return [("message", {"text": "t", "blocks": result})]
    if isinstance(result, dict) and result.get("type") in ("modal", "home"):
        return [(result["type"], {"view": result})]
    if isinstance(result, dict) and "blocks" in result:
        return [("message", {"text": result["text"], "blocks": result["blocks"]})]
    if isinstance(result, dict) and result.get("type") == "button":
        return [("message", {"text": "t", "blocks": [{"type": "actions", "elements": [result]}]})]
    raise AssertionError(f"unknown result shape {type(result)}")


@pytest.mark.parametrize("name", builders())
@pytest.mark.parametrize("value", [EVIL, HUGE, ""], ids=["hostile", "oversized", "empty"])
def test_every_builder_gives_slack_what_it_accepts(name: str, value: str) -> None:
    for surface, args in as_posted(build(name, value)):
        if surface == "message":
            fitted = fit_call("chat.postMessage", args)
            assert validate_blocks(fitted["blocks"]) == []
            assert len(fitted["text"]) <= TEXT
            assert not PINGS.search(shown(fitted))
        else:
            fitted = fit_call("views.publish", args)
            assert validate_view(fitted["view"]) == []
            assert not PINGS.search(shown(fitted))


@pytest.mark.parametrize("name", builders())
def test_what_came_from_outside_is_shown_as_text(name: str) -> None:
    fn = getattr(messages, name)
    untrusted = (UNTRUSTED | UNTRUSTED_IN.get(name, set())) & set(inspect.signature(fn).parameters)
    if name in SPECIAL or name in PLAIN_TEXT or not untrusted:
        return
    shown = str(fn(**plain_args(fn, EVIL, only=untrusted)))
    assert FOREIGN_LINK not in shown and "<!here>" not in shown, name


def test_the_builders_of_blocks_keep_within_limits_on_their_own() -> None:
    """The guard is the last word, not the first: builders of Block Kit fit by themselves."""
    for name in ("result_blocks", "home_view", "translate_modal", "refine_elements",
                 "translation_blocks", "message_translation", "refine_link",
                 "translations_blocks", "message_translations"):  # fmt: skip
        for surface, args in as_posted(build(name, HUGE)):
            errors = (
                validate_blocks(args["blocks"])
                if surface == "message"
                else validate_view(args["view"])
            )
            assert errors == [], name
