"""The emulator refuses what Slack refuses, seen through the real slack_sdk clients.

Block Kit limits, ``msg_too_long``, membership and archived channels, scopes,
``response_url`` limits, file errors and non-JSON answers, with Slack's error shapes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from emulators.slack import DEFAULT_SCOPES, SlackEmulator

ROOT = Path(__file__).resolve().parents[2]
GENERAL = "C0GENERAL"
PRIVATE = "C0SECRET"
PUBLIC = "C0LOBBY"  # public, bot not invited
TOO_LONG = "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def emulator(tmp_path: Path, clock: Clock) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(files_dir=tmp_path / "files", clock=clock) as emu:
        emu.add_channel(PRIVATE, "secret", is_private=True, member=False, members=["U0ALICE"])
        emu.add_channel(PUBLIC, "lobby", member=False, members=["U0ALICE"])
        yield emu


@pytest.fixture
def client(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def refused(call: Awaitable[Any]) -> dict[str, Any]:
    """The body of Slack's ``ok: false`` answer to ``call``."""
    with pytest.raises(SlackApiError) as info:
        await call
    assert info.value.response.status_code == 200
    return dict(info.value.response.data)


async def upload(
    client: AsyncWebClient, channel: str, **kwargs: Any
) -> dict[str, Any] | SlackApiError:
    """files_upload_v2 by hand (bytes first), so only the last step is under test."""
    slot = await client.files_getUploadURLExternal(filename="a.txt", length=5)
    async with (
        aiohttp.ClientSession() as session,
        session.post(slot["upload_url"], data=b"hello") as res,
    ):
        assert res.status == 200
    args = {"files": [{"id": slot["file_id"]}], "channel_id": channel, **kwargs}
    try:
        resp = await client.api_call("files.completeUploadExternal", json=args)
    except SlackApiError as exc:
        return exc
    return dict(resp.data)


# ----- Block Kit and text limits ---------------------------------------------------------


async def test_invalid_blocks_answer_has_slacks_shape(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    body = await refused(
        client.chat_postMessage(channel=GENERAL, text="t", blocks=[section("x" * 3001)])
    )
    assert body == {
        "ok": False,
        "error": "invalid_blocks",
        "errors": [TOO_LONG],
        "response_metadata": {"messages": [f"[ERROR] {TOO_LONG}"]},
    }
    assert emulator.messages(GENERAL) == []
    await client.chat_postMessage(channel=GENERAL, text="t", blocks=[section("x" * 3000)])
    assert len(emulator.messages(GENERAL)) == 1


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        (
            [section("x")] * 51,
            "must provide an array of no more than 50 items [json-pointer:/blocks]",
        ),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
            "must provide an array of no more than 10 items [json-pointer:/blocks/0/elements]",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "b",
                            "text": {"type": "plain_text", "text": "b" * 76},
                        }
                    ],
                }
            ],
            "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "static_select",
                            "action_id": "s",
                            "options": [
                                {"text": {"type": "plain_text", "text": "o"}, "value": str(i)}
                                for i in range(101)
                            ],
                        }
                    ],
                }
            ],
            "must provide an array of no more than 100 items "
            "[json-pointer:/blocks/0/elements/0/options]",
        ),
    ],
)
async def test_block_kit_limits_refused_by_chat_post_message(
    client: AsyncWebClient, blocks: list[dict[str, Any]], error: str
) -> None:
    body = await refused(client.chat_postMessage(channel=GENERAL, text="t", blocks=blocks))
    assert (body["error"], body["errors"]) == ("invalid_blocks", [error])


