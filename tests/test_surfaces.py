"""Slack surfaces through the wire: channel settings, uploads to an auto-translate
channel, flag reactions and the Translate… shortcut. Assertions are on what reached the
Slack and Xiangji emulators."""

from __future__ import annotations

import io
import json

from PIL import Image

from emulators.signed import event_body, interaction_body, post_signed
from tests.conftest import SIGNING_SECRET


def png(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "PNG")
    return buffer.getvalue()


async def send_event(tolk, event: dict, **kwargs) -> int:
    status, _ = await post_signed(
        tolk.session,
        tolk.events_url,
        SIGNING_SECRET,
        event_body(event, **kwargs),
        content_type="application/json",
    )
    return status


async def send_interaction(tolk, payload: dict) -> tuple[int, str]:
    return await post_signed(
        tolk.session, tolk.events_url, SIGNING_SECRET, interaction_body(payload)
    )


async def upload(tolk, slack, files, channel="C0LOCALE", user="U0BOB", text="") -> dict:
    message = slack.post_user_message(channel, user, text, files=files)
    event = {**message, "type": "message", "subtype": "file_share", "channel": channel}
    assert await send_event(tolk, event) == 200
    for f in message["files"]:
        shared = {"type": "file_shared", "file_id": f["id"], "channel_id": channel, "user_id": user}
        assert await send_event(tolk, shared) == 200
    return message


def thread_files(slack, channel, ts) -> list[str]:
    return [f["name"] for m in slack.thread(channel, ts) for f in m.get("files", [])]


async def test_config_show_and_change(tolk):
    _, body = await tolk.command("/tolk", "config auto-images on zh>ko", channel="C0LOCALE")
    assert json.loads(body)["response_type"] == "in_channel" and "auto-images" in body
    await tolk.command("/tolk", "config defaults ja", channel="C0LOCALE")
    await tolk.command("/tolk", "config quota-threshold 500", channel="C0LOCALE")
    _, shown = await tolk.command("/tolk", "config show", channel="C0LOCALE")
    assert "auto-images: zh→ko" in shown and "defaults: auto→ja" in shown
    assert "quota-threshold: 500" in shown and "auto-docs: off" in shown
    _, other = await tolk.command("/tolk", "config show", channel="C0GENERAL")
    assert "auto-images: off" in other


async def test_config_bad_forms_are_explained(tolk):
    for text, expected in {
        "config auto-images maybe": "on zh>ko",
        "config quota-threshold lots": "whole number",
        "config auto-docs on en --provider deepl": "alibaba, rozetta",
        "config auto-images on ko>zh": "image",
        "config colour blue": "show, auto-images",
    }.items():
        _, body = await tolk.command("/tolk", text)
        assert expected in body and "Usage" in body, (text, body)
    _, shown = await tolk.command("/tolk", "config show")
    assert "auto-images: off" in shown


async def test_only_admins_change_settings_when_admins_are_set(tolk):
    from dataclasses import replace

    tolk.services.settings = replace(tolk.services.settings, admins=frozenset({"U0ALICE"}))
    _, body = await tolk.command("/tolk", "config auto-images on ko", user="U0BOB")
    assert "Only Tolk admins (<@U0ALICE>)" in body
    _, shown = await tolk.command("/tolk", "config show", user="U0BOB")
    assert "auto-images: off" in shown
    _, ok = await tolk.command("/tolk", "config auto-images on ko", user="U0ALICE")
    assert "set `auto-images`" in ok


