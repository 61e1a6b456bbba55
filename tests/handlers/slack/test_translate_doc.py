"""``/translate-doc``: a document by URL. A Slack file is taken only when the person may
have it opened where they asked (``files.info``, asked of the Slack emulator)."""

from __future__ import annotations

from bot.core import messages
from emulators.slack import SlackEmulator
from handlers.slack.translate_doc import on_translate_doc
from tests.handlers.support import Ack, Ports, command

DOC = "https://docs.example.com/specs/manual.docx"


async def send(ports: Ports, text: str, **kwargs: str) -> Ack:
    ack = Ack()
    await on_translate_doc(ack, command("/translate-doc", text, **kwargs), ports.context())
    return ack


async def test_a_public_document_goes_to_alibaba(ports: Ports) -> None:
    ports.configure(alibaba=True)
    ack = await send(ports, f"en>ja {DOC} --scene tech")
    (task,) = await ports.tasks()
    assert ack.text == messages.ack_doc(task.id, ["manual.docx"], "en", "ja")
    assert task.operation == "alibaba.translate_doc" and task.request["scene"] == "tech"
    assert task.items[0].source == DOC and task.items[0].meta["kind"] == "url"


async def test_an_unknown_scene_lists_alibabas(ports: Ports) -> None:
    ports.configure(alibaba=True)
    ack = await send(ports, f"en>ja {DOC} --scene poetry")
    assert "general" in ack.text and "tech" in ack.text  # providers.alibaba.spec.SCENES
    assert await ports.tasks() == []


async def test_a_provider_that_is_off_is_named(ports: Ports) -> None:
    ack = await send(ports, f"en>ja {DOC}")
    assert "ALIBABA_ACCESS_KEY_ID" in ack.text
    ack = await send(ports, f"en>ja {DOC} --provider rozetta")
    assert "ROZETTA_ACCESS_KEY" in ack.text
    assert await ports.tasks() == []


async def test_a_slack_file_shared_here_is_taken_by_its_own_link(
    ports: Ports, slack: SlackEmulator
) -> None:
    ports.configure(rozetta=True)
    posted = slack.post_user_message(
        "C0GENERAL", "U0BOB", "the plan", files=[("plan.txt", b"plan", "text/plain")]
    )
    file = posted["files"][0]
    ack = await send(ports, f"en>ja {file['url_private']} --provider rozetta")
    (task,) = await ports.tasks()
    assert ack.text == messages.ack_doc(task.id, ["plan.txt"], "en", "ja")
    item = task.items[0]
    assert item.meta == {"kind": "slack-file", "name": "plan.txt", "file_id": file["id"]}
    assert item.source == file["url_private"]
    assert slack.calls_to("files.info")


async def test_a_slack_file_not_shared_here_is_refused(ports: Ports, slack: SlackEmulator) -> None:
    ports.configure(rozetta=True)
    elsewhere = slack.post_user_message(
        "C0LOCALE", "U0BOB", "", files=[("secret.txt", b"secret", "text/plain")]
    )["files"][0]
    ack = await send(ports, f"en>ja {elsewhere['url_private']} --provider rozetta")
    assert ack.text == messages.slack_file_not_visible()
    assert await ports.tasks() == []


async def test_alibaba_needs_a_public_url_for_a_slack_file(
    ports: Ports, slack: SlackEmulator
) -> None:
    ports.configure(alibaba=True)
    file = slack.post_user_message(
        "C0GENERAL", "U0ALICE", "", files=[("mine.txt", b"mine", "text/plain")]
    )["files"][0]
    ack = await send(ports, f"en>ja {file['url_private']}")
    assert ack.text == messages.no_public_url()
    assert await ports.tasks() == []
    assert slack.calls_to("files.info") == []  # refused before asking Slack


async def test_another_slack_address_is_not_a_document(ports: Ports) -> None:
    ports.configure(alibaba=True)
    url = "https://tolk.slack.com/archives/C0GENERAL/p1700000000000100"
    ack = await send(ports, f"en>ja {url}")
    assert ack.text == messages.slack_address_not_a_file(url)
    assert await ports.tasks() == []
