"""Issue 16, finding 1: the bot token is not a confused deputy.

Tolk's bot token opens files and API methods that the person asking may not see. A
person in #general who gives the ``url_private`` of a file shared only in a private
channel, or a Slack API address, must not get Tolk to fetch it with its token and post
it where they are. Every test here goes through the wire: signed slash commands in,
the Slack, Rozetta and Alibaba emulators out, and a record of every HTTP request Tolk
makes (``wire``) to show where its token went.
"""

# ruff: noqa: F811 - the provider fixtures are imported and then asked for by name

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.core.languages import lookup
from bot.core.slack_client import slack_client
from bot.core.tasks import Item, Place, Task
from bot.engine.delivery import Delivery, DownloadRefused, host_allowed
from handlers.slack.common import doc_request, document_items, message_items
from tests.conftest import BOT_TOKEN, Tolk
from tests.test_alibaba_e2e import CREATE_DOC, alibaba, alibaba_env, running, until  # noqa: F401
from tests.test_commands_e2e import task_id_in
from tests.test_rozetta_e2e import rozetta, rozetta_env, samples  # noqa: F401
from tests.test_surfaces import thread_files

SECRET = b"Merger plans: do not share.\n"
BEARER = f"Bearer {BOT_TOKEN}"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every HTTP request made in this process while the test runs, as (method, URL,
    Authorization header): Tolk's Web API calls, its downloads, its uploads."""
    sent: list[tuple[str, str, str]] = []
    original = aiohttp.ClientSession._request

    async def spy(self: aiohttp.ClientSession, method: str, url: Any, *args: Any, **kw: Any):
        headers = kw.get("headers") or {}
        auth = next((str(v) for k, v in dict(headers).items() if k.lower() == "authorization"), "")
        sent.append((method, str(url), auth))
        return await original(self, method, url, *args, **kw)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", spy)
    return sent


def token_outside_the_api(wire: list[tuple[str, str, str]], slack) -> list[str]:
    """URLs the bot token was sent to other than Slack's Web API methods."""
    return [url for _, url, auth in wire if BEARER in auth and not url.startswith(slack.api_url)]


@pytest.fixture
async def rz(slack, xiangji, rozetta, samples, tmp_path) -> AsyncIterator[Tolk]:
    async for tolk in running(rozetta_env(slack, xiangji, rozetta, samples, tmp_path)):
        yield tolk


@pytest.fixture
async def mt(slack, xiangji, alibaba, tmp_path) -> AsyncIterator[Tolk]:
    """Alibaba with a public address: Slack files reach it through Tolk's signed links."""
    async for tolk in running(alibaba_env(slack, xiangji, alibaba, tmp_path)):
        yield tolk


def bobs_private_file(slack, *, bot_is_in: bool = True) -> dict[str, Any]:
    """Bob's file, shared only in #secret, a private channel Alice is not in."""
    slack.add_channel("G0SECRET", "secret", is_private=True, member=bot_is_in, members=["U0BOB"])
    message = slack.post_user_message(
        "G0SECRET", "U0BOB", "the plans", files=[("plans.txt", SECRET, "text/plain")]
    )
    return message["files"][0]


async def nothing_recorded(tolk: Tolk) -> bool:
    return await tolk.services.store.list_for_user("U0ALICE") == []


def refused_as_not_visible(body: str) -> bool:
    return "not visible here" in body and "share it in this channel" in body and "upload" in body


# --- the attack: someone else's private file ---------------------------------------------------


async def test_rozetta_never_gets_a_file_from_a_private_channel_the_person_is_not_in(
    rz, slack, rozetta, wire
):
    url = bobs_private_file(slack)["url_private"]
    status, body = await rz.command("/translate-doc", f"en>ja {url} --provider rozetta")
    await rz.settle()
    assert status == 200 and refused_as_not_visible(body)
    assert await nothing_recorded(rz)
    assert token_outside_the_api(wire, slack) == []  # not fetched with the token
    assert slack.calls_to("download") == []
    assert rozetta.requests == []
    assert slack.messages("C0GENERAL") == []  # nothing posted where Alice asked
    assert all(f.content != SECRET for f in slack.files.values() if f.channel == "C0GENERAL")