async def test_upload_in_auto_channel_is_one_task_with_results_in_its_thread(tolk, slack, xiangji):
    await tolk.command("/tolk", "config auto-images on zh>ko", channel="C0LOCALE")
    message = await upload(
        tolk, slack, [("shoe.png", png("red"), "image/png"), ("bag.png", png("blue"), "image/png")]
    )
    await tolk.settle()
    sent = xiangji.requests_for("GetImageTranslate")  # the upload API, as file data
    assert len(sent) == 2 and all(r.path.startswith("/api2") for r in sent)
    names = thread_files(slack, "C0LOCALE", message["ts"])
    assert len(names) == 2 and {n.split("-ko-")[0] for n in names} == {"shoe", "bag"}
    done = [m for m in slack.thread("C0LOCALE", message["ts"]) if "Done" in m.get("text", "")]
    assert len(done) == 1
    buttons = [e for b in done[0]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["action_id"] == "tolk_delete_results"
    assert "original message" in json.dumps(done[0]["blocks"])
    tasks = await tolk.services.store.list_for_channel("C0LOCALE", active_only=False)
    assert len(tasks) == 1  # message + file_shared events: one task


async def test_upload_elsewhere_or_not_an_image_or_too_big(tolk, slack, xiangji):
    await upload(tolk, slack, [("a.png", png(), "image/png")], channel="C0GENERAL")
    await tolk.command("/tolk", "config auto-images on zh>ko", channel="C0LOCALE")
    big = png() + b"\0" * (10 * 1024 * 1024)
    message = await upload(
        tolk,
        slack,
        [("fake.png", b"GIF? no: plain text", "image/png"), ("big.png", big, "image/png")],
    )
    await tolk.settle()
    assert xiangji.requests == []  # nothing reached the provider
    (closing,) = [m for m in slack.thread("C0LOCALE", message["ts"]) if "translated" in m["text"]]
    assert "fake.png" in closing["text"] and "not a PNG, JPEG" in closing["text"]
    assert "big.png" in closing["text"] and "larger than 10 MB" in closing["text"]
    assert slack.thread("C0GENERAL", slack.messages("C0GENERAL")[0]["ts"]) == []


async def test_documents_in_an_auto_docs_channel_say_what_is_missing(tolk, slack):
    """Alibaba is not configured here: one reply naming the variables, no task."""
    await tolk.command("/tolk", "config auto-docs on zh>en", channel="C0LOCALE")
    message = await upload(tolk, slack, [("spec.pdf", b"%PDF-1.4 ...", "application/pdf")])
    await tolk.settle()
    (reply,) = slack.thread("C0LOCALE", message["ts"])
    assert "ALIBABA_ACCESS_KEY_ID" in reply["text"] and "document translation" in reply["text"]
    assert await tolk.services.store.list_for_channel("C0LOCALE") == []


async def test_flag_reaction_translates_text_keeping_slack_markup(tolk, slack, xiangji):
    text = "你好 <@U0BOB> 看 <https://example.com|这里> :tada: `code`"
    message = slack.post_user_message("C0GENERAL", "U0BOB", text)
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "flag-kr",
        "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
    }
    assert await send_event(tolk, reaction) == 200
    assert await send_event(tolk, {**reaction, "reaction": "kr"}) == 200  # same language again
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert sent.params["TargetLanguage"] == "KOR" and "<@U0BOB>" not in sent.params["Text"]
    (reply,) = slack.thread("C0GENERAL", message["ts"])
    for span in ("<@U0BOB>", "<https://example.com|这里>", ":tada:", "`code`"):
        assert span in reply["text"]
    assert "zh→ko" in reply["text"]


async def test_flag_reaction_on_images_uploads_them_in_the_thread(tolk, slack, xiangji):
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("p.png", png(), "image/png")]
    )
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "jp",
        "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
    }
    await send_event(tolk, reaction)
    await tolk.settle()
    assert thread_files(slack, "C0GENERAL", message["ts"])[0].startswith("p-ja-")


async def test_reaction_on_nothing_translatable_or_not_a_flag(tolk, slack, xiangji):
    message = slack.post_user_message("C0GENERAL", "U0BOB", ":thumbsup: <@U0ALICE>")
    for name in ("flag-de", "thumbsup"):
        reaction = {
            "type": "reaction_added",
            "user": "U0ALICE",
            "reaction": name,
            "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
        }
        assert await send_event(tolk, reaction) == 200
    await tolk.settle()
    assert xiangji.requests == [] and slack.thread("C0GENERAL", message["ts"]) == []
    (note,) = slack.ephemerals("C0GENERAL")
    assert note["user"] == "U0ALICE" and "no text or images" in note["text"]


