"""A Block Kit validator with Slack's limits and Slack's error strings.

Slack refuses a message or view that breaks Block Kit's rules with ``invalid_blocks`` (or
``invalid_arguments`` for views) and an ``errors`` array of strings such as
``"must be less than 3001 characters [json-pointer:/blocks/0/text/text]"``. This module
reproduces those checks without any I/O, so the Slack emulator refuses what Slack
refuses and tests can run any message builder through :func:`validate_blocks` directly.

Limits follow Slack's Block Kit reference (blocks, block elements, composition objects
and view payloads). Checks Slack makes that are not listed here are not made: passing
this validator is necessary, not sufficient.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SURFACES = ("message", "modal", "home")

TEXT_MAX = 3000  # any text object unless a tighter limit applies
SECTION_FIELDS = 10
SECTION_FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
ID_MAX = 255  # block_id, action_id, callback_id, external_id
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
URL_MAX = 3000
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTION_DESCRIPTION = 75
SELECT_OPTIONS = 100
OVERFLOW_OPTIONS = 5
CHOICE_OPTIONS = 10  # radio buttons and checkboxes
PLACEHOLDER = 150
ALT_TEXT = 2000
IMAGE_TITLE = 2000
INPUT_LABEL = 2000
INPUT_HINT = 2000
VIEW_TEXT = 24  # modal title, submit, close
PRIVATE_METADATA = 3000
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
MARKDOWN_BLOCK_TOTAL = 12_000  # all markdown blocks of one payload together

_BLOCK_FIELDS: dict[str, frozenset[str]] = {
    "section": frozenset({"text", "fields", "accessory", "expand"}),
    "divider": frozenset(),
    "image": frozenset({"image_url", "slack_file", "alt_text", "title"}),
    "actions": frozenset({"elements"}),
    "context": frozenset({"elements"}),
    "input": frozenset({"label", "element", "dispatch_action", "hint", "optional"}),
    "header": frozenset({"text"}),
    "rich_text": frozenset({"elements"}),
    "file": frozenset({"external_id", "source"}),
    "video": frozenset(
        {
            "alt_text",
            "author_name",
            "description",
            "provider_icon_url",
            "provider_name",
            "title",
            "title_url",
            "thumbnail_url",
            "video_url",
        }
    ),
    "markdown": frozenset({"text"}),
    "call": frozenset({"call_id"}),
    "table": frozenset({"rows", "column_settings"}),
    "context_actions": frozenset({"elements"}),
}

_SELECTS = frozenset(
    {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
    }
)
_MULTI_SELECTS = frozenset(f"multi_{kind}" for kind in _SELECTS)
_TEXT_INPUTS = frozenset(
    {
        "plain_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "rich_text_input",
    }
)
_PICKERS = frozenset({"datepicker", "timepicker", "datetimepicker"})
_CHOICES = frozenset({"radio_buttons", "checkboxes"})

_INPUT_ELEMENTS = _SELECTS | _MULTI_SELECTS | _TEXT_INPUTS | _PICKERS | _CHOICES | {"file_input"}
_ACTIONS_ELEMENTS = (
    _SELECTS | _MULTI_SELECTS | _TEXT_INPUTS | _PICKERS | _CHOICES | {"button", "overflow"}
) | {"workflow_button", "feedback_buttons", "icon_button"}
_ACCESSORIES = (
    _SELECTS
    | _MULTI_SELECTS
    | _PICKERS
    | _CHOICES
    | {"button", "overflow", "image", "plain_text_input", "workflow_button"}
)


def _at(pointer: str) -> str:
    return f"[json-pointer:{pointer}]"


class _Validator:
    """Walks one payload; collects errors and the ids that must be unique.

    block_ids are unique in the payload; action_ids "among all other action_ids in the
    containing block" (Slack's reference), so two blocks may reuse one action_id.
    """

    def __init__(self, surface: str) -> None:
        self.surface = surface
        self.errors: list[str] = []
        self.block_ids: set[str] = set()
        self.action_ids: set[str] = set()
        self.markdown_total = 0

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(f"{message} {_at(pointer)}")

    # ----- primitives ------------------------------------------------------------------

    def string(self, value: Any, pointer: str, limit: int, *, min_length: int = 0) -> bool:
        if not isinstance(value, str):
            self.error("must be a string", pointer)
            return False
        if len(value) > limit:
            self.error(f"must be less than {limit + 1} characters", pointer)
            return False
        if len(value) < min_length:
            self.error(f"must be more than {min_length - 1} characters", pointer)
            return False
        return True

    def array(
        self, value: Any, pointer: str, limit: int, *, min_items: int = 1
    ) -> list[Any] | None:
        if not isinstance(value, list):
            self.error("must be an array", pointer)
            return None
        if len(value) > limit:
            self.error(f"must provide an array of no more than {limit} items", pointer)
        elif len(value) < min_items:
            self.error(f"must provide an array of at least {min_items} items", pointer)
        return value

    def obj(self, value: Any, pointer: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error("must be an object", pointer)
            return None
        return value

    def extra_keys(self, value: dict[str, Any], allowed: Iterable[str], pointer: str) -> None:
        allowed = set(allowed)
        for key in value:
            if key not in allowed:
                self.error(f"invalid additional property: {key}", pointer)

    def unique_id(self, value: Any, pointer: str, seen: set[str], kind: str) -> None:
        if value is None:
            return  # Slack makes one up
        if not self.string(value, pointer, ID_MAX, min_length=1):
            return
        if value in seen:
            self.error(f"duplicate {kind} {value!r}", pointer)
        seen.add(value)

    def text(
        self,
        value: Any,
        pointer: str,
        limit: int = TEXT_MAX,
        *,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        """A text composition object: ``{"type": "plain_text"|"mrkdwn", "text": ...}``."""
        if value is None:
            if required:
                parent, _, name = pointer.rpartition("/")
                self.error(f"missing required field: {name}", parent or "/")
            return
        obj = self.obj(value, pointer)
        if obj is None:
            return
        kind = obj.get("type")
        if kind not in ("plain_text", "mrkdwn"):
            self.error("must be either plain_text or mrkdwn", f"{pointer}/type")
            return
        if plain_only and kind != "plain_text":
            self.error(f"must be plain_text, not {kind}", f"{pointer}/type")
        extra = "emoji" if kind == "plain_text" else "verbatim"
        self.extra_keys(obj, {"type", "text", extra}, pointer)
        if "text" not in obj:
            self.error("missing required field: text", pointer)
            return
        self.string(obj["text"], f"{pointer}/text", limit, min_length=1)

    def url(self, value: Any, pointer: str) -> None:
        if value is not None:
            self.string(value, pointer, URL_MAX, min_length=1)

    # ----- composition objects ---------------------------------------------------------

    def confirm(self, value: Any, pointer: str) -> None:
        obj = self.obj(value, pointer)
        if obj is None:
            return
        self.extra_keys(obj, {"title", "text", "confirm", "deny", "style"}, pointer)
        for key, limit in (("title", CONFIRM_TITLE), ("confirm", CONFIRM_BUTTON)):
            self.text(obj.get(key), f"{pointer}/{key}", limit, plain_only=True)
        self.text(obj.get("text"), f"{pointer}/text", CONFIRM_TEXT)
        self.text(obj.get("deny"), f"{pointer}/deny", CONFIRM_BUTTON, plain_only=True)
        if obj.get("style") not in (None, "primary", "danger"):
            self.error("must be one of primary, danger", f"{pointer}/style")

    def option(self, value: Any, pointer: str, *, mrkdwn_ok: bool, url_ok: bool) -> str | None:
        obj = self.obj(value, pointer)
        if obj is None:
            return None
        allowed = {"text", "value", "description"} | ({"url"} if url_ok else set())
        self.extra_keys(obj, allowed, pointer)
        self.text(obj.get("text"), f"{pointer}/text", OPTION_TEXT, plain_only=not mrkdwn_ok)
        if "value" not in obj:
            self.error("missing required field: value", pointer)
        else:
            self.string(obj["value"], f"{pointer}/value", OPTION_VALUE, min_length=1)
        if "description" in obj:
            self.text(
                obj["description"],
                f"{pointer}/description",
                OPTION_DESCRIPTION,
                plain_only=not mrkdwn_ok,
            )
        if url_ok:
            self.url(obj.get("url"), f"{pointer}/url")
        return obj.get("value") if isinstance(obj.get("value"), str) else None

    def options(
        self, value: Any, pointer: str, limit: int, *, mrkdwn_ok: bool = False, url_ok: bool = False
    ) -> set[str]:
        values: set[str] = set()
        items = self.array(value, pointer, limit)
        for i, item in enumerate(items or ()):
            got = self.option(item, f"{pointer}/{i}", mrkdwn_ok=mrkdwn_ok, url_ok=url_ok)
            if got is not None:
                values.add(got)
        return values

    # ----- block elements --------------------------------------------------------------

    def element(self, value: Any, pointer: str, allowed: frozenset[str], where: str) -> None:
        el = self.obj(value, pointer)
        if el is None:
            return
        kind = el.get("type")
        if not isinstance(kind, str):
            self.error("missing required field: type", pointer)
            return
        if kind not in allowed:
            self.error(f"unsupported type in {where}: {kind}", f"{pointer}/type")
            return
        if kind != "image":
            action_id = el.get("action_id")
            self.unique_id(action_id, f"{pointer}/action_id", self.action_ids, "action_id")
        if "confirm" in el:
            self.confirm(el["confirm"], f"{pointer}/confirm")
        if "placeholder" in el:
            self.text(el["placeholder"], f"{pointer}/placeholder", PLACEHOLDER, plain_only=True)
        if kind == "button":
            self.text(el.get("text"), f"{pointer}/text", BUTTON_TEXT, plain_only=True)
            if "value" in el:
                self.string(el["value"], f"{pointer}/value", BUTTON_VALUE)
            self.url(el.get("url"), f"{pointer}/url")
            if el.get("style") not in (None, "primary", "danger"):
                self.error("must be one of primary, danger", f"{pointer}/style")
            if "accessibility_label" in el:
                self.string(el["accessibility_label"], f"{pointer}/accessibility_label", 75)
        elif kind in ("static_select", "multi_static_select"):
            self.static_select(el, pointer)
        elif kind == "overflow":
            self.options(el.get("options"), f"{pointer}/options", OVERFLOW_OPTIONS, url_ok=True)
        elif kind in _CHOICES:
            self.options(el.get("options"), f"{pointer}/options", CHOICE_OPTIONS, mrkdwn_ok=True)
        elif kind == "image":
            self.image(el, pointer)
        elif kind == "plain_text_input":
            for key in ("min_length", "max_length"):
                if key in el and (not isinstance(el[key], int) or not 0 <= el[key] <= 3000):
                    self.error("must be an integer from 0 to 3000", f"{pointer}/{key}")
        if kind in _MULTI_SELECTS and "max_selected_items" in el:
            count = el["max_selected_items"]
            if not isinstance(count, int) or count < 1:
                self.error("must be 1 or more", f"{pointer}/max_selected_items")

    def static_select(self, el: dict[str, Any], pointer: str) -> None:
        has_options, has_groups = "options" in el, "option_groups" in el
        if has_options == has_groups:
            self.error("must provide exactly one of options or option_groups", pointer)
            return
        if has_options:
            values = self.options(el["options"], f"{pointer}/options", SELECT_OPTIONS)
        else:
            values = set()
            groups = self.array(el["option_groups"], f"{pointer}/option_groups", SELECT_OPTIONS)
            for i, group in enumerate(groups or ()):
                gp = f"{pointer}/option_groups/{i}"
                if (g := self.obj(group, gp)) is None:
                    continue
                self.extra_keys(g, {"label", "options"}, gp)
                self.text(g.get("label"), f"{gp}/label", OPTION_TEXT, plain_only=True)
                values |= self.options(g.get("options"), f"{gp}/options", SELECT_OPTIONS)
        initial = [el["initial_option"]] if "initial_option" in el else el.get("initial_options")
        for i, chosen in enumerate(initial if isinstance(initial, list) else ()):
            key = "initial_option" if "initial_option" in el else f"initial_options/{i}"
            value = chosen.get("value") if isinstance(chosen, dict) else None
            if values and value not in values:
                self.error("must match one of the provided options", f"{pointer}/{key}")

    def image(self, el: dict[str, Any], pointer: str) -> None:
        if "image_url" in el:
            self.url(el["image_url"], f"{pointer}/image_url")
        elif "slack_file" not in el:
            self.error("missing required field: image_url", pointer)
        if "alt_text" not in el:
            self.error("missing required field: alt_text", pointer)
        else:
            self.string(el["alt_text"], f"{pointer}/alt_text", ALT_TEXT, min_length=1)

    # ----- blocks ----------------------------------------------------------------------

    def blocks(self, value: Any, pointer: str) -> None:
        limit = MESSAGE_BLOCKS if self.surface == "message" else VIEW_BLOCKS
        items = self.array(value, pointer, limit, min_items=0)
        for i, block in enumerate(items or ()):
            self.block(block, f"{pointer}/{i}")
        if self.markdown_total > MARKDOWN_BLOCK_TOTAL:
            self.error(
                f"markdown blocks must total less than {MARKDOWN_BLOCK_TOTAL + 1} characters",
                pointer,
            )

    def block(self, value: Any, pointer: str) -> None:
        block = self.obj(value, pointer)
        if block is None:
            return
        kind = block.get("type")
        if not isinstance(kind, str):
            self.error("missing required field: type", pointer)
            return
        if kind not in _BLOCK_FIELDS:
            self.error(f"unsupported type: {kind}", f"{pointer}/type")
            return
        self.extra_keys(block, {"type", "block_id"} | _BLOCK_FIELDS[kind], pointer)
        self.action_ids = set()  # Slack: action_ids are unique within their containing block
        self.unique_id(block.get("block_id"), f"{pointer}/block_id", self.block_ids, "block_id")
        getattr(self, f"block_{kind}", lambda _b, _p: None)(block, pointer)

    def block_section(self, block: dict[str, Any], pointer: str) -> None:
        if "text" not in block and "fields" not in block:
            self.error("must provide either text or fields", pointer)
        if "text" in block:
            self.text(block["text"], f"{pointer}/text", TEXT_MAX)
        if "fields" in block:
            fields = self.array(block["fields"], f"{pointer}/fields", SECTION_FIELDS)
            for i, f in enumerate(fields or ()):
                self.text(f, f"{pointer}/fields/{i}", SECTION_FIELD_TEXT)
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory", _ACCESSORIES, "accessory")

    def block_header(self, block: dict[str, Any], pointer: str) -> None:
        self.text(block.get("text"), f"{pointer}/text", HEADER_TEXT, plain_only=True)

    def block_context(self, block: dict[str, Any], pointer: str) -> None:
        elements = self.array(block.get("elements"), f"{pointer}/elements", CONTEXT_ELEMENTS)
        for i, el in enumerate(elements or ()):
            ep = f"{pointer}/elements/{i}"
            kind = el.get("type") if isinstance(el, dict) else None
            if kind == "image":
                self.extra_keys(el, {"type", "image_url", "slack_file", "alt_text"}, ep)
                self.image(el, ep)
            elif kind in ("plain_text", "mrkdwn"):
                self.text(el, ep, TEXT_MAX)
            elif isinstance(el, dict):
                self.error(f"unsupported type in context: {kind}", f"{ep}/type")
            else:
                self.error("must be an object", ep)

    def block_actions(self, block: dict[str, Any], pointer: str) -> None:
        elements = self.array(block.get("elements"), f"{pointer}/elements", ACTIONS_ELEMENTS)
        for i, el in enumerate(elements or ()):
            self.element(el, f"{pointer}/elements/{i}", _ACTIONS_ELEMENTS, "actions")

    def block_image(self, block: dict[str, Any], pointer: str) -> None:
        self.image(block, pointer)
        if "title" in block:
            self.text(block["title"], f"{pointer}/title", IMAGE_TITLE, plain_only=True)

    def block_input(self, block: dict[str, Any], pointer: str) -> None:
        self.text(block.get("label"), f"{pointer}/label", INPUT_LABEL, plain_only=True)
        if "hint" in block:
            self.text(block["hint"], f"{pointer}/hint", INPUT_HINT, plain_only=True)
        if "element" not in block:
            self.error("missing required field: element", pointer)
        else:
            self.element(block["element"], f"{pointer}/element", _INPUT_ELEMENTS, "input")

    def block_markdown(self, block: dict[str, Any], pointer: str) -> None:
        if self.string(block.get("text"), f"{pointer}/text", MARKDOWN_BLOCK_TOTAL, min_length=1):
            self.markdown_total += len(block["text"])

    def block_rich_text(self, block: dict[str, Any], pointer: str) -> None:
        self.array(block.get("elements"), f"{pointer}/elements", 10_000, min_items=0)


def validate_blocks(
    blocks: Any, *, surface: str = "message", pointer: str = "/blocks"
) -> list[str]:
    """Slack's errors for ``blocks`` on ``surface`` ("message", "modal" or "home"); [] if valid.

    Each error ends with ``[json-pointer:...]`` naming the offending field, as Slack's do.
    """
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; expected one of {SURFACES}")
    validator = _Validator(surface)
    validator.blocks(blocks, pointer)
    return validator.errors


def validate_view(view: Any) -> list[str]:
    """Slack's errors for a ``view`` payload (views.open/update/push/publish); [] if valid.

    Pointers start at ``/view``, as in Slack's ``response_metadata.messages``.
    """
    if not isinstance(view, dict):
        return [f"must be an object {_at('/view')}"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [f"must be either modal or home {_at('/view/type')}"]
    v = _Validator(kind)
    for key in ("callback_id", "external_id"):
        if key in view and view[key] != "":
            v.string(view[key], f"/view/{key}", ID_MAX)
    if "private_metadata" in view:
        v.string(view["private_metadata"], "/view/private_metadata", PRIVATE_METADATA)
    if kind == "modal":
        v.text(view.get("title"), "/view/title", VIEW_TEXT, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                v.text(view[key], f"/view/{key}", VIEW_TEXT, plain_only=True)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and "submit" not in view:
            v.error("must provide submit when an input block is present", "/view")
    if "blocks" not in view:
        v.error("missing required field: blocks", "/view")
    else:
        v.blocks(view["blocks"], "/view/blocks")
    return v.errors