async def test_alibaba_never_gets_a_signed_link_to_a_private_file(mt, slack, alibaba, wire):
    url = bobs_private_file(slack)["url_private"]
    status, body = await mt.command("/translate-doc", f"en>ja {url}")
    await mt.settle()
    assert status == 200 and refused_as_not_visible(body)
    assert await nothing_recorded(mt)
    assert alibaba.requests == [] and alibaba.fetched == []
    assert token_outside_the_api(wire, slack) == []
    assert slack.calls_to("download") == []
    assert slack.messages("C0GENERAL") == []


async def test_a_file_the_bot_cannot_see_is_refused_the_same_way(rz, slack, rozetta, wire):
    url = bobs_private_file(slack, bot_is_in=False)["url_private"]
    _, body = await rz.command("/translate-doc", f"en>ja {url} --provider rozetta")
    (info,) = slack.calls_to("files.info")
    assert info.response["error"] == "file_not_found"
    assert refused_as_not_visible(body)
    assert await nothing_recorded(rz) and rozetta.requests == []
    assert token_outside_the_api(wire, slack) == []


async def test_a_file_from_someone_elses_dm_is_refused(rz, slack, rozetta):
    """Bob's file in his DM with Tolk is not Alice's to translate in #general."""
    dm = slack.add_channel("D0BOB", "U0BOB", members=["U0BOB"])  # Bob and Tolk
    message = slack.post_user_message(
        dm.id, "U0BOB", "", files=[("mine.txt", SECRET, "text/plain")]
    )
    _, body = await rz.command(
        "/translate-doc", f"en>ja {message['files'][0]['url_private']} --provider rozetta"
    )
    assert refused_as_not_visible(body) and rozetta.requests == []


# --- the attack: Slack API and other Slack addresses as "documents" ------------------------------


@pytest.mark.parametrize("provider", ["rozetta", "alibaba"])
async def test_a_slack_api_address_is_never_called_with_the_token(
    slack, xiangji, rozetta, samples, alibaba, tmp_path, wire, provider
):
    bobs_private_file(slack)
    env = (
        rozetta_env(slack, xiangji, rozetta, samples, tmp_path)
        if provider == "rozetta"
        else alibaba_env(slack, xiangji, alibaba, tmp_path)
    )
    async for tolk in running(env):
        url = f"{slack.api_url}conversations.history?channel=G0SECRET"
        status, body = await tolk.command("/translate-doc", f"en>ja {url} --provider {provider}")
        await tolk.settle()
        assert status == 200 and "not a Slack file" in body
        assert await nothing_recorded(tolk)
    history = [c.args.get("channel") for c in slack.calls_to("conversations.history")]
    assert "G0SECRET" not in history
    assert token_outside_the_api(wire, slack) == []
    assert rozetta.requests == [] and alibaba.requests == [] and alibaba.fetched == []
    assert slack.messages("C0GENERAL") == []


@pytest.mark.parametrize(
    "url",
    [
        "https://slack.com/api/conversations.history?channel=G0SECRET",
        "https://files.slack.com/api/conversations.history?channel=G0SECRET",
        "https://app.slack.com/client/T0TOLK/G0SECRET",
        "https://tolk.slack.com/archives/G0SECRET/p1700000000000100",
        "https://hooks.slack.com/services/T0TOLK/B0/xyz",
        "https://slack.com/files-pri/T0TOLK-F0EMU000001/plans.txt",
        "https://files.slack.com./files-pri/T0TOLK-F0EMU000001/plans.txt",
    ],
)
async def test_other_slack_addresses_are_refused_with_a_message(rz, rozetta, wire, slack, url):
    _, body = await rz.command("/translate-doc", f"en>ja {url} --provider rozetta")
    await rz.settle()
    assert "not a Slack file" in body
    assert await nothing_recorded(rz) and rozetta.requests == []
    assert token_outside_the_api(wire, slack) == []


