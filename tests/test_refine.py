"""Refine over the wire, without a browser: the buttons, the per-user link, the page
Tolk serves, and the one POST a link authorises (the browser tests drive the page)."""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from PIL import Image

from bot.core.links import REFINE_SECONDS
from emulators.signed import event_body, post_signed
from tests.conftest import SIGNING_SECRET
from tests.refine_support import CHANNEL, finished, link_for, press, refine_controls, refine_link


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def refined_uploads(slack) -> list:
    return [f for f in slack.files.values() if "-refined-" in f.name]


async def editor_result(tolk, xiangji, link: str, request_id: str, **extra) -> dict:
    """What the stand-in editor would post after a save."""
    async with tolk.session.post(
        xiangji.base_url + "/image-editor/api/open",
        json={"requestIds": [request_id], "params": {}},
    ) as resp:
        assert resp.status == 200, await resp.text()
    async with tolk.session.post(
        xiangji.base_url + "/image-editor/api/save", json={"requestId": request_id}
    ) as resp:
        url = (await resp.json())["url"]
    return {
        "name": "XJ_IMAGE_EDITOR_URL",
        "url": url,
        "requestId": request_id,
        "all": {request_id: url},
        **extra,
    }


async def post(tolk, link: str, message: dict, **headers: str) -> tuple[int, dict]:
    async with tolk.session.post(link, json=message, headers=headers) as resp:
        return resp.status, await resp.json()


async def request_id_of(tolk, link: str) -> str:
    task_id, index = urlsplit(link).path.split("/")[2:4]
    task = await tolk.services.store.get(task_id)
    return task.items[int(index)].provider_id


async def test_results_carry_refine_only_where_a_page_can_be_served(
    tolk, public_tolk, slack, xiangji
):
    final = await finished(public_tolk, slack, "/translate-image", f"zh>ko {xiangji.sample_url()}")
    (button,) = refine_controls(final)
    assert button["text"]["text"] == "Refine" and button["value"].endswith(":0")

    without = await finished(tolk, slack, "/translate-image", f"zh>ko {xiangji.sample_url('b')}")
    assert refine_controls(without) == []  # no TOLK_PUBLIC_URL: no button that cannot work


async def test_many_images_get_one_button_each_and_a_menu_past_five(public_tolk, slack, xiangji):
    three = " ".join(xiangji.sample_url(f"t{i}") for i in range(3))
    final = await finished(public_tolk, slack, "/translate-image", f"zh>en {three}")
    assert [b["text"]["text"] for b in refine_controls(final)] == [
        "Refine 1",
        "Refine 2",
        "Refine 3",
    ]

    seven = " ".join(xiangji.sample_url(f"s{i}") for i in range(7))
    final = await finished(public_tolk, slack, "/translate-image", f"zh>en {seven}")
    (menu,) = refine_controls(final)
    assert menu["type"] == "static_select" and len(menu["options"]) == 7
    choice = {**menu, "selected_option": menu["options"][5]}
    assert await press(public_tolk, slack, final, choice) == 200
    assert "/refine/" in link_for(slack, "U0ALICE") and "/5/U0ALICE/" in link_for(slack, "U0ALICE")


async def test_the_link_is_the_clickers_own_in_their_slack_language(public_tolk, slack, xiangji):
    alice_link, final = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url()}")
    (button,) = refine_controls(final)
    assert await press(public_tolk, slack, final, button, user="U0BOB") == 200
    bob_link = link_for(slack, "U0BOB")

    assert "/U0ALICE/ENG/" in alice_link and "/U0BOB/KOR/" in bob_link  # en-US, ko-KR
    lookups = slack.calls_to("users.info")
    assert {c.args["user"] for c in lookups} == {"U0ALICE", "U0BOB"}
    assert all(c.args.get("include_locale") in (True, "true", "1") for c in lookups)
    (ephemeral,) = [e for e in slack.ephemerals(CHANNEL) if e["user"] == "U0BOB"]
    assert ephemeral["thread_ts"] == final["thread_ts"]  # shown where the button was
    assert f"{int(REFINE_SECONDS // 60)} minutes" in ephemeral["text"]


async def test_the_page_embeds_the_editor_with_server_side_signatures(public_tolk, slack, xiangji):
    link, _ = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url()}")
    async with public_tolk.session.get(link) as resp:
        page = await resp.text()
        headers = resp.headers
    assert resp.status == 200
    src = html.unescape(re.search(r'<iframe[^>]*src="([^"]+)"', page).group(1))
    assert src.startswith(xiangji.base_url + "/image-editor/#/?")
    params = dict(parse_qsl(src.split("#/?", 1)[1]))
    t = params["CommitTime"]
    assert abs(int(t) - int(public_tolk.services.clock())) <= 5
    assert params["AigcKey"] == xiangji.aigc_key
    assert params["AigcKeySign"] == md5(f"{t}_{xiangji.user_key}_{xiangji.aigc_key}")
    assert params["TextTransSign"] == md5(f"{t}_{xiangji.user_key}_{xiangji.keys[2]}")
    assert params["lang"] == "ENG"
    assert xiangji.user_key not in page  # only signatures leave the server
    assert f"frame-src {xiangji.base_url}" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "XJ_IMAGE_EDITOR_REQUESTIDS" in page and "XJ_IMAGE_EDITOR_URL" in page