async def test_every_posting_method_validates_blocks(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    bad = [section("x" * 3001)]
    posted = await client.chat_postMessage(channel=GENERAL, text="ok")
    for call in (
        client.chat_update(channel=GENERAL, ts=posted["ts"], text="t", blocks=bad),
        client.chat_postEphemeral(channel=GENERAL, user="U0ALICE", text="t", blocks=bad),
    ):
        body = await refused(call)
        assert (body["error"], body["errors"]) == ("invalid_blocks", [TOO_LONG])
    assert emulator.messages(GENERAL)[0]["text"] == "ok"
    assert emulator.ephemerals() == []

    failed = await upload(client, GENERAL, blocks=bad)
    assert isinstance(failed, SlackApiError)
    assert failed.response["errors"] == [TOO_LONG]
    assert emulator.files == {}
    # With an initial_comment Slack ignores blocks, so nothing is refused.
    done = await upload(client, GENERAL, blocks=bad, initial_comment="here")
    assert not isinstance(done, SlackApiError) and done["ok"] is True


async def test_text_over_40000_characters_is_msg_too_long(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    body = await refused(client.chat_postMessage(channel=GENERAL, text="x" * 40_001))
    assert body == {"ok": False, "error": "msg_too_long"}
    posted = await client.chat_postMessage(channel=GENERAL, text="x" * 40_000)
    body = await refused(client.chat_update(channel=GENERAL, ts=posted["ts"], text="y" * 40_001))
    assert body["error"] == "msg_too_long"
    failed = await upload(client, GENERAL, initial_comment="z" * 40_001)
    assert isinstance(failed, SlackApiError) and failed.response["error"] == "msg_too_long"


async def test_views_answer_invalid_arguments_with_messages(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    title = {"type": "plain_text", "text": "Translate"}
    long_title = {"type": "plain_text", "text": "A title far too long for Slack"}
    trigger = emulator.new_trigger_id()
    body = await refused(
        client.views_open(trigger_id=trigger, view={"type": "modal", "title": long_title})
    )
    assert body == {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {
            "messages": [
                "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]",
                "[ERROR] missing required field: blocks [json-pointer:/view]",
            ]
        },
    }
    opened = await client.views_open(
        trigger_id=trigger, view={"type": "modal", "title": title, "blocks": []}
    )  # a refused view does not use up the trigger
    body = await refused(
        client.views_update(
            view_id=opened["view"]["id"],
            view={"type": "modal", "title": title, "blocks": [section("x" * 3001)]},
        )
    )
    assert body["response_metadata"]["messages"] == [
        "[ERROR] must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]"
    ]
    body = await refused(
        client.views_publish(
            user_id="U0ALICE", view={"type": "home", "blocks": [{"type": "divider"}] * 101}
        )
    )
    assert body["response_metadata"]["messages"] == [
        "[ERROR] must provide an array of no more than 100 items [json-pointer:/view/blocks]"
    ]
    await client.views_publish(
        user_id="U0ALICE", view={"type": "home", "blocks": [{"type": "divider"}] * 100}
    )


# ----- membership ------------------------------------------------------------------------


async def test_private_conversation_without_the_bot_does_not_exist_for_it(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    emulator.post_user_message(PRIVATE, "U0ALICE", "secret plans")
    ts = emulator.messages(PRIVATE)[0]["ts"]
    calls = [
        client.chat_postMessage(channel=PRIVATE, text="x"),
        client.chat_postMessage(channel="#secret", text="x"),
        client.chat_postEphemeral(channel=PRIVATE, user="U0ALICE", text="x"),
        client.chat_update(channel=PRIVATE, ts=ts, text="x"),
        client.conversations_history(channel=PRIVATE),
        client.conversations_replies(channel=PRIVATE, ts=ts),
        client.conversations_info(channel=PRIVATE),
    ]
    for call in calls:
        assert await refused(call) == {"ok": False, "error": "channel_not_found"}
    failed = await upload(client, PRIVATE)
    assert isinstance(failed, SlackApiError)
    assert failed.response["error"] == "channel_not_found"

    emulator.invite(PRIVATE)
    await client.chat_postMessage(channel=PRIVATE, text="hello")
    info = await client.conversations_info(channel=PRIVATE)
    assert (info["channel"]["is_member"], info["channel"]["is_private"]) == (True, True)
    history = await client.conversations_history(channel=PRIVATE)
    assert [m["text"] for m in history["messages"]] == ["hello", "secret plans"]

    emulator.remove(PRIVATE, emulator.bot_user_id)  # kicked: gone again
    body = await refused(client.chat_postMessage(channel=PRIVATE, text="x"))
    assert body["error"] == "channel_not_found"


async def test_public_channel_without_the_bot(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    # chat:write.public lets chat.postMessage in; nothing else.
    posted = await client.chat_postMessage(channel=PUBLIC, text="hi from outside")
    assert emulator.messages(PUBLIC)[0]["ts"] == posted["ts"]
    await client.chat_update(channel=PUBLIC, ts=posted["ts"], text="edited")
    info = await client.conversations_info(channel=PUBLIC)
    assert (info["channel"]["is_member"], info["channel"]["is_private"]) == (False, False)
    for call in (
        client.chat_postEphemeral(channel=PUBLIC, user="U0ALICE", text="x"),
        client.conversations_history(channel=PUBLIC),
        client.conversations_replies(channel=PUBLIC, ts=posted["ts"]),
    ):
        assert await refused(call) == {"ok": False, "error": "not_in_channel"}
    failed = await upload(client, PUBLIC)
    assert isinstance(failed, SlackApiError)
    assert failed.response["error"] == "not_in_channel"


async def test_without_chat_write_public_a_public_post_is_not_in_channel(tmp_path: Path) -> None:
    scopes = DEFAULT_SCOPES - {"chat:write.public"}
    async with SlackEmulator(scopes=scopes) as emulator:
        emulator.add_channel(PUBLIC, "lobby", member=False)
        client = AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)
        body = await refused(client.chat_postMessage(channel=PUBLIC, text="x"))
        assert body == {"ok": False, "error": "not_in_channel"}
        await client.chat_postMessage(channel=GENERAL, text="members still post")


async def test_archived_channel_is_archived(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel=GENERAL, text="before")
    emulator.archive(GENERAL)
    for call in (
        client.chat_postMessage(channel=GENERAL, text="x"),
        client.chat_postEphemeral(channel=GENERAL, user="U0ALICE", text="x"),
        client.chat_update(channel=GENERAL, ts=posted["ts"], text="x"),
    ):
        assert await refused(call) == {"ok": False, "error": "is_archived"}
    failed = await upload(client, GENERAL)
    assert isinstance(failed, SlackApiError) and failed.response["error"] == "is_archived"
    info = await client.conversations_info(channel=GENERAL)
    assert info["channel"]["is_archived"] is True
    emulator.add_channel("C0OLD", "old", archived=True)
    body = await refused(client.chat_postMessage(channel="C0OLD", text="x"))
    assert body["error"] == "is_archived"


async def test_ephemeral_to_someone_outside_the_channel(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    emulator.invite(PRIVATE)
    body = await refused(client.chat_postEphemeral(channel=PRIVATE, user="U0BOB", text="x"))
    assert body == {"ok": False, "error": "user_not_in_channel"}
    await client.chat_postEphemeral(channel=PRIVATE, user="U0ALICE", text="psst")
    assert [e["user"] for e in emulator.ephemerals(PRIVATE)] == ["U0ALICE"]
    emulator.add_user("U0CAROL", "carol")  # new people join #general, as in Slack
    await client.chat_postEphemeral(channel=GENERAL, user="U0CAROL", text="welcome")


async def test_dm_between_people_is_closed_to_the_bot(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    dm = emulator.add_dm("U0ALICE")
    assert dm.id.startswith("D") and dm.members == {"U0ALICE", "U0BOB"}
    emulator.post_user_message(dm.id, "U0BOB", "can you translate this?")
    assert await refused(client.chat_postMessage(channel=dm.id, text="x")) == {
        "ok": False,
        "error": "channel_not_found",
    }
    with pytest.raises(ValueError, match="not in the DM"):
        emulator.post_user_message(dm.id, emulator.bot_user_id, "sneaking in")


async def test_conversations_open_gives_the_bots_dm_with_the_person(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    opened = await client.conversations_open(users="U0ALICE")
    dm = opened["channel"]["id"]
    assert dm.startswith("D")
    assert emulator.channels[dm].members == {"U0ALICE", emulator.bot_user_id}
    again = await client.conversations_open(users=["U0ALICE"])
    assert (again["channel"]["id"], again["already_open"]) == (dm, True)
    await client.chat_postMessage(channel=dm, text="by channel id")
    posted = await client.chat_postMessage(channel="U0ALICE", text="by user id")
    assert posted["channel"] == dm
    assert [m["text"] for m in emulator.messages(dm)] == ["by channel id", "by user id"]
    info = await client.conversations_info(channel=dm)
    assert (info["channel"]["is_im"], info["channel"]["is_member"]) == (True, True)
    assert info["channel"]["user"] == "U0ALICE"

    assert (await refused(client.conversations_open(users="U0NOBODY")))["error"] == (
        "user_not_found"
    )
    body = await refused(client.api_call("conversations.open", json={}))
    assert body["error"] == "users_list_not_supplied"


def test_default_scopes_are_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == DEFAULT_SCOPES


async def test_conversations_open_needs_im_write(tmp_path: Path) -> None:
    scopes = DEFAULT_SCOPES - {"im:write", "im:history"}
    async with SlackEmulator(scopes=scopes) as emulator:
        client = AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)
        body = await refused(client.conversations_open(users="U0ALICE"))
        assert body == {
            "ok": False,
            "error": "missing_scope",
            "needed": "im:write",
            "provided": ",".join(sorted(scopes)),
        }
        # Reading the bot's DM needs im:history (channels:history does not cover it).
        await client.chat_postMessage(channel="U0ALICE", text="hi")
        body = await refused(client.conversations_history(channel="D0ALICE"))
        assert (body["error"], body["needed"]) == ("missing_scope", "im:history")


# ----- response_url ------------------------------------------------------------------------


async def test_response_url_allows_five_posts(emulator: SlackEmulator) -> None:
    hook = AsyncWebhookClient(emulator.new_response_url(channel=GENERAL, user="U0ALICE"))
    for i in range(5):
        resp = await hook.send(text=f"answer {i}")
        assert (resp.status_code, resp.body) == (200, "ok")
    resp = await hook.send(text="one too many")
    assert (resp.status_code, resp.body) == (404, "used_url")
    assert len(emulator.responses) == 5
    calls = emulator.calls_to("response_url")
    assert [c.response["ok"] for c in calls] == [True] * 5 + [False]
    assert calls[-1].response["error"] == "used_url"


async def test_response_url_expires_after_30_minutes(emulator: SlackEmulator, clock: Clock) -> None:
    hook = AsyncWebhookClient(emulator.new_response_url(channel=GENERAL, user="U0ALICE"))
    clock.now += 30 * 60
    assert (await hook.send(text="just in time")).status_code == 200
    clock.now += 1
    resp = await hook.send(text="too late")
    assert (resp.status_code, resp.body) == (404, "expired_url")
    assert [r["text"] for r in emulator.responses] == ["just in time"]


async def test_response_url_validates_blocks_and_text(emulator: SlackEmulator) -> None:
    hook = AsyncWebhookClient(emulator.new_response_url(channel=GENERAL, user="U0ALICE"))
    resp = await hook.send(text="t", blocks=[section("x" * 3001)], response_type="in_channel")
    assert (resp.status_code, resp.body) == (400, "invalid_blocks")
    assert emulator.calls_to("response_url")[-1].response["errors"] == [TOO_LONG]
    resp = await hook.send(text="x" * 40_001)
    assert (resp.status_code, resp.body) == (400, "msg_too_long")
    assert emulator.responses == [] and emulator.messages(GENERAL) == []


async def test_in_channel_response_lands_where_the_bot_is_not(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    """A slash command typed in a conversation the bot cannot post to: its response_url
    still posts there, in the thread if one is given."""
    dm = emulator.add_dm("U0ALICE")
    parent = emulator.post_user_message(dm.id, "U0ALICE", "/translate en>ja hello")
    hook = AsyncWebhookClient(emulator.new_response_url(channel=dm.id, user="U0ALICE"))
    resp = await hook.send(text="こんにちは", response_type="in_channel")
    assert resp.status_code == 200
    resp = await hook.send_dict(
        {"text": "in the thread", "response_type": "in_channel", "thread_ts": parent["ts"]}
    )
    assert resp.status_code == 200
    assert [m["text"] for m in emulator.messages(dm.id)] == ["/translate en>ja hello", "こんにちは"]
    (reply,) = emulator.thread(dm.id, parent["ts"])
    assert (reply["text"], reply["user"]) == ("in the thread", emulator.bot_user_id)
    assert emulator.responses[-1]["ts"] == reply["ts"]
    # ... while the Web API still cannot see the conversation.
    assert (await refused(client.conversations_history(channel=dm.id)))["error"] == (
        "channel_not_found"
    )


# ----- files and faults --------------------------------------------------------------------


async def test_files_info_tells_deleted_from_unknown(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    resp = await client.files_upload_v2(channel=GENERAL, content="hello", filename="a.txt")
    file_id = resp["file"]["id"]
    await client.files_delete(file=file_id)
    assert await refused(client.files_info(file=file_id)) == {"ok": False, "error": "file_deleted"}
    assert await refused(client.files_info(file="F0NEVER")) == {
        "ok": False,
        "error": "file_not_found",
    }


async def test_a_non_json_answer_reaches_the_client(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    emulator.faults.add(
        "chat.postMessage", status=502, body="<html>Bad Gateway</html>", content_type="text/html"
    )
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=GENERAL, text="x")
    assert info.value.response.status_code == 502
    assert info.value.response.data == {}  # slack_sdk could not parse the body
    assert emulator.messages(GENERAL) == []
    emulator.faults.add("chat.postMessage", status=200, error="channel_not_found")
    assert await refused(client.chat_postMessage(channel=GENERAL, text="x")) == {
        "ok": False,
        "error": "channel_not_found",
    }
    await client.chat_postMessage(channel=GENERAL, text="fine again")
    assert [m["text"] for m in emulator.messages(GENERAL)] == ["fine again"]