async def test_a_slack_address_is_no_image_either(rz, slack, xiangji, wire):
    for command in ("/translate-image", "/cutout"):
        args = "zh>en " if command == "/translate-image" else ""
        _, body = await rz.command(command, f"{args}https://app.slack.com/client/T0TOLK/G0SECRET")
        assert "is a Slack address, not a public image link" in body, command
    _, body = await rz.command(
        "/translate-image", "zh>en https://files.slack.com/api/x --provider alibaba"
    )
    assert "is a Slack address, not a public image link" in body
    await rz.settle()
    assert await nothing_recorded(rz) and xiangji.requests == []
    assert token_outside_the_api(wire, slack) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://files.slack.com/files-pri/T0TOLK-F0EMU000001/plans.txt",  # cleartext
        "https://files.slack.com:8443/files-pri/T0TOLK-F0EMU000001/plans.txt",  # another port
        "http://files.slack.com:443/files-pri/T0TOLK-F0EMU000001/plans.txt",
        "https://evil@files.slack.com/files-pri/T0TOLK-F0EMU000001/plans.txt",
    ],
)
async def test_a_files_url_on_the_wrong_scheme_or_port_is_refused(rz, slack, rozetta, wire, url):
    _, body = await rz.command("/translate-doc", f"en>ja {url} --provider rozetta")
    await rz.settle()
    assert "not a Slack file" in body
    assert await nothing_recorded(rz) and rozetta.requests == []
    assert [u for _, u, _ in wire if "files.slack.com" in u] == []  # nothing was sent at all


# --- what still works ----------------------------------------------------------------------------


async def test_alices_own_file_from_elsewhere_still_works(rz, slack, rozetta, wire):
    slack.add_channel("G0ALICE", "alice-notes", is_private=True, members=["U0ALICE"])
    message = slack.post_user_message(
        "G0ALICE", "U0ALICE", "", files=[("notes.txt", b"My notes.\n", "text/plain")]
    )
    file = message["files"][0]
    _, body = await rz.command("/translate-doc", f"en>ja {file['url_private']} --provider rozetta")
    await rz.settle()
    task = await rz.services.store.get(task_id_in(body))
    assert task is not None and task.items[0].source == file["url_private"]
    (sent,) = rozetta.requests_for("file-translate")
    assert sent.files == (("notes.txt", b"My notes.\n"),)
    assert thread_files(slack, "C0GENERAL", task.place.thread_ts) == ["notes.txt"]
    prefix = f"{slack.base_url}/files-pri/{file['id']}/"
    assert all(u.startswith(prefix) for u in token_outside_the_api(wire, slack))


async def test_a_file_shared_in_this_channel_still_works_with_rozetta(rz, slack, rozetta, wire):
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("spec.txt", b"Spec.\n", "text/plain")]
    )
    file = message["files"][0]
    # the download link (url_private_download) names the same file
    _, body = await rz.command(
        "/translate-doc", f"en>ja {file['url_private_download']} --provider rozetta"
    )
    await rz.settle()
    (sent,) = rozetta.requests_for("file-translate")
    assert sent.files == (("spec.txt", b"Spec.\n"),)
    task = await rz.services.store.get(task_id_in(body))
    assert thread_files(slack, "C0GENERAL", task.place.thread_ts) == ["spec.txt"]
    prefix = f"{slack.base_url}/files-pri/{file['id']}/"
    assert all(u.startswith(prefix) for u in token_outside_the_api(wire, slack))


async def test_a_file_shared_in_this_channel_still_works_with_alibaba(mt, slack, alibaba):
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("spec.txt", b"Spec.\n", "text/plain")]
    )
    _, body = await mt.command("/translate-doc", f"en>ja {message['files'][0]['url_private']}")
    await until(lambda: alibaba.docs)
    (doc,) = alibaba.docs.values()
    assert "/files/" in doc.source_url and doc.source_bytes == b"Spec.\n"
    assert len(alibaba.requests_for(CREATE_DOC)) == 1
    assert task_id_in(body)


async def test_a_file_shared_in_a_private_channel_works_there(rz, slack, rozetta):
    """Bob asks in #secret itself, where the file is shared: that is allowed."""
    url = bobs_private_file(slack)["url_private"]
    _, body = await rz.command(
        "/translate-doc", f"en>ja {url} --provider rozetta", user="U0BOB", channel="G0SECRET"
    )
    await rz.settle()
    (sent,) = rozetta.requests_for("file-translate")
    assert sent.files == (("plans.txt", SECRET),)
    task = await rz.services.store.get(task_id_in(body))
    assert task.place.channel == "G0SECRET"


