"""A workspace's glossary (issue 21, item 1), through the wire: signed ``/tolk glossary``
commands and CSV uploads into the running app, the Slack emulator checking what Tolk
sends it, the glossary read back from the store — and its snapshot in the request of
each task recorded after it (the engine's contract: ``request["glossary"]``)."""

from __future__ import annotations

import json
from typing import Any

from bot.core.desk import Desk
from bot.core.glossary import Glossary, Term
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from tests.conftest import FakeClock, Tolk
from tests.handlers.slack.test_several_targets_commands import (
    A,
    command,
    everything,
    recorded,
)
from tests.test_surfaces import png, send_event, upload

ENTRY = {"term": "Tolk Pro", "translation": None, "lang": None}


async def answer(tolk: Tolk, text: str, **kwargs: Any) -> dict[str, Any]:
    """The ``/tolk`` command's answer as JSON (a plain text answer as ``{"text": …}``)."""
    status, body = await tolk.command("/tolk", text, **kwargs)
    assert status == 200
    return json.loads(body) if body.startswith("{") else {"text": body}


async def say(tolk: Tolk, text: str, **kwargs: Any) -> str:
    return str((await answer(tolk, text, **kwargs))["text"])


async def glossary_of(tolk: Tolk, team: str = "T0TOLK") -> Glossary:
    return await tolk.services.desk.glossary(team)


def shown(reply: dict[str, Any]) -> str:
    """Everything a list answer shows: its blocks' texts."""
    texts = []
    for block in reply.get("blocks") or ():
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.extend(e["text"] for e in block["elements"])
    return "\n".join(texts)


def csv_file(text: str, name: str = "glossary.csv") -> tuple[str, bytes, str]:
    return (name, text.encode("utf-8"), "text/csv")


def replies(slack: SlackEmulator, message: dict[str, Any], channel: str = "C0GENERAL") -> list[str]:
    """Tolk's answers in an upload's thread."""
    return [m.get("text", "") for m in slack.thread(channel, message["ts"]) if m.get("bot_id")]


# --- add, list, remove ----------------------------------------------------------------------


async def test_terms_are_added_listed_and_removed(wire: Tolk) -> None:
    empty = await answer(wire, "glossary list")
    assert "glossary is empty" in shown(empty)

    reply = await answer(wire, 'glossary add "Tolk Pro"')
    assert reply["response_type"] == "in_channel"
    assert "<@U0ALICE> added `Tolk Pro` in the glossary: it is never translated" in reply["text"]
    answered = await say(wire, 'glossary add "象寄" = "Xiangji" --lang en')
    assert "always translated as `Xiangji` in en" in answered
    assert "in ja" in await say(wire, "glossary add 象寄 =ja:シャンジ")  # the form
    await say(wire, "glossary add Brand")  # one word: no quotes needed
    await say(wire, "glossary add 象寄 = Xiangji")  # every other language
    assert (await glossary_of(wire)).to_json() == [
        {"term": "Brand", "translation": None, "lang": None},
        ENTRY,
        {"term": "象寄", "translation": "Xiangji", "lang": None},
        {"term": "象寄", "translation": "Xiangji", "lang": "en"},
        {"term": "象寄", "translation": "シャンジ", "lang": "ja"},
    ]

    listed = await answer(wire, "glossary list", user="U0BOB")  # anyone sees it
    assert "response_type" not in listed or listed["response_type"] == "ephemeral"
    text = shown(listed)
    assert "5 entries — 2 never translated, 3 with a fixed translation" in text
    lines = [line for line in text.splitlines() if line.startswith("•")]
    assert lines == [
        "• `Brand` — never translated",
        "• `Tolk Pro` — never translated",
        "• `象寄` → `Xiangji`",
        "• `象寄` → `Xiangji` (in en only)",
        "• `象寄` → `シャンジ` (in ja only)",
    ]

    # the same term and language again: changed, not added twice
    assert "changed `象寄`" in await say(wire, "glossary add 象寄 =ja:シャンジー")
    assert len(await glossary_of(wire)) == 5

    answered = await say(wire, 'glossary remove "象寄"')
    assert "removed `象寄` from the glossary (its 3 entries)" in answered
    assert (await glossary_of(wire)).terms() == ["Brand", "Tolk Pro"]
    answered = await say(wire, "glossary remove Tolk Prp")
    assert "There is no `Tolk Prp`" in answered and "Did you mean `Tolk Pro`?" in answered
    assert "its entry" in await say(wire, "glossary remove tolk pro")  # any case
    assert (await glossary_of(wire)).terms() == ["Brand"]


