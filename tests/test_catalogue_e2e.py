"""A catalogue through the wire: a CSV of SKUs and image URLs, uploaded to Slack, becomes
one task — one Xiangji batch per language and chunk, one ZIP of results per language and
a manifest CSV in one thread, one closing message counting per language — and a killed
process in the middle sends no chunk twice and posts nothing twice."""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from PIL import Image

from bot.config import load_settings
from bot.core.tasks import Item, Place, State
from bot.engine.operations.catalogue import CHUNK, OPERATION
from bot.runtime import serving
from emulators.signed import block_actions_payload
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from tests.conftest import Tolk
from tests.test_surfaces import send_interaction, upload

CHANNEL, USER = "C0GENERAL", "U0ALICE"
LANGS = {"ko": "KOR", "ja": "JPN"}


def catalogue_csv(xiangji: XiangjiEmulator, rows: int) -> bytes:
    lines = ["sku,title,image"] + [
        f"SKU{n:04d},Item {n},{xiangji.sample_url(f'SKU{n:04d}_main_01')}" for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


async def record(tolk: Tolk, slack: SlackEmulator, data: bytes, langs: dict[str, str]) -> str:
    message = slack.post_user_message(
        CHANNEL, USER, "/translate-image zh>ko,ja", files=[("spring.csv", data, "text/csv")]
    )
    file = message["files"][0]
    targets = [{"lang": lang, "code": code} for lang, code in langs.items()]
    first = targets[0]
    task, created = await tolk.services.desk.record(
        dedupe_key=f"catalogue:{file['id']}",
        place=Place("T0TOLK", CHANNEL, USER),
        provider="xiangji",
        operation=OPERATION,
        request={
            "source": "zh",
            "source_code": "CHS",
            "target": first["lang"],
            "target_code": first["code"],
            **({"targets": targets} if len(targets) > 1 else {}),
            "engine": "aliyun",
            "name": "spring.csv",
        },
        items=(
            Item(
                source=file["url_private"],
                meta={"kind": "slack-file", "file_id": file["id"], "name": "spring.csv"},
            ),
        ),
    )
    assert created
    return task.id


def thread_of(slack: SlackEmulator, task_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (parent,) = [m for m in slack.messages(CHANNEL) if task_id in m.get("text", "")]
    return parent, slack.thread(CHANNEL, parent["ts"])


def file_bytes(slack: SlackEmulator, name: str) -> bytes:
    (found,) = [f for f in slack.files.values() if f.name == name]
    return found.content


async def test_a_catalogue_becomes_one_zip_per_language_and_a_manifest(
    tolk: Tolk, slack: SlackEmulator, xiangji: XiangjiEmulator
) -> None:
    rows = CHUNK + 20  # two chunks per language
    xiangji.faults.item(3, code=105)  # the fourth image of the first batch fails
    task_id = await record(tolk, slack, catalogue_csv(xiangji, rows), LANGS)
    await tolk.settle(within=30)

    batches = xiangji.requests_for("GetImageTranslateBatch")
    assert sorted(b.params["TargetLanguage"] for b in batches) == ["JPN", "JPN", "KOR", "KOR"]
    _, replies = thread_of(slack, task_id)
    names = [f["name"] for r in replies for f in r.get("files", ())]
    assert sorted(names) == ["spring-ja.zip", "spring-ko.zip", "spring-manifest.csv"]

    ko = zipfile.ZipFile(io.BytesIO(file_bytes(slack, "spring-ko.zip")))
    ja = zipfile.ZipFile(io.BytesIO(file_bytes(slack, "spring-ja.zip")))
    assert len(ko.namelist()) + len(ja.namelist()) == 2 * rows - 1  # one image failed
    assert "SKU0000_main_01-ko.png" in ko.namelist()

    manifest = list(csv.DictReader(io.StringIO(file_bytes(slack, "spring-manifest.csv").decode())))
    assert len(manifest) == 2 * rows
    failed = [m for m in manifest if m["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"].startswith("105")
    assert manifest[0]["title"] == "Item 0"  # the sheet's other columns come back

    final = replies[-1]["text"]
    assert "Catalogue `spring.csv` done" in final and "1 failed" in final
    assert f"{rows - 1:,}/{rows:,}" in final or f"{rows:,}/{rows:,}" in final
    task = await tolk.services.store.get(task_id)
    assert task is not None and task.state is State.DELIVERED and task.settled


async def test_a_file_that_is_not_a_catalogue_fails_saying_how_to_write_it(
    tolk: Tolk, slack: SlackEmulator, xiangji: XiangjiEmulator
) -> None:
    task_id = await record(tolk, slack, b"sku,title\nA,B\n", {"ko": "KOR"})
    await tolk.settle()
    _, replies = thread_of(slack, task_id)
    assert "No column of image URLs" in replies[-1]["text"]
    assert xiangji.requests_for("GetImageTranslateBatch") == []


async def test_a_restart_in_the_middle_sends_no_chunk_twice_and_posts_nothing_twice(
    env: dict[str, str], slack: SlackEmulator, xiangji: XiangjiEmulator
) -> None:
    rows = 3 * CHUNK
    xiangji.pending_polls = 1_000  # submitted, and still at Xiangji when the process goes
    async with running(env) as first:
        task_id = await record(first, slack, catalogue_csv(xiangji, rows), {"ko": "KOR"})
        await first.services.poller.tick()
        await first.services.poller.drain()
        assert len(xiangji.requests_for("GetImageTranslateBatch")) == 3  # each chunk saved
    for request_id in list(xiangji.jobs):  # Xiangji finishes them meanwhile
        xiangji.finish(request_id)
    async with running(env) as second:  # a new process on the same store
        await second.settle(within=30)
    assert len(xiangji.requests_for("GetImageTranslateBatch")) == 3  # none sent again
    _, replies = thread_of(slack, task_id)
    names = [f["name"] for r in replies for f in r.get("files", ())]
    assert sorted(names) == ["spring-ko.zip", "spring-manifest.csv"]
    assert sum("Catalogue `spring.csv` done" in r.get("text", "") for r in replies) == 1
    ko = zipfile.ZipFile(io.BytesIO(file_bytes(slack, "spring-ko.zip")))
    assert len(ko.namelist()) == rows


@contextlib.asynccontextmanager
async def running(env: dict[str, str]) -> AsyncIterator[Tolk]:
    async with (
        serving(load_settings(env), host="127.0.0.1", start_scheduler=False) as (services, port),
        aiohttp.ClientSession() as session,
    ):
        yield Tolk(services, port, session)


async def test_a_csv_uploaded_with_translate_image_becomes_a_catalogue_thread(
    tolk: Tolk, slack: SlackEmulator, xiangji: XiangjiEmulator
) -> None:
    data = catalogue_csv(xiangji, 5)
    message = await upload(
        tolk,
        slack,
        [("spring.csv", data, "text/csv")],
        channel=CHANNEL,
        user=USER,
        text="/translate-image zh>ko,ja",
    )
    await tolk.settle(within=20)
    replies = slack.thread(CHANNEL, message["ts"])
    names = sorted(f["name"] for r in replies for f in r.get("files", ()))
    assert names == ["spring-ja.zip", "spring-ko.zip", "spring-manifest.csv"]
    assert "Catalogue `spring.csv` done" in replies[-1]["text"]


async def test_a_catalogue_message_with_a_bad_language_says_so_and_records_nothing(
    tolk: Tolk, slack: SlackEmulator, xiangji: XiangjiEmulator
) -> None:
    message = await upload(
        tolk,
        slack,
        [("spring.csv", catalogue_csv(xiangji, 2), "text/csv")],
        channel=CHANNEL,
        user=USER,
        text="/translate-image zh>klingon",
    )
    (reply,) = slack.thread(CHANNEL, message["ts"])
    assert "klingon" in reply["text"].lower()
    assert await tolk.services.store.count_unsettled() == {}
    assert xiangji.requests_for("GetImageTranslateBatch") == []


async def test_retry_failed_sends_only_the_failed_rows_and_only_once(
    tolk: Tolk, slack: SlackEmulator, xiangji: XiangjiEmulator
) -> None:
    xiangji.faults.item(1, code=105)  # the second image fails
    task_id = await record(tolk, slack, catalogue_csv(xiangji, 4), {"ko": "KOR"})
    await tolk.settle(within=20)
    _, replies = thread_of(slack, task_id)
    final = replies[-1]
    (button,) = [
        e
        for b in final.get("blocks", ())
        for e in b.get("elements", ())
        if e.get("action_id") == "tolk_catalogue_retry"
    ]
    assert button["text"]["text"] == "Retry failed (1)"

    def press(user: str) -> dict[str, Any]:
        return block_actions_payload(
            final,
            button,
            user=user,
            channel=CHANNEL,
            trigger_id=slack.new_trigger_id(),
            response_url=slack.new_response_url(channel=CHANNEL, user=user),
        )

    slack.add_user("U0MALLORY", "mallory")
    status, _ = await send_interaction(tolk, press("U0MALLORY"))  # not theirs
    assert status == 200
    assert len(xiangji.requests_for("GetImageTranslateBatch")) == 1
    for _ in range(2):  # pressed twice: one retry
        status, _ = await send_interaction(tolk, press(USER))
        assert status == 200
    await tolk.settle(within=20)

    batches = xiangji.requests_for("GetImageTranslateBatch")
    assert len(batches) == 2 and batches[1].params["Urls"].count(",") == 0  # one row
    assert "SKU0001" in batches[1].params["Urls"]
    _, replies = thread_of(slack, task_id)
    names = [f["name"] for r in replies for f in r.get("files", ())]
    retried = [n for n in names if "-retry-" in n]
    assert len(retried) == 2 and any(n.endswith("-ko.zip") for n in retried)
    manifest = next(n for n in retried if n.endswith("-manifest.csv"))
    lines = list(csv.DictReader(io.StringIO(file_bytes(slack, manifest).decode())))
    assert [(m["id"], m["status"]) for m in lines] == [("SKU0001", "done")]


def png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(out, "PNG")
    return out.getvalue()


async def test_a_zip_of_images_comes_back_as_a_zip_per_language_named_after_them(
    tolk: Tolk, slack: SlackEmulator, xiangji: XiangjiEmulator
) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("SKU1_main_01.png", png("red"))
        z.writestr("SKU2_main_01.png", png("blue"))
        z.writestr("SKU3_notes.jpg", b"not an image at all")
    message = await upload(
        tolk,
        slack,
        [("photos.zip", archive.getvalue(), "application/zip")],
        channel=CHANNEL,
        user=USER,
        text="/translate-image zh>ko,ja",
    )
    await tolk.settle(within=20)

    sent = xiangji.requests_for("GetImageTranslate")
    assert len(sent) == 4 and all(r.params["Url"] == "local" for r in sent)  # 2 images × 2
    replies = slack.thread(CHANNEL, message["ts"])
    names = sorted(f["name"] for r in replies for f in r.get("files", ()))
    assert names == ["photos-ja.zip", "photos-ko.zip", "photos-manifest.csv"]
    ko = zipfile.ZipFile(io.BytesIO(file_bytes(slack, "photos-ko.zip")))
    assert sorted(n.rsplit(".", 1)[0] for n in ko.namelist()) == [
        "SKU1_main_01-ko",
        "SKU2_main_01-ko",
    ]
    manifest = list(csv.DictReader(io.StringIO(file_bytes(slack, "photos-manifest.csv").decode())))
    assert [(m["id"], m["language"], m["status"]) for m in manifest if m["status"] != "done"] == [
        ("SKU3_notes", "ko", "failed"),
        ("SKU3_notes", "ja", "failed"),
    ]


async def test_a_bad_sheets_name_is_quoted_not_a_mention(
    tolk: Tolk, slack: SlackEmulator, xiangji: XiangjiEmulator
) -> None:
    message = await upload(
        tolk,
        slack,
        [("<!channel> list.csv", b"sku,title\nA,B\n", "text/csv")],
        channel=CHANNEL,
        user=USER,
        text="/translate-image zh>ko",
    )
    (reply,) = slack.thread(CHANNEL, message["ts"])
    assert "No column of image URLs" in reply["text"]
    assert "<!channel>" not in reply["text"] and "&lt;!channel&gt;" in reply["text"]
