"""``/cutout``: background removal, with Xiangji's matting key."""

from __future__ import annotations

from bot.core import messages
from handlers.slack.cutout import on_cutout
from tests.handlers.support import Ack, Ports, command

URL = "https://img.example.com/shoe.png"


async def send(ports: Ports, text: str) -> Ack:
    ack = Ack()
    await on_cutout(ack, command("/cutout", text), ports.context())
    return ack


async def test_a_cutout_is_recorded_with_its_background(ports: Ports) -> None:
    ack = await send(ports, f"{URL} --bg 255,255,255")
    (task,) = await ports.tasks()
    assert ack.text == messages.ack_cutout(task.id, 1)
    assert task.operation == "xiangji.cutout" and task.request == {"bg": [255, 255, 255]}
    assert [i.source for i in task.items] == [URL]


async def test_without_a_background_it_is_transparent(ports: Ports) -> None:
    await send(ports, URL)
    (task,) = await ports.tasks()
    assert task.request == {"bg": None}


async def test_without_the_matting_key_it_names_the_variable(ports: Ports) -> None:
    ports.configure(xiangji_keys=frozenset({"user_key", "img_trans_key"}))
    ack = await send(ports, URL)
    assert "XIANGJI_MATTING_KEY" in ack.text
    assert await ports.tasks() == []


async def test_bad_input_is_explained_and_nothing_is_recorded(ports: Ports) -> None:
    for text in ("", f"{URL} --bg red", f"{URL} --engine google"):
        ack = await send(ports, text)
        assert "/cutout" in ack.text, (text, ack.text)
    slack_file = "https://files.slack.com/files-pri/T1-F1/a.png"
    ack = await send(ports, slack_file)
    assert ack.text == messages.slack_address_not_an_image(slack_file)
    assert await ports.tasks() == []