async def test_translate_shortcut_opens_a_form_and_submits_a_task(tolk, slack, xiangji):
    parent = slack.post_user_message("C0GENERAL", "U0BOB", "thread start")
    reply = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("q.png", png(), "image/png")], thread_ts=parent["ts"]
    )
    status, _ = await send_interaction(
        tolk,
        {
            "type": "message_action",
            "callback_id": "tolk_translate",
            "trigger_id": slack.new_trigger_id(),
            "team": {"id": "T0TOLK"},
            "user": {"id": "U0ALICE"},
            "channel": {"id": "C0GENERAL"},
            "message_ts": reply["ts"],
            "message": reply,
        },
    )
    assert status == 200
    (view,) = slack.views.values()
    assert view["callback_id"] == "tolk_translate_modal"
    values = {
        "target": {"value": {"type": "static_select", "selected_option": {"value": "ko"}}},
        "source": {"value": {"type": "static_select", "selected_option": {"value": "zh"}}},
        "provider": {"value": {"type": "static_select", "selected_option": {"value": "xiangji"}}},
        "quality": {"value": {"type": "radio_buttons", "selected_option": {"value": "best"}}},
        "options": {"value": {"type": "checkboxes", "selected_options": [{"value": "removed"}]}},
    }
    submission = {
        "type": "view_submission",
        "team": {"id": "T0TOLK"},
        "user": {"id": "U0ALICE"},
        "view": {**view, "state": {"values": values}},
    }
    status, _ = await send_interaction(tolk, submission)
    assert status == 200
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetImageTranslate")
    assert sent.params["Qos"] == "BestQuality" and sent.params["NeedRmUrl"] == "1"
    names = [n for n in thread_files(slack, "C0GENERAL", parent["ts"]) if n != "q.png"]
    assert sorted(n.split("-T")[0] for n in names) == ["q-ko", "q-ko-removed"]  # in its thread


async def test_shortcut_with_an_impossible_source_is_refused_in_the_form(tolk, slack, xiangji):
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("k.png", png(), "image/png")]
    )
    values = {
        "target": {"value": {"type": "static_select", "selected_option": {"value": "zh"}}},
        "source": {"value": {"type": "static_select", "selected_option": {"value": "ko"}}},
    }
    payload = {
        "type": "view_submission",
        "team": {"id": "T0TOLK"},
        "user": {"id": "U0ALICE"},
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "tolk_translate_modal",
            "state": {"values": values},
            "private_metadata": json.dumps(
                {
                    "channel": "C0GENERAL",
                    "ts": message["ts"],
                    "thread_ts": message["ts"],
                    "team": "T0TOLK",
                }
            ),
        },
    }
    status, body = await send_interaction(tolk, payload)
    assert status == 200 and json.loads(body)["response_action"] == "errors"
    assert "source" in json.loads(body)["errors"]
    await tolk.settle()
    assert xiangji.requests == []


async def test_a_redelivered_upload_event_is_one_task_and_one_submission(tolk, slack, xiangji):
    await tolk.command("/tolk", "config auto-images on zh>ko", channel="C0LOCALE")
    message = slack.post_user_message(
        "C0LOCALE", "U0BOB", "", files=[("r.png", png(), "image/png")]
    )
    event = {**message, "type": "message", "subtype": "file_share", "channel": "C0LOCALE"}
    body = event_body(event, event_id="Ev0RETRY01")
    for retry in ("", "1", "2"):  # the first delivery, then Slack's retries of the same event
        headers = (
            {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        )
        status, _ = await post_signed(
            tolk.session,
            tolk.events_url,
            SIGNING_SECRET,
            body,
            content_type="application/json",
            headers=headers,
        )
        assert status == 200
    await tolk.settle()
    assert len(xiangji.requests_for("GetImageTranslate")) == 1
    assert len(thread_files(slack, "C0LOCALE", message["ts"])) == 1