async def test_a_slow_files_info_is_refused_within_slacks_window(rz, slack, rozetta):
    """Slack waits 3 s for the answer to a command: a check that takes longer says so."""
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("spec.txt", b"Spec.\n", "text/plain")]
    )
    slack.latency["files.info"] = 5.0
    _, body = await rz.command(
        "/translate-doc", f"en>ja {message['files'][0]['url_private']} --provider rozetta"
    )
    assert "could not check" in body
    assert await nothing_recorded(rz) and rozetta.requests == []


# --- the engine and the signed links open only the file that was checked ------------------------


async def test_the_engine_fetches_only_the_file_an_item_was_checked_for(rz, slack, rozetta, wire):
    """A slack-file item whose URL is not the file it was checked for (``file_id``), or
    that has no checked file at all (made before the check existed), is never fetched."""
    secret = bobs_private_file(slack)
    own = slack.post_user_message(
        "C0GENERAL", "U0ALICE", "", files=[("mine.txt", b"mine", "text/plain")]
    )["files"][0]
    place = Place("T0TOLK", "C0GENERAL", "U0ALICE")
    for n, meta in enumerate([{"file_id": own["id"]}, {}]):
        item = Item(source=secret["url_private"], meta={"kind": "slack-file", "name": "x", **meta})
        await rz.services.desk.record(
            dedupe_key=f"forged:{n}",
            place=place,
            provider="rozetta",
            operation="rozetta.translate_doc",
            request=doc_request(None, lookup("ja"), "rozetta"),
            items=(item,),
        )
    await rz.settle()
    assert rozetta.requests == [] and slack.calls_to("download") == []
    assert token_outside_the_api(wire, slack) == []


async def test_a_signed_link_serves_only_a_checked_slack_file(mt, slack, alibaba, wire):
    secret = bobs_private_file(slack)
    place = Place("T0TOLK", "C0GENERAL", "U0ALICE")
    items = (
        Item(source=secret["url_private"], meta={"kind": "slack-file", "name": "plans.txt"}),
        Item(source=secret["url_private"], meta={"kind": "url", "name": "plans.txt"}),
    )
    task = Task(
        id="TFORGED",
        dedupe_key="forged",
        place=place,
        provider="alibaba",
        operation="alibaba.translate_doc",
        request={},
        items=items,
        next_poll_at=1e12,  # never started: only the link is asked for
        deadline=1e12,
    )
    await mt.services.store.create_if_absent(task)
    for index in range(len(items)):
        async with mt.session.get(mt.services.links.file_url(task.id, index, "plans.txt")) as r:
            assert r.status == 403 and await r.read() != SECRET
    assert slack.calls_to("download") == [] and token_outside_the_api(wire, slack) == []


# --- the pieces --------------------------------------------------------------------------------


def test_a_host_entry_without_a_port_admits_only_the_schemes_default_port() -> None:
    hosts = ["files.slack.com"]
    assert host_allowed("https://files.slack.com/files-pri/T-F/a.txt", hosts)
    assert host_allowed("https://files.slack.com:443/files-pri/T-F/a.txt", hosts)
    assert not host_allowed("https://files.slack.com:8443/files-pri/T-F/a.txt", hosts)
    assert not host_allowed("http://files.slack.com:443/files-pri/T-F/a.txt", hosts)
    assert not host_allowed("https://files.slack.com:80/files-pri/T-F/a.txt", hosts)
    assert not host_allowed("https://a.x.com:8443/r.png", ["*.x.com"])
    assert host_allowed("https://a.x.com:8443/r.png", ["*.x.com:8443"])


