"""``/media-job``: Alibaba MTS jobs, checked against ``providers.mts.spec`` first."""

from __future__ import annotations

from bot.core import messages
from handlers.slack.media_job import on_media_job
from tests.handlers.support import Ack, Ports, command

INPUT = "oss://bucket/in/clip.mp4"


async def send(ports: Ports, text: str) -> Ack:
    ack = Ack()
    await on_media_job(ack, command("/media-job", text), ports.context())
    return ack


async def test_a_job_is_recorded_and_named(ports: Ports) -> None:
    ports.configure(alibaba=True, mts_output=True)
    ack = await send(ports, f'VideoH2V {INPUT} {{"Width": 720}}')
    (task,) = await ports.tasks()
    assert ack.text == messages.ack_media(task.id, "VideoH2V", INPUT)
    assert task.operation == "mts.iproduction"
    assert task.request == {"function": "VideoH2V", "input": INPUT, "params": {"Width": 720}}


async def test_a_status_query_needs_no_output(ports: Ports) -> None:
    ports.configure(alibaba=True)
    ack = await send(ports, "status 8f2c0d")
    (task,) = await ports.tasks()
    assert ack.text == messages.ack_media_status(task.id, "8f2c0d")
    assert task.items[0].provider_id == "8f2c0d" and task.request["function"] is None


async def test_what_is_missing_is_said_and_nothing_is_recorded(ports: Ports) -> None:
    ack = await send(ports, f"VideoH2V {INPUT}")
    assert "ALIBABA_ACCESS_KEY_ID" in ack.text  # Alibaba is off
    ports.configure(alibaba=True)
    ack = await send(ports, f"VideoH2V {INPUT}")
    assert ack.text == messages.no_mts_output()
    assert await ports.tasks() == []


async def test_a_mistyped_job_is_explained_and_nothing_is_recorded(ports: Ports) -> None:
    ports.configure(alibaba=True, mts_output=True)
    for text, expected in [
        (f"VideoH2v {INPUT}", "VideoH2V"),  # did you mean
        ("VideoH2V https://example.com/a.mp4", "oss://"),
        (f'CaptionExtraction {INPUT} {{"fps": 30}}', "fps"),
        (f"VideoH2V {INPUT} {{Width: 720}}", "double quotes"),
    ]:
        ack = await send(ports, text)
        assert expected in ack.text, (text, ack.text)
    assert await ports.tasks() == []