async def test_bad_commands_are_explained_and_change_nothing(
    wire: Tolk, slack: SlackEmulator, xiangji: XiangjiEmulator
) -> None:
    await say(wire, 'glossary add "Tolk Pro"')
    before = await glossary_of(wire)
    asked = len(xiangji.requests)
    cases = {
        "glossary add": "Say which term",
        'glossary add "Tolk Pro': "one pair of quotes",
        'glossary add "   "': "Say which term",
        "glossary add 象寄 =": "the translation after `=` is blank",
        "glossary add Tolk --lang ja": "goes with a fixed translation",
        "glossary add 象寄 = Xiangji --lang klingon": "`klingon` is not a language",
        "glossary add 象寄 =ja:X --lang ko": "Two languages for one translation",
        "glossary add 象寄 = Xiangji --force": "Unknown option `--force`",
        "glossary add 象寄 = Xiangji --lang": "`--lang` needs a value",
        "glossary add 象寄 --lang ja = X": "`--lang` goes last",
        f"glossary add {'x' * 101}": "the term is 101 characters long; at most 100",
        f"glossary add 象寄 = {'y' * 101}": "the translation is 101 characters long",
        "glossary remove": "Say which term",
        "glossary export please": "takes nothing after it",
        "glossary import now": "takes nothing after it",
        "glossary frob": "is not one of list, add, remove, export, import",
    }
    for text, expected in cases.items():
        answered = await say(wire, text)
        assert expected in answered, (text, answered)
        assert "Usage: `/tolk glossary list`" in answered, text
    assert await glossary_of(wire) == before
    assert await everything(wire) == []
    assert len(xiangji.requests) == asked  # no provider was asked


async def test_a_term_keeps_its_exact_spelling(wire: Tolk) -> None:
    await say(wire, "glossary add A &amp; B")  # Slack sends & escaped
    await say(wire, "glossary add “Tolk  Pro” = “トルク プロ”")  # smart quotes, two spaces
    assert (await glossary_of(wire)).to_json() == [
        {"term": "A & B", "translation": None, "lang": None},
        {"term": "Tolk  Pro", "translation": "トルク プロ", "lang": None},
    ]
    assert "`A &amp; B`" in shown(await answer(wire, "glossary"))  # shown escaped


# --- who may change it ----------------------------------------------------------------------


async def test_only_admins_change_it_and_anyone_sees_and_exports_it(
    wire: Tolk, slack: SlackEmulator
) -> None:
    await say(wire, 'glossary add "Tolk Pro"')
    before = await glossary_of(wire)
    for text in ('glossary add "Brand"', 'glossary remove "Tolk Pro"', "glossary import"):
        answered = await say(wire, text, user="U0BOB")
        assert "Only Tolk admins (<@U0ALICE>) can change this workspace's glossary" in answered
    assert "`Tolk Pro`" in shown(await answer(wire, "glossary list", user="U0BOB"))
    assert "in your DM" in await say(wire, "glossary export", user="U0BOB")
    assert await glossary_of(wire) == before

    # Bob's CSV, marked as an import, is refused too
    message = await upload(
        wire, slack, [csv_file("term\nBrand\n")], channel="C0GENERAL", text="/tolk glossary import"
    )
    assert any("Only Tolk admins" in r for r in replies(slack, message))
    assert await glossary_of(wire) == before


