"""The Block Kit validator on its own: Slack's limits, Slack's error strings, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from emulators.blockkit import validate_blocks, validate_view


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def button(text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": plain(text), "action_id": "go", **extra}


def option(text: str = "One", value: str = "1") -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def select(options: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "static_select", "action_id": "pick", "options": options, **extra}


def actions(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements)}


def confirm(**override: Any) -> dict[str, Any]:
    return {
        "title": plain("Sure?"),
        "text": mrkdwn("This cannot be undone."),
        "confirm": plain("Yes"),
        "deny": plain("No"),
        **override,
    }


def modal(**override: Any) -> dict[str, Any]:
    return {"type": "modal", "title": plain("Translate"), "blocks": [], **override}


def test_a_typical_tolk_message_is_valid() -> None:
    blocks = [
        {"type": "header", "text": plain("Translated en→ja")},
        section("*Done* — 3 images"),
        {"type": "section", "fields": [mrkdwn("*From*"), mrkdwn("en")]},
        {"type": "context", "elements": [mrkdwn("task `T1`"), plain("via Xiangji")]},
        {"type": "divider"},
        actions(
            select(
                [option("1 · a.png", "0"), option("2 · b.png", "1")],
                placeholder=plain("Refine an image…"),
            ),
            button("Delete", style="danger", value="T1", confirm=confirm()),
        ),
        {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "a"},
    ]
    assert validate_blocks(blocks) == []


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        (
            [section("x" * 3001)],
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [section("x")] * 51,
            "must provide an array of no more than 50 items [json-pointer:/blocks]",
        ),
        (
            [{"type": "header", "text": plain("x" * 151)}],
            "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "header", "text": mrkdwn("*bold*")}],
            "must be plain_text, not mrkdwn [json-pointer:/blocks/0/text/type]",
        ),
        (
            [{"type": "context", "elements": [mrkdwn("x")] * 11}],
            "must provide an array of no more than 10 items [json-pointer:/blocks/0/elements]",
        ),
        (
            [{"type": "section", "fields": [mrkdwn("x")] * 11}],
            "must provide an array of no more than 10 items [json-pointer:/blocks/0/fields]",
        ),
        (
            [{"type": "section", "fields": [mrkdwn("x" * 2001)]}],
            "must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]",
        ),
        (
            [section("")],
            "must be more than 0 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "section"}],
            "must provide either text or fields [json-pointer:/blocks/0]",
        ),
        (
            [actions(*[button() | {"action_id": f"b{i}"} for i in range(26)])],
            "must provide an array of no more than 25 items [json-pointer:/blocks/0/elements]",
        ),
        (
            [actions()],
            "must provide an array of at least 1 items [json-pointer:/blocks/0/elements]",
        ),
        (
            [actions(button("x" * 76))],
            "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
        ),
        (
            [actions(button(value="v" * 2001))],
            "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
        ),
        (
            [actions(button(url="https://x.io/" + "a" * 2988))],
            "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]",
        ),
        (
            [actions(button(action_id="a" * 256))],
            "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
        ),
        (
            [actions(button(), button())],
            "duplicate action_id 'go' [json-pointer:/blocks/0/elements/1/action_id]",
        ),
        (
            [section("a") | {"block_id": "b"}, section("b") | {"block_id": "b"}],
            "duplicate block_id 'b' [json-pointer:/blocks/1/block_id]",
        ),
        (
            [section("a") | {"block_id": "b" * 256}],
            "must be less than 256 characters [json-pointer:/blocks/0/block_id]",
        ),
        (
            [actions(select([option(value=str(i)) for i in range(101)]))],
            "must provide an array of no more than 100 items "
            "[json-pointer:/blocks/0/elements/0/options]",
        ),
        (
            [actions(select([]))],
            "must provide an array of at least 1 items [json-pointer:/blocks/0/elements/0/options]",
        ),
        (
            [actions(select([option("x" * 76)]))],
            "must be less than 76 characters "
            "[json-pointer:/blocks/0/elements/0/options/0/text/text]",
        ),
        (
            [actions(select([option(value="v" * 151)]))],
            "must be less than 151 characters [json-pointer:/blocks/0/elements/0/options/0/value]",
        ),
        (
            [actions(select([option()], placeholder=plain("p" * 151)))],
            "must be less than 151 characters [json-pointer:/blocks/0/elements/0/placeholder/text]",
        ),
        (
            [actions(select([option()], initial_option=option("Two", "2")))],
            "must match one of the provided options "
            "[json-pointer:/blocks/0/elements/0/initial_option]",
        ),
        (
            [actions({"type": "overflow", "action_id": "o", "options": [option()] * 6})],
            "must provide an array of no more than 5 items "
            "[json-pointer:/blocks/0/elements/0/options]",
        ),
        (
            [actions(button(confirm=confirm(title=plain("t" * 101))))],
            "must be less than 101 characters "
            "[json-pointer:/blocks/0/elements/0/confirm/title/text]",
        ),
        (
            [actions(button(confirm=confirm(text=mrkdwn("t" * 301))))],
            "must be less than 301 characters "
            "[json-pointer:/blocks/0/elements/0/confirm/text/text]",
        ),
        (
            [actions(button(confirm=confirm(deny=plain("d" * 31))))],
            "must be less than 31 characters [json-pointer:/blocks/0/elements/0/confirm/deny/text]",
        ),
        (
            [{"type": "image", "image_url": "https://x.io/a.png", "alt_text": "a" * 2001}],
            "must be less than 2001 characters [json-pointer:/blocks/0/alt_text]",
        ),
        (
            [{"type": "image", "image_url": "https://x.io/" + "a" * 2988, "alt_text": "a"}],
            "must be less than 3001 characters [json-pointer:/blocks/0/image_url]",
        ),
        (
            [{"type": "image", "image_url": "https://x.io/a.png"}],
            "missing required field: alt_text [json-pointer:/blocks/0]",
        ),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}}],
            "invalid additional property: emoji [json-pointer:/blocks/0/text]",
        ),
        (
            [{"type": "section", "text": {"type": "markdown", "text": "x"}}],
            "must be either plain_text or mrkdwn [json-pointer:/blocks/0/text/type]",
        ),
        (
            [{"type": "sectoin", "text": mrkdwn("x")}],
            "unsupported type: sectoin [json-pointer:/blocks/0/type]",
        ),
        (
            [actions({"type": "image", "image_url": "https://x.io/a.png", "alt_text": "a"})],
            "unsupported type in actions: image [json-pointer:/blocks/0/elements/0/type]",
        ),
        (
            ["not a block"],
            "must be an object [json-pointer:/blocks/0]",
        ),
        (
            [
                {
                    "type": "input",
                    "label": plain("l" * 2001),
                    "element": {"type": "plain_text_input", "action_id": "t"},
                }
            ],
            "must be less than 2001 characters [json-pointer:/blocks/0/label/text]",
        ),
        (
            [
                {
                    "type": "input",
                    "label": plain("Text"),
                    "hint": plain("h" * 2001),
                    "element": {"type": "plain_text_input", "action_id": "t"},
                }
            ],
            "must be less than 2001 characters [json-pointer:/blocks/0/hint/text]",
        ),
    ],
)
def test_each_limit_is_refused_with_slacks_error(blocks: list[Any], error: str) -> None:
    assert validate_blocks(blocks) == [error]


def test_limits_are_inclusive() -> None:
    blocks = [
        {"type": "header", "text": plain("x" * 150)},
        section("x" * 3000),
        {"type": "context", "elements": [mrkdwn("x")] * 10},
        actions(
            button("x" * 75, value="v" * 2000, action_id="a" * 255),
            select([option("o" * 75, str(i)) for i in range(100)]),
        ),
        *[{"type": "divider"}] * 46,
    ]
    assert len(blocks) == 50
    assert validate_blocks(blocks) == []


def test_action_ids_may_repeat_across_blocks_and_all_errors_are_reported() -> None:
    # Slack: an action_id is unique "among all other action_ids in the containing block".
    assert validate_blocks([actions(button()), actions(button())]) == []
    errors = validate_blocks([section("x" * 3001), {"type": "header", "text": plain("")}])
    assert errors == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        "must be more than 0 characters [json-pointer:/blocks/1/text/text]",
    ]


def test_views_allow_100_blocks_and_check_their_own_limits() -> None:
    assert validate_blocks([{"type": "divider"}] * 100, surface="modal") == []
    assert validate_blocks([{"type": "divider"}] * 101, surface="home") == [
        "must provide an array of no more than 100 items [json-pointer:/blocks]"
    ]
    assert validate_view(modal(blocks=[{"type": "divider"}] * 100)) == []
    assert validate_view(modal(title=plain("t" * 25))) == [
        "must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    assert validate_view(modal(submit=plain("s" * 25), close=plain("c" * 25))) == [
        "must be less than 25 characters [json-pointer:/view/submit/text]",
        "must be less than 25 characters [json-pointer:/view/close/text]",
    ]
    assert validate_view({"type": "modal", "blocks": []}) == [
        "missing required field: title [json-pointer:/view]"
    ]
    assert validate_view(modal(private_metadata="m" * 3001)) == [
        "must be less than 3001 characters [json-pointer:/view/private_metadata]"
    ]
    field = {
        "type": "input",
        "label": plain("Text"),
        "element": {"type": "plain_text_input", "action_id": "t"},
    }
    assert validate_view(modal(blocks=[field])) == [
        "must provide submit when an input block is present [json-pointer:/view]"
    ]
    assert validate_view(modal(blocks=[field], submit=plain("Go"))) == []
    assert validate_view({"type": "home", "blocks": [section("x" * 3001)]}) == [
        "must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]"
    ]
    assert validate_view({"type": "workflow"}) == [
        "must be either modal or home [json-pointer:/view/type]"
    ]


def test_markdown_blocks_share_12000_characters() -> None:
    ok = [{"type": "markdown", "text": "x" * 6000}] * 2
    assert validate_blocks(ok) == []
    assert validate_blocks([*ok, {"type": "markdown", "text": "x"}]) == [
        "markdown blocks must total less than 12001 characters [json-pointer:/blocks]"
    ]


def test_unknown_surface_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="surface"):
        validate_blocks([], surface="email")
