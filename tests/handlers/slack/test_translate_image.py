"""``/translate-image``: Xiangji by default (its engine checked against the keys set),
Alibaba with ``--provider alibaba``; a Slack address is never taken as an image."""

from __future__ import annotations

from bot.core import messages
from handlers.slack.translate_image import on_translate_image
from tests.handlers.support import Ack, Ports, command

URL = "https://img.example.com/shoe.png"


async def send(ports: Ports, text: str) -> Ack:
    ack = Ack()
    await on_translate_image(ack, command("/translate-image", text), ports.context())
    return ack


async def test_images_are_recorded_with_the_default_engine(ports: Ports) -> None:
    ack = await send(ports, f"ko {URL} https://img.example.com/bag.png")
    (task,) = await ports.tasks()
    assert ack.text == messages.ack_images(task.id, 2, "zh", "ko", engine="aliyun")
    assert task.operation == "xiangji.translate_image"
    assert task.request["engine"] == "aliyun" and task.request["source"] == "zh"  # the default
    assert [i.source for i in task.items] == [URL, "https://img.example.com/bag.png"]


async def test_an_engine_without_its_key_names_the_variable(ports: Ports) -> None:
    ack = await send(ports, f"zh>ko {URL} --engine google")
    assert "XIANGJI_IMG_TRANS_GOOGLE_KEY" in ack.text and "aliyun" in ack.text
    assert await ports.tasks() == []


async def test_without_any_image_key_image_translation_is_off(ports: Ports) -> None:
    ports.configure(image_engines=())
    ack = await send(ports, f"zh>ko {URL}")
    assert ack.text == messages.image_translation_off(messages.USAGE["translate-image"])
    assert await ports.tasks() == []


async def test_a_slack_address_is_not_an_image(ports: Ports) -> None:
    for url in ("https://files.slack.com/files-pri/T1-F1/a.png", f"{ports.config.slack_api_url}x"):
        ack = await send(ports, f"zh>ko {url}")
        assert ack.text == messages.slack_address_not_an_image(url)
    assert await ports.tasks() == []


async def test_alibaba_takes_only_what_it_can_do(ports: Ports) -> None:
    ack = await send(ports, f"zh>en {URL} --provider alibaba")
    assert "ALIBABA_ACCESS_KEY_ID" in ack.text  # Alibaba is off
    ports.configure(alibaba=True)
    ack = await send(ports, f"zh>en {URL} --provider alibaba --ocr")
    usage = messages.USAGE["translate-image"]
    assert ack.text == messages.option_not_for_provider("--ocr", "alibaba", usage)
    assert await ports.tasks() == []

    ack = await send(ports, f"zh>en {URL} --provider alibaba")
    (task,) = await ports.tasks()
    assert ack.text == messages.ack_images(task.id, 1, "zh", "en")
    assert task.operation == "alibaba.translate_image" and task.provider == "alibaba"


async def test_bad_input_is_explained_and_nothing_is_recorded(ports: Ports) -> None:
    for text in ("", "zh>ko", "zh>ko not-a-url", f"zh>xx {URL}"):
        ack = await send(ports, text)
        assert "/translate-image" in ack.text, (text, ack.text)
    assert await ports.tasks() == []