async def test_without_tolk_admins_the_workspace_admins_decide(
    open_wire: Tolk, slack: SlackEmulator
) -> None:
    answered = await say(open_wire, 'glossary add "Tolk Pro"')
    assert "Only workspace admins and owners" in answered
    assert not await glossary_of(open_wire)
    slack.add_user("U0BOSS", "boss", is_admin=True)
    assert "added `Tolk Pro`" in await say(open_wire, 'glossary add "Tolk Pro"', user="U0BOSS")


# --- export and import ------------------------------------------------------------------------


async def test_export_sends_a_csv_to_the_dm_that_imports_back(
    wire: Tolk, slack: SlackEmulator
) -> None:
    for text in (
        'glossary add "Tolk Pro"',
        'glossary add "象寄" = "Xiangji, Inc."',
        "glossary add 象寄 =ja:シャンジ",
        'glossary add "A, B" = "dites « salut »"',
    ):
        await say(wire, text)
    saved = await glossary_of(wire)
    answered = await say(wire, "glossary export", channel="C0LOCALE")
    assert "The glossary (4 entries) is in your DM with Tolk" in answered
    (posted,) = [m for m in slack.messages("D0ALICE") if m.get("files")]
    (shared,) = posted["files"]
    assert shared["name"] == "glossary.csv" and "4 entries" in posted["text"]
    data = slack.files[shared["id"]].content
    assert data.decode("utf-8-sig").splitlines()[0] == "term,translation,lang"
    assert Glossary.from_csv(data) == saved

    # emptied, then the exported file uploaded with the message /tolk glossary import
    for term in saved.terms():
        await say(wire, f'glossary remove "{term}"')
    assert not await glossary_of(wire)
    message = await upload(
        wire,
        slack,
        [("glossary.csv", data, "text/csv")],
        channel="C0GENERAL",
        user="U0ALICE",
        text="/tolk glossary import",
    )
    (reply,) = replies(slack, message)
    assert "imported `glossary.csv` into the glossary: added 3 terms, replaced 0" in reply
    assert await glossary_of(wire) == saved


async def test_import_merges_a_term_in_the_file_replaces_that_terms_entries(
    wire: Tolk, slack: SlackEmulator
) -> None:
    await say(wire, 'glossary add "Tolk Pro"')
    await say(wire, "glossary add 象寄 = Xiangji")
    await say(wire, "glossary add 象寄 =ja:シャンジ")
    data = "term,translation,lang\n象寄,Shangji,ko\nBrand,,\n"
    message = await upload(
        wire, slack, [csv_file(data)], channel="C0GENERAL", user="U0ALICE",
        text="/tolk glossary import",
    )  # fmt: skip
    assert "added 1 terms, replaced 1. It holds 3 entries now." in replies(slack, message)[0]
    assert (await glossary_of(wire)).to_json() == [
        {"term": "Brand", "translation": None, "lang": None},
        ENTRY,
        {"term": "象寄", "translation": "Shangji", "lang": "ko"},
    ]


async def test_an_import_with_a_bad_row_saves_nothing_and_names_the_row(
    wire: Tolk, slack: SlackEmulator
) -> None:
    await say(wire, 'glossary add "Tolk Pro"')
    before = await glossary_of(wire)
    data = "term,translation,lang\nBrand,,\n象寄,シャンジ,klingon\n,orphan,\n"
    message = await upload(
        wire, slack, [csv_file(data, "terms.csv")], channel="C0GENERAL", user="U0ALICE",
        text="/tolk glossary import",
    )  # fmt: skip
    (reply,) = replies(slack, message)
    assert "Nothing was imported from `terms.csv`" in reply
    assert "Row 3: `klingon` is not a language Tolk knows" in reply
    assert "Row 4: the term is blank" in reply and "Row 2" not in reply
    assert await glossary_of(wire) == before

    message = await upload(  # not a CSV at all
        wire, slack, [csv_file("\x89PNG", "terms.csv")], channel="C0GENERAL", user="U0ALICE",
        text="/tolk glossary import",
    )  # fmt: skip
    assert "the first row must be the header `term,translation,lang`" in replies(slack, message)[0]
    message = await upload(  # no CSV attached
        wire, slack, [("a.png", png(), "image/png")], channel="C0GENERAL", user="U0ALICE",
        text="/tolk glossary import",
    )  # fmt: skip
    assert "Attach the glossary as one CSV file" in replies(slack, message)[0]
    assert await glossary_of(wire) == before
    assert await everything(wire) == []  # and the image was not translated either


