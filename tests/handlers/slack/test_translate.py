"""``/translate``: what the person is told, and what is recorded."""

from __future__ import annotations

from bot.core import messages
from handlers.slack.translate import on_translate
from tests.handlers.support import Ack, Ports, command


async def test_a_translation_is_recorded_once_and_named_in_the_answer(ports: Ports) -> None:
    cmd = command("/translate", "zh>en 你好")
    ack = Ack()
    await on_translate(ack, cmd, ports.context())

    (task,) = await ports.tasks()
    assert ack.text == messages.ack_text(task.id, "zh", "en")
    assert task.operation == "xiangji.translate_text" and task.place.user == "U0ALICE"
    assert (task.request["source"], task.request["target"]) == ("zh", "en")
    assert [i.source for i in task.items] == ["你好"]
    assert ports.nudges  # the work starts at once

    again = Ack()  # Slack sends the same command again (same trigger id)
    await on_translate(again, cmd, ports.context())
    assert again.text == messages.ack_duplicate(task.id, task.state)
    assert len(await ports.tasks()) == 1


async def test_the_source_is_detected_when_only_a_target_is_given(ports: Ports) -> None:
    ack = Ack()
    await on_translate(ack, command("/translate", "en 你好，世界"), ports.context())
    (task,) = await ports.tasks()
    assert task.request["source"] == "zh" and task.request["target"] == "en"


async def test_mistakes_are_explained_and_nothing_is_recorded(ports: Ports) -> None:
    for text, expected in [
        ("", "/translate"),  # the usage
        ("xx>en hello", "xx"),  # an unknown language, named
        ("en>en hello", "into itself"),
        ("en hello there, how are you today", messages.same_language("en")),  # detected
    ]:
        ack = Ack()
        await on_translate(ack, command("/translate", text), ports.context())
        assert expected in ack.text, (text, ack.text)
    assert await ports.tasks() == []
    assert ports.nudges == []


async def test_without_the_text_key_it_says_which_variable_to_set(ports: Ports) -> None:
    ports.configure(xiangji_keys=frozenset({"user_key", "img_trans_key"}))
    ack = Ack()
    await on_translate(ack, command("/translate", "zh>en 你好"), ports.context())
    assert "XIANGJI_TEXT_TRANS_KEY" in ack.text
    assert await ports.tasks() == []


async def test_with_xiangji_off_it_says_so(ports: Ports) -> None:
    ports.configure(xiangji=False, xiangji_keys=frozenset(), image_engines=())
    ack = Ack()
    await on_translate(ack, command("/translate", "zh>en 你好"), ports.context())
    assert "XIANGJI_USER_KEY" in ack.text
    assert await ports.tasks() == []
