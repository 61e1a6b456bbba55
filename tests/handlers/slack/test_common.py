"""What the Slack handlers share: which addresses are Slack's, which files of a message
are taken (and why one is not), which engine an image goes to, and the one way in to
recording a task."""

from __future__ import annotations

import pytest

from bot.core import messages
from bot.core.tasks import Item, Place
from handlers.slack.common import (
    MAX_FILE_BYTES,
    MAX_FILES,
    command_key,
    documents,
    image_engine,
    message_engine,
    message_items,
    record_task,
    require_doc_provider,
    slack_address,
    slack_file_id,
)
from handlers.slack.parsing import UsageError
from tests.handlers.support import CHANNEL, Ports

FILE = "https://files.slack.com/files-pri/T0TOLK-F0AB12/shoe.png"


def test_slack_addresses_are_every_slack_name_and_the_api(ports: Ports) -> None:
    api = ports.config.slack_api_url
    for url in (FILE, "http://tolk.slack.com:8080/x", "https://a.slack-edge.com/i.png", api):
        assert slack_address(ports.config, url), url
    for url in ("https://img.example.com/slack.com.png", "https://notslack.com/x", "not a url"):
        assert not slack_address(ports.config, url), url


def test_a_slack_file_link_must_be_exactly_one(ports: Ports) -> None:
    assert slack_file_id(ports.config, FILE) == "F0AB12"
    assert slack_file_id(ports.config, FILE.replace("/shoe.png", "/download/shoe.png")) == "F0AB12"
    for url in (
        FILE.replace("https://", "http://"),
        FILE.replace("files.slack.com", "files.slack.com:8443"),
        FILE.replace("files.slack.com", "user@files.slack.com"),
        FILE.replace("shoe.png", ".."),
        "https://files.slack.com/files-tmb/T0TOLK-F0AB12/shoe.png",
    ):
        assert slack_file_id(ports.config, url) is None, url


def file(n: int, **changes: object) -> dict:
    fid = f"F{n:04d}"
    return {
        "id": fid,
        "name": f"p{n}.png",
        "mimetype": "image/png",
        "size": 100,
        "url_private": f"https://files.slack.com/files-pri/T0TOLK-{fid}/p{n}.png",
        **changes,
    }


def test_a_messages_items_say_why_a_file_is_not_taken() -> None:
    files = [
        file(1),
        file(2, size=MAX_FILE_BYTES + 1),
        file(3, url_private="https://evil.example.com/p3.png"),
        *[file(n) for n in range(4, MAX_FILES + 2)],
        {**file(99), "mimetype": "text/plain", "name": "notes.txt"},
    ]
    items = message_items({"text": "新鞋到了", "files": files})
    assert items[0].source == "新鞋到了" and items[0].meta["kind"] == "text"
    images = items[1:]
    assert len(images) == MAX_FILES + 1  # the text file is not an image
    assert images[0].status == "pending"
    assert (images[1].error or {})["code"] == "too-large"
    assert (images[2].error or {})["code"] == "not-slack"
    assert (images[-1].error or {})["code"] == "too-many"


def test_documents_are_what_alibaba_takes_by_type_or_extension() -> None:
    files = [
        {"name": "a.docx", "filetype": "docx"},
        {"name": "b.PDF", "filetype": "binary"},
        {"name": "c.png", "filetype": "png"},
        {"name": "d", "filetype": "markdown"},
    ]
    assert [f["name"] for f in documents({"files": files})] == ["a.docx", "b.PDF", "d"]


def test_the_engine_is_the_one_asked_for_when_its_key_is_set(ports: Ports) -> None:
    ports.configure(image_engines=("aliyun", "deepl"))
    assert image_engine(ports.config, None, "usage") == "aliyun"
    assert image_engine(ports.config, "deepl", "usage") == "deepl"
    with pytest.raises(UsageError, match="XIANGJI_IMG_TRANS_GOOGLE_KEY"):
        image_engine(ports.config, "google", "usage")
    ports.configure(image_engines=())
    assert message_engine(ports.config, "google") is None  # a message's text still goes
    with pytest.raises(UsageError, match="IMG_TRANS"):
        image_engine(ports.config, None, "usage")


def test_a_document_provider_that_is_off_is_bad_input(ports: Ports) -> None:
    with pytest.raises(UsageError, match="ALIBABA_ACCESS_KEY_ID"):
        require_doc_provider(ports.config, "alibaba")
    ports.configure(alibaba=True)
    require_doc_provider(ports.config, "alibaba")
    with pytest.raises(UsageError, match="ROZETTA_SECRET_KEY"):
        require_doc_provider(ports.config, "rozetta")


async def test_recording_refuses_a_slack_address_as_an_image(ports: Ports) -> None:
    place = Place("T0TOLK", CHANNEL, "U0ALICE")
    with pytest.raises(UsageError) as refused:
        await record_task(
            ports.desk,
            ports.config,
            dedupe_key="k1",
            place=place,
            provider="xiangji",
            operation="xiangji.translate_image",
            request={},
            items=(Item(source=FILE),),
        )
    assert str(refused.value) == messages.slack_address_not_an_image(FILE)
    assert await ports.tasks() == []
    task, created = await record_task(  # a document may be a Slack file (checked before)
        ports.desk,
        ports.config,
        dedupe_key="k2",
        place=place,
        provider="rozetta",
        operation="rozetta.translate_doc",
        request={},
        items=(Item(source=FILE, meta={"kind": "slack-file"}),),
    )
    assert created and await ports.tasks() == [task]


def test_a_commands_key_is_its_trigger() -> None:
    assert command_key({"team_id": "T1", "trigger_id": "9.9.abc"}) == "command:T1:9.9.abc"