@pytest.mark.parametrize(
    "url",
    [
        "http://files.slack.com/files-pri/T0-F1/a.txt",
        "https://files.slack.com:8443/files-pri/T0-F1/a.txt",
        "https://files.slack.com/api/conversations.history",
        "https://files.slack.com/files-pri/T0-F1",
        "https://files.slack.com/files-tmb/T0-F1/a.png",
        "https://slack.com/files-pri/T0-F1/a.txt",
        "https://slack.com/api/conversations.history",
        "https://u:p@files.slack.com/files-pri/T0-F1/a.txt",
        "https://files.slack.com/files-pri/T0-F2/a.txt",  # not the file that was checked
    ],
)
async def test_download_slack_file_sends_the_token_nowhere_else(wire, url) -> None:
    async with aiohttp.ClientSession() as session:
        slack = slack_client(BOT_TOKEN, "https://slack.com/api/", session)
        delivery = Delivery(slack, session, (), slack_file_hosts=("files.slack.com", "slack.com"))
        with pytest.raises(DownloadRefused):
            await delivery.download_slack_file(url, file_id="F1")
    assert wire == []


def test_message_files_become_items_only_with_their_own_url() -> None:
    """A file object whose url_private names another file (or another host) is no item
    to fetch: only the message's own files are ever downloaded."""
    own = "https://files.slack.com/files-pri/T0-F1/a.png"
    other = "https://files.slack.com/files-pri/T0-F2/b.png"
    files = [
        {"id": "F1", "name": "a.png", "mimetype": "image/png", "url_private": own},
        {"id": "F1", "name": "b.png", "mimetype": "image/png", "url_private": other},
        {"id": "F3", "name": "c.png", "mimetype": "image/png", "url_private": "https://x.io/F3/c"},
    ]
    items = message_items({"files": files})
    assert [i.status for i in items] == ["pending", "failed", "failed"]
    docs = document_items([{**f, "name": f["name"].replace("png", "pdf")} for f in files])
    assert [i.status for i in docs] == ["pending", "failed", "failed"]


# --- the emulator tells the truth about visibility ---------------------------------------------


async def test_the_emulator_shows_where_a_file_is_shared_and_hides_what_the_bot_cannot_see(slack):
    slack.add_channel("G0SECRET", "secret", is_private=True, members=["U0BOB"])
    slack.add_channel("G0HIDDEN", "hidden", is_private=True, member=False, members=["U0BOB"])
    dm = slack.add_channel("D0BOB", "U0BOB", members=["U0BOB"])
    files = [("a.txt", b"a", "text/plain")]
    public = slack.post_user_message("C0GENERAL", "U0BOB", "", files=files)["files"][0]
    private = slack.post_user_message("G0SECRET", "U0BOB", "", files=files)["files"][0]
    direct = slack.post_user_message(dm.id, "U0BOB", "", files=files)["files"][0]
    hidden = slack.post_user_message("G0HIDDEN", "U0BOB", "", files=files)["files"][0]
    async with aiohttp.ClientSession() as session:
        client = slack_client(BOT_TOKEN, slack.api_url, session)
        seen = {}
        for f in (public, private, direct):
            seen[f["id"]] = (await client.files_info(file=f["id"]))["file"]
        assert (seen[public["id"]]["channels"], seen[public["id"]]["groups"]) == (["C0GENERAL"], [])
        assert list(seen[public["id"]]["shares"]) == ["public"]
        assert (seen[private["id"]]["channels"], seen[private["id"]]["groups"]) == (
            [],
            ["G0SECRET"],
        )
        assert list(seen[private["id"]]["shares"]["private"]) == ["G0SECRET"]
        assert seen[direct["id"]]["ims"] == ["D0BOB"] and seen[direct["id"]]["channels"] == []
        assert seen[direct["id"]]["user"] == "U0BOB"
        with pytest.raises(SlackApiError) as refused:
            await client.files_info(file=hidden["id"])
        assert refused.value.response.data == {"ok": False, "error": "file_not_found"}
        auth = {"Authorization": BEARER}
        async with session.get(hidden["url_private"], headers=auth, allow_redirects=False) as r:
            assert r.status == 302 and "/signin" in r.headers["Location"]
        async with session.get(private["url_private"], headers=auth) as r:
            assert r.status == 200 and await r.read() == b"a"
    (download, _) = slack.calls_to("download")
    assert download.args["file_id"] == hidden["id"] and download.args["status"] == 302