async def test_after_the_command_the_persons_next_csv_there_is_imported(
    wire: Tolk, slack: SlackEmulator, clock: FakeClock
) -> None:
    answered = await say(wire, "glossary import", channel="C0LOCALE")
    assert "Upload the glossary as a CSV file in this channel now" in answered
    assert "within 10 minutes" in answered

    # Bob's CSV there, and Alice's in another channel, are not taken
    other = await upload(wire, slack, [csv_file("term\nBob\n")], channel="C0LOCALE", user="U0BOB")
    elsewhere = await upload(
        wire, slack, [csv_file("term\nElse\n")], channel="C0GENERAL", user="U0ALICE"
    )
    assert replies(slack, other, "C0LOCALE") == [] and replies(slack, elsewhere) == []
    message = await upload(
        wire, slack, [csv_file("term,translation\nTolk Pro,\n")], channel="C0LOCALE",
        user="U0ALICE",
    )  # fmt: skip
    assert "added 1 terms" in replies(slack, message, "C0LOCALE")[0]
    assert (await glossary_of(wire)).to_json() == [ENTRY]

    # once: the next CSV is an ordinary upload again
    again = await upload(
        wire, slack, [csv_file("term\nAgain\n")], channel="C0LOCALE", user="U0ALICE"
    )
    assert replies(slack, again, "C0LOCALE") == []

    # and for 10 minutes only
    await say(wire, "glossary import", channel="C0LOCALE")
    clock.advance(10 * 60 + 1)
    late = await upload(wire, slack, [csv_file("term\nLate\n")], channel="C0LOCALE", user="U0ALICE")
    assert replies(slack, late, "C0LOCALE") == []
    assert (await glossary_of(wire)).to_json() == [ENTRY]


async def test_a_redelivered_upload_is_imported_once(wire: Tolk, slack: SlackEmulator) -> None:
    message = await upload(
        wire, slack, [csv_file("term\nTolk Pro\n")], channel="C0GENERAL", user="U0ALICE",
        text="/tolk glossary import",
    )  # fmt: skip
    event = {**message, "type": "message", "subtype": "file_share", "channel": "C0GENERAL"}
    assert await send_event(wire, event) == 200
    assert len(replies(slack, message)) == 1


# --- the snapshot a task carries ----------------------------------------------------------------


async def test_a_text_task_carries_the_terms_it_holds_and_an_image_task_all(
    wire: Tolk, slack: SlackEmulator
) -> None:
    before = await recorded(wire, await command(wire, "/translate", "zh>en 象寄和Tolk Pro"))
    assert "glossary" not in before.request  # an empty glossary: the request as ever

    await say(wire, 'glossary add "Tolk Pro"')
    await say(wire, "glossary add 象寄 =ja:シャンジ")
    await say(wire, "glossary add Unrelated")
    text_task = await recorded(wire, await command(wire, "/translate", "zh>en 象寄和TOLK PRO好"))
    assert text_task.request["glossary"] == [
        ENTRY,
        {"term": "象寄", "translation": "シャンジ", "lang": "ja"},
    ]
    plain = await recorded(wire, await command(wire, "/translate", "zh>en 你好"))
    assert plain.request["glossary"] == []

    image_task = await recorded(wire, await command(wire, "/translate-image", f"zh>ko {A}"))
    assert image_task.request["glossary"] == (await glossary_of(wire)).to_json()
    assert len(image_task.request["glossary"]) == 3