async def test_one_link_posts_its_refined_image_once(public_tolk, slack, xiangji):
    link, final = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url()}")
    rid = await request_id_of(public_tolk, link)
    message = await editor_result(public_tolk, xiangji, link, rid)

    status, answer = await post(public_tolk, link, message)
    assert (status, answer["status"]) == (202, "accepted")
    again, replayed = await post(public_tolk, link, message)
    assert (again, replayed["status"]) == (409, "already-sent")
    await public_tolk.settle()

    (upload,) = refined_uploads(slack)
    thread = slack.thread(CHANNEL, final["thread_ts"])
    (carrier,) = [m for m in thread if upload.id in {f["id"] for f in m.get("files", [])}]
    assert "Refined by <@U0ALICE>" in carrier["text"]
    assert upload.content.startswith(b"\x89PNG")
    async with public_tolk.session.get(link) as resp:  # the page says it is spent
        assert resp.status == 410 and "already sent" in await resp.text()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda link: link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"),  # forged
        lambda link: link.replace("/U0ALICE/", "/U0BOB/"),  # someone else's name on it
        lambda link: link.replace("/0/U0ALICE/", "/1/U0ALICE/"),  # another image
    ],
    ids=["forged-signature", "other-user", "other-image"],
)
async def test_a_tampered_link_opens_nothing_and_posts_nothing(public_tolk, slack, xiangji, tamper):
    two = f"{xiangji.sample_url('a')} {xiangji.sample_url('b')}"
    final = await finished(public_tolk, slack, "/translate-image", f"zh>ko {two}")
    assert await press(public_tolk, slack, final, refine_controls(final)[0]) == 200
    link = link_for(slack, "U0ALICE")
    message = await editor_result(
        public_tolk, xiangji, link, await request_id_of(public_tolk, link)
    )
    bad = tamper(link)

    async with public_tolk.session.get(bad) as resp:
        assert resp.status == 403 and "not valid" in await resp.text()
    status, answer = await post(public_tolk, bad, message)
    assert status == 403 and "Press Refine" in answer["error"]
    await public_tolk.settle()
    assert refined_uploads(slack) == []


async def test_a_link_expires_after_half_an_hour(timed_tolk, slack, xiangji, clock):
    """The fake clock: a link past its half hour, though genuine, is refused."""
    links = timed_tolk.services.links
    links.public_url = "http://127.0.0.1:1"  # only the path matters here
    task_id = "T2222"
    url = links.refine_url(task_id, 0, "U0ALICE", "ENG")
    parts = urlsplit(url).path.split("/")[2:]
    assert links.refine_link_valid(*map(str, parts))
    clock.advance(REFINE_SECONDS + 1)
    assert not links.refine_link_valid(*map(str, parts))


async def test_what_the_server_refuses_from_a_genuine_link(public_tolk, slack, xiangji):
    link, _ = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url()}")
    rid = await request_id_of(public_tolk, link)
    good = await editor_result(public_tolk, xiangji, link, rid)
    cases = [
        ({**good, "name": "XJ_SOMETHING_ELSE"}, {}, 400, "XJ_IMAGE_EDITOR_URL"),
        ({**good, "all": {"other": good["url"]}, "requestId": "other"}, {}, 400, "no refined URL"),
        ({**good, "all": {rid: "https://evil.example.net/x.png"}}, {}, 400, "not on a host"),
        ({**good, "all": {rid: "file:///etc/passwd"}}, {}, 400, "no refined URL"),
        (good, {"Origin": "https://evil.example.net"}, 403, "own Refine page"),
    ]
    for message, headers, status, says in cases:
        got, answer = await post(public_tolk, link, message, **headers)
        assert (got, says in answer.get("error", "")) == (status, True), (message, answer)
    async with public_tolk.session.post(
        link, data=b"{", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400
    await public_tolk.settle()
    assert refined_uploads(slack) == []
    padding = {f"id{n}": "https://example.com/" + "x" * 80 for n in range(800)}  # ~80 KB
    got, answer = await post(public_tolk, link, {**good, "all": {**good["all"], **padding}})
    assert got == 413 and "larger" in answer["error"]
    # None of it spent the link: the real result still goes through, even when it comes
    # in pieces (a big batch's ``all``, within the limit, sent chunked and slowly).
    some = dict(list(padding.items())[:500])  # ~50 KB
    body = json.dumps({**good, "all": {**good["all"], **some}}).encode()

    async def slowly():
        for start in range(0, len(body), 16384):
            yield body[start : start + 16384]
            await asyncio.sleep(0.05)

    headers = {"Content-Type": "application/json"}
    async with public_tolk.session.post(link, data=slowly(), headers=headers) as resp:
        assert resp.status == 202, await resp.text()


async def test_saving_without_a_change_posts_nothing_and_keeps_the_link(
    public_tolk, slack, xiangji
):
    link, _ = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url()}")
    rid = await request_id_of(public_tolk, link)
    task = await public_tolk.services.store.get(urlsplit(link).path.split("/")[2])
    original = task.items[0].outputs[0]["url"]
    message = {
        "name": "XJ_IMAGE_EDITOR_URL",
        "url": original,
        "requestId": rid,
        "all": {rid: original},
    }

    status, answer = await post(public_tolk, link, message)

    assert (status, answer["status"]) == (200, "unchanged")
    await public_tolk.settle()
    assert refined_uploads(slack) == []
    async with public_tolk.session.get(link) as resp:
        assert resp.status == 200


