"""The Slack emulator, driven by the real slack_sdk / slack-bolt clients."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from emulators.slack import SlackEmulator

GENERAL = "C0GENERAL"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(files_dir=tmp_path / "files") as emu:
        yield emu


@pytest.fixture
def client(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)


async def test_auth_test_returns_bot_identity(client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert resp["ok"] is True
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == (
        "T0TOLK",
        "U0TOLKBOT",
        "B0TOLKBOT",
    )
    assert resp["url"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize(("token", "error"), [("xoxb-wrong", "invalid_auth"), (None, "not_authed")])
async def test_bad_or_missing_token_is_rejected(
    emulator: SlackEmulator, token: str | None, error: str
) -> None:
    bad = AsyncWebClient(token=token, base_url=emulator.api_url)
    with pytest.raises(SlackApiError) as info:
        await bad.chat_postMessage(channel=GENERAL, text="hi")
    assert info.value.response.status_code == 200
    assert info.value.response.data == {"ok": False, "error": error}
    assert emulator.messages(GENERAL) == []


@pytest.mark.filterwarnings("ignore:The top-level `text` argument:UserWarning")
async def test_rejects_what_slack_rejects(client: AsyncWebClient) -> None:
    post = client.chat_postMessage
    cases = [
        (post(channel="C0NOPE", text="x"), "channel_not_found"),
        (post(channel=GENERAL), "no_text"),
        (post(channel=GENERAL, text="x", thread_ts="1.5"), "invalid_thread_ts"),
        (post(channel=GENERAL, text="x", thread_ts="1700000000.000001"), "thread_not_found"),
        (client.users_info(user="U0NOBODY"), "user_not_found"),
        (client.views_open(trigger_id="123.456.abc", view={"type": "modal"}), "invalid_trigger_id"),
    ]
    errors = []
    for call, _ in cases:
        with pytest.raises(SlackApiError) as info:
            await call
        errors.append(info.value.response["error"])
    assert errors == [error for _, error in cases]
    with pytest.raises(SlackApiError) as info:
        await client.api_call("chat.postMessagee", json={"channel": GENERAL, "text": "x"})
    assert info.value.response.status_code == 404
    assert info.value.response["error"] == "unknown_method"


async def test_thread_replies_in_order_with_pagination(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="#general", text="parent")
    assert parent["channel"] == GENERAL
    for i in range(3):
        await client.chat_postMessage(channel=GENERAL, text=f"reply {i}", thread_ts=parent["ts"])
    resp = await client.conversations_replies(channel=GENERAL, ts=parent["ts"])
    texts = [m["text"] for m in resp["messages"]]
    assert texts == ["parent", "reply 0", "reply 1", "reply 2"]
    assert resp["messages"][0]["reply_count"] == 3
    assert all(m["thread_ts"] == parent["ts"] for m in resp["messages"])
    timestamps = [m["ts"] for m in resp["messages"]]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) == 4

    first = await client.conversations_replies(channel=GENERAL, ts=parent["ts"], limit=2)
    assert [m["text"] for m in first["messages"]] == ["parent", "reply 0"]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = await client.conversations_replies(
        channel=GENERAL, ts=parent["ts"], limit=2, cursor=cursor
    )
    assert [m["text"] for m in second["messages"]] == ["parent", "reply 1", "reply 2"]
    assert second["response_metadata"]["next_cursor"] == ""
    assert [m["text"] for m in emulator.thread(GENERAL, parent["ts"])] == [
        "reply 0",
        "reply 1",
        "reply 2",
    ]
    history = await client.conversations_history(channel=GENERAL)
    assert [m["text"] for m in history["messages"]] == ["parent"]


async def test_files_upload_v2_lands_in_thread_with_exact_bytes(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel=GENERAL, text="please localise")
    resp = await client.files_upload_v2(
        channel=GENERAL,
        thread_ts=parent["ts"],
        file=PNG,
        filename="banner.ko-KR.png",
        initial_comment="Here is the Korean version",
    )
    file_id = resp["file"]["id"]
    methods = [c.method for c in emulator.calls]
    assert methods[-3:] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    stored = emulator.files[file_id]
    assert stored.content == PNG
    assert (stored.name, stored.size, stored.mimetype) == (
        "banner.ko-KR.png",
        len(PNG),
        "image/png",
    )
    assert (stored.channel, stored.thread_ts) == (GENERAL, parent["ts"])
    assert stored.path is not None and stored.path.read_bytes() == PNG

    replies = await client.conversations_replies(channel=GENERAL, ts=parent["ts"])
    share = replies["messages"][-1]
    assert share["text"] == "Here is the Korean version"
    assert [f["id"] for f in share["files"]] == [file_id]
    assert share["files"][0]["url_private"] == stored.url_private
    assert emulator.messages(GENERAL)[-1]["text"] == "please localise"  # not a top-level post

    assert emulator.calls_to("files.getUploadURLExternal")[0].args["length"] == str(len(PNG))
    info = await client.files_info(file=file_id)
    assert info["file"]["shares"]["public"][GENERAL][0]["thread_ts"] == parent["ts"]


async def test_url_private_requires_the_bot_token(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    message = emulator.post_user_message(
        GENERAL, "U0BOB", "localise this", files=[("photo.jpg", PNG, "image/jpeg")]
    )
    url = message["files"][0]["url_private"]
    assert message["files"][0]["filetype"] == "jpg"
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {emulator.bot_token}"}
        async with session.get(url, headers=headers) as res:
            assert res.status == 200
            assert res.content_type == "image/jpeg"
            assert await res.read() == PNG
        async with session.get(url, allow_redirects=False) as res:
            assert res.status == 302
            assert "/signin" in res.headers["Location"]
        async with session.get(url) as res:  # followed redirect: an HTML page, not the file
            assert res.content_type == "text/html"
            assert await res.read() != PNG
        async with session.get(url, headers={"Authorization": "Bearer xoxb-wrong"}) as res:
            assert res.status == 403
            assert await res.read() != PNG


async def test_rate_limit_is_retried_and_message_arrives_once(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    emulator.faults.add("chat.postMessage", status=429, retry_after=1)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler())
    started = time.monotonic()
    resp = await client.chat_postMessage(channel=GENERAL, text="after the storm")
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert [m["text"] for m in emulator.messages(GENERAL)] == ["after the storm"]
    assert resp["ts"] == emulator.messages(GENERAL)[0]["ts"]
    calls = emulator.calls_to("chat.postMessage")
    assert [c.faulted for c in calls] == [True, False]
    assert calls[1].args["text"] == "after the storm"

    emulator.faults.add("auth.test", status=429, retry_after=7)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.api_url}auth.test") as res,
    ):
        assert (res.status, res.headers["Retry-After"]) == (429, "7")
        assert await res.json() == {"ok": False, "error": "ratelimited"}


async def test_server_error_surfaces_without_retry_handler(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    emulator.faults.add("chat.postMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel=GENERAL, text="doomed")
        assert info.value.response.status_code == 500
    assert emulator.messages(GENERAL) == []
    await client.chat_postMessage(channel=GENERAL, text="recovered")
    assert [m["text"] for m in emulator.messages(GENERAL)] == ["recovered"]


async def test_upload_url_faults_and_length_check(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    emulator.faults.add("upload", status=429, retry_after=0)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler())
    resp = await client.files_upload_v2(channel=GENERAL, content="hello", filename="a.txt")
    assert emulator.files[resp["file"]["id"]].content == b"hello"
    assert [c.faulted for c in emulator.calls_to("upload")] == [True, False]

    slot = await client.files_getUploadURLExternal(filename="b.txt", length=10)
    async with (
        aiohttp.ClientSession() as session,
        session.post(slot["upload_url"], data=b"short") as res,
    ):
        assert res.status == 400
        assert "declared 10" in await res.text()
    with pytest.raises(SlackApiError) as info:
        await client.files_completeUploadExternal(files=[{"id": slot["file_id"]}])
    assert info.value.response["error"] == "file_not_found"


async def test_complete_upload_refuses_file_whose_bytes_never_arrived(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    slot = await client.files_getUploadURLExternal(filename="ghost.png", length=42)
    with pytest.raises(SlackApiError) as info:
        await client.files_completeUploadExternal(
            files=[{"id": slot["file_id"], "title": "ghost"}], channel_id=GENERAL
        )
    assert info.value.response["error"] == "file_not_found"
    assert emulator.files == {}
    assert emulator.messages(GENERAL) == []
    with pytest.raises(SlackApiError) as info:
        await client.files_upload_v2(channel=GENERAL, content=b"", filename="empty.txt")
    assert info.value.response["error"] == "missing_argument"  # Slack's answer to length=0


async def test_response_url_post_is_recorded_and_applied(emulator: SlackEmulator) -> None:
    ephemeral_url = emulator.new_response_url()
    await AsyncWebhookClient(ephemeral_url).send(text="only you can see this")
    url = emulator.new_response_url(channel=GENERAL, user="U0ALICE")
    resp = await AsyncWebhookClient(url).send(
        text="Translated!", response_type="in_channel", replace_original=False
    )
    assert (resp.status_code, resp.body) == (200, "ok")
    first, second = emulator.responses
    assert (first["response_type"], first["text"]) == ("ephemeral", "only you can see this")
    assert second["response_type"] == "in_channel"
    assert second["text"] == "Translated!"
    assert second["replace_original"] is False and second["delete_original"] is False
    assert [m["text"] for m in emulator.messages(GENERAL)] == ["Translated!"]


async def test_users_info_hides_locale_unless_asked(client: AsyncWebClient) -> None:
    plain = await client.users_info(user="U0BOB")
    assert "locale" not in plain["user"]
    assert plain["user"]["profile"]["display_name"] == "bob"
    localized = await client.users_info(user="U0BOB", include_locale=True)
    assert (localized["user"]["locale"], localized["user"]["tz"]) == ("ko-KR", "Asia/Seoul")


async def test_ephemeral_update_delete_reactions_and_views(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    eph = await client.chat_postEphemeral(channel=GENERAL, user="U0ALICE", text="psst")
    assert emulator.ephemerals(GENERAL)[0]["ts"] == eph["message_ts"]
    assert emulator.ephemerals(GENERAL)[0]["text"] == "psst"

    posted = await client.chat_postMessage(channel=GENERAL, text="working…")
    await client.chat_update(channel=GENERAL, ts=posted["ts"], text="done")
    await client.reactions_add(channel=GENERAL, timestamp=posted["ts"], name="white_check_mark")
    got = await client.reactions_get(channel=GENERAL, timestamp=posted["ts"])
    assert got["message"]["text"] == "done"
    assert got["message"]["reactions"] == [
        {"name": "white_check_mark", "users": ["U0TOLKBOT"], "count": 1}
    ]
    with pytest.raises(SlackApiError) as info:
        await client.reactions_add(channel=GENERAL, timestamp=posted["ts"], name="white_check_mark")
    assert info.value.response["error"] == "already_reacted"

    human = emulator.post_user_message(GENERAL, "U0ALICE", "mine")
    with pytest.raises(SlackApiError) as info:
        await client.chat_delete(channel=GENERAL, ts=human["ts"])
    assert info.value.response["error"] == "cant_delete_message"
    await client.chat_delete(channel=GENERAL, ts=posted["ts"])
    assert [m["text"] for m in emulator.messages(GENERAL)] == ["mine"]

    trigger = emulator.new_trigger_id()
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Tolk"}, "blocks": []}
    opened = await client.views_open(trigger_id=trigger, view=modal)
    updated = await client.views_update(
        view_id=opened["view"]["id"], hash=opened["view"]["hash"], view=modal
    )
    assert updated["view"]["id"] == opened["view"]["id"]
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id=trigger, view={"type": "modal"})
    assert info.value.response["error"] == "expired_trigger_id"
    home = await client.views_publish(user_id="U0BOB", view={"type": "home", "blocks": []})
    assert emulator.home_views["U0BOB"]["id"] == home["view"]["id"]


async def test_bolt_app_replies_in_thread(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    app = AsyncApp(client=client, request_verification_enabled=False)

    @app.event("app_mention")
    async def on_mention(event: dict, say) -> None:
        await say(text=f"echo: {event['text']}", thread_ts=event["ts"])

    message = emulator.post_user_message(GENERAL, "U0ALICE", "<@U0TOLKBOT> hola")
    body = {
        "type": "event_callback",
        "team_id": emulator.team_id,
        "api_app_id": "A0TOLK",
        "event_id": "Ev1",
        "event": {**message, "type": "app_mention", "channel": GENERAL},
    }
    request = AsyncBoltRequest(body=json.dumps(body), headers={"content-type": "application/json"})
    assert (await app.async_dispatch(request)).status == 200
    await emulator.wait_for(lambda: emulator.thread(GENERAL, message["ts"]))
    reply = emulator.thread(GENERAL, message["ts"])[0]
    assert reply["text"] == "echo: <@U0TOLKBOT> hola"
    assert reply["bot_id"] == "B0TOLKBOT"


async def test_wait_for_times_out_with_a_useful_message(emulator: SlackEmulator) -> None:
    with pytest.raises(AssertionError, match="never_true"):
        await emulator.wait_for(lambda: "never_true" == "", timeout=0.05)