async def test_a_flagged_message_carries_its_terms_or_all_with_an_image(
    wire: Tolk, slack: SlackEmulator
) -> None:
    await say(wire, 'glossary add "Tolk Pro"')
    await say(wire, "glossary add Unrelated")

    async def flag(message: dict[str, Any]) -> None:
        event = {
            "type": "reaction_added",
            "user": "U0ALICE",
            "reaction": "flag-kr",
            "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
        }
        assert await send_event(wire, event) == 200

    await flag(slack.post_user_message("C0GENERAL", "U0BOB", "Tolk Pro 新鞋到了"))
    await flag(
        slack.post_user_message(
            "C0GENERAL", "U0BOB", "新鞋到了", files=[("p.png", png(), "image/png")]
        )
    )
    tasks = await everything(wire)  # recorded at the same (fake) moment: in any order
    (text_task,) = [t for t in tasks if all(i.meta.get("kind") == "text" for i in t.items)]
    (image_task,) = [t for t in tasks if t is not text_task]
    assert text_task.operation == image_task.operation == "xiangji.translate_message"
    assert text_task.request["glossary"] == [ENTRY]
    assert len(image_task.request["glossary"]) == 2


async def test_a_glossary_is_kept_per_workspace(wire: Tolk, tmp_path: Any) -> None:
    await say(wire, 'glossary add "Tolk Pro"', team="T0ONE")
    await say(wire, "glossary add Other", team="T0TWO")
    assert (await glossary_of(wire, "T0ONE")).terms() == ["Tolk Pro"]
    assert (await glossary_of(wire, "T0TWO")).terms() == ["Other"]
    assert "glossary is empty" in shown(await answer(wire, "glossary", team="T0THREE"))

    from bot.core.storage.sqlite import SqliteTaskStore

    store = await SqliteTaskStore.open(tmp_path / "desk.sqlite")
    try:
        desk = Desk(store, clock=lambda: 0.0, task_timeout=60.0)
        await desk.save_glossary("T0ONE", Glossary([Term("a")]))
        scoped = desk.for_team("T0TWO")
        assert not await scoped.glossary("T0ONE")  # its own workspace's
        await scoped.save_glossary("T0ONE", Glossary([Term("b")]))
        assert (await desk.glossary("T0ONE")).terms() == ["a"]
        assert (await desk.glossary("T0TWO")).terms() == ["b"]
    finally:
        await store.close()


async def test_a_workspace_that_removes_tolk_leaves_no_glossary_behind(tmp_path: Any) -> None:
    from bot.core.storage.sqlite import SqliteTaskStore
    from bot.tenants import WorkspaceTenants

    class Forgets:
        async def forget(self, team: str) -> None:
            pass

    store = await SqliteTaskStore.open(tmp_path / "leave.sqlite")
    try:
        desk = Desk(store, clock=lambda: 100.0, task_timeout=60.0)
        for team in ("T0ONE", "T0TWO"):
            await desk.save_glossary(team, Glossary([Term("Tolk Pro")]))
            await desk.expect_glossary_import(team, "C0GENERAL", "U0ALICE", until=700.0)
        tenants = WorkspaceTenants(
            None, Forgets(), Forgets(), None, None, store=store, clock=lambda: 100.0
        )
        await tenants.leave("T0ONE")
        assert not await desk.glossary("T0ONE")
        assert not await desk.glossary_import_expected("T0ONE", "C0GENERAL", "U0ALICE")
        assert await desk.glossary("T0TWO")
        assert await desk.glossary_import_expected("T0TWO", "C0GENERAL", "U0ALICE")
    finally:
        await store.close()