async def test_cutouts_open_the_cutout_editor(public_tolk, slack, xiangji):
    link, _ = await refine_link(public_tolk, slack, xiangji.sample_url("bag"), command="/cutout")
    async with public_tolk.session.get(link) as resp:
        page = await resp.text()
    assert xiangji.base_url + "/koutu/" in page and "XJ_KOUTU_REQUESTIDS" in page
    assert "AigcKey" not in page  # the cutout editor takes no signatures
    rid = await request_id_of(public_tolk, link)
    refined = f"{xiangji.base_url}/i/{rid}/r1.png"
    message = {"name": "XJ_KOUTU_RESULT", "url": refined, "requestId": rid, "all": {rid: refined}}
    wrong = {**message, "name": "XJ_IMAGE_EDITOR_URL"}
    assert (await post(public_tolk, link, wrong))[0] == 400
    async with public_tolk.session.post(
        xiangji.base_url + "/koutu/api/open", json={"requestIds": [rid], "params": {}}
    ) as resp:
        assert resp.status == 200
    async with public_tolk.session.post(
        xiangji.base_url + "/koutu/api/save", json={"requestId": rid}
    ) as resp:
        message["url"] = message["all"][rid] = (await resp.json())["url"]
    assert (await post(public_tolk, link, message))[0] == 202
    await public_tolk.settle()
    (upload,) = refined_uploads(slack)
    assert upload.name.endswith(".png")


async def test_refine_on_a_task_that_is_gone_is_explained(public_tolk, slack, xiangji):
    final = await finished(public_tolk, slack, "/translate-image", f"zh>ko {xiangji.sample_url()}")
    (button,) = refine_controls(final)
    assert await press(public_tolk, slack, final, {**button, "value": "T9999:0"}) == 200
    (note,) = slack.ephemerals(CHANNEL)
    assert "T9999" in note["text"] and "/refine/" not in note["text"]


async def test_an_image_translated_by_a_flag_is_refined_into_the_messages_thread(
    public_tolk, slack, xiangji
):
    canvas = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 60)).save(canvas, "PNG")
    message = slack.post_user_message(
        CHANNEL, "U0BOB", "", files=[("p.png", canvas.getvalue(), "image/png")]
    )
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "jp",
        "item": {"type": "message", "channel": CHANNEL, "ts": message["ts"]},
    }
    body = event_body(reaction)
    status, _ = await post_signed(
        public_tolk.session,
        public_tolk.events_url,
        SIGNING_SECRET,
        body,
        content_type="application/json",
    )
    assert status == 200
    await public_tolk.settle()
    final = slack.thread(CHANNEL, message["ts"])[-1]
    (button,) = refine_controls(final)
    assert await press(public_tolk, slack, final, button) == 200
    link = link_for(slack, "U0ALICE")
    assert "(p.png)" in slack.ephemerals(CHANNEL)[-1]["text"]  # named as the person knows it

    rid = await request_id_of(public_tolk, link)
    assert (await post(public_tolk, link, await editor_result(public_tolk, xiangji, link, rid)))[
        0
    ] == 202
    await public_tolk.settle()
    (upload,) = refined_uploads(slack)
    names = [f["name"] for m in slack.thread(CHANNEL, message["ts"]) for f in m.get("files", [])]
    assert upload.name in names and upload.name.startswith("p-ja-")


async def test_a_link_to_deleted_results_opens_nothing(public_tolk, slack, xiangji):
    link, final = await refine_link(public_tolk, slack, f"zh>ko {xiangji.sample_url()}")
    rid = await request_id_of(public_tolk, link)
    message = await editor_result(public_tolk, xiangji, link, rid)
    delete = next(
        e
        for b in final["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "tolk_delete_results"
    )
    assert await press(public_tolk, slack, final, delete) == 200
    await public_tolk.settle()  # the removal is a task the engine runs

    async with public_tolk.session.get(link) as resp:
        assert resp.status == 404 and "no longer there" in await resp.text()
    assert (await post(public_tolk, link, message))[0] == 404
    await public_tolk.settle()
    assert refined_uploads(slack) == []
