"""A workspace's language sets and flag sets (issue 20, item 2), through the wire:
``/tolk config set|unset|sets|flag`` made, listed, changed and removed by admins only,
kept per workspace, and a configured reaction recording its set as one task."""

from __future__ import annotations

from typing import Any

from bot.core.desk import Desk
from bot.core.languages import LanguageSets
from emulators.slack import SlackEmulator
from tests.conftest import Tolk
from tests.handlers.slack.test_several_targets_commands import (
    A,
    command,
    everything,
    recorded,
    targets,
    work,
)
from tests.test_surfaces import png, send_event


async def sets_of(tolk: Tolk, team: str = "T0TOLK") -> LanguageSets:
    return await tolk.services.desk.language_sets(team)


async def react(tolk: Tolk, message: dict[str, Any], reaction: str, team: str = "T0TOLK") -> None:
    event = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": reaction,
        "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
    }
    assert await send_event(tolk, event, team=team) == 200


# --- making, listing, changing, removing --------------------------------------------------


async def test_a_set_is_made_listed_changed_and_removed(wire: Tolk) -> None:
    assert "no language sets yet" in await command(wire, "/tolk", "config sets")

    answer = await command(wire, "/tolk", "config set SEA th, vi, id, ms")
    assert "made the language set `sea`: th, vi, id, ms" in answer
    assert (await sets_of(wire)).sets == {"sea": ("th", "vi", "id", "ms")}
    await command(wire, "/tolk", "config set eu de fr es")  # spaces work as commas too
    await command(wire, "/tolk", "config set all-asia sea,ja,ko")  # a set of a set and more
    listed = await command(wire, "/tolk", "config sets")
    assert "`sea`: th, vi, id, ms" in listed and "`eu`: de, fr, es" in listed
    assert "`all-asia`: th, vi, id, ms, ja, ko" in listed

    answer = await command(wire, "/tolk", "config set sea th,vi")
    assert "changed the language set `sea`: th, vi" in answer
    assert (await sets_of(wire)).sets["sea"] == ("th", "vi")

    assert "removed the language set `sea`" in await command(wire, "/tolk", "config set sea remove")
    assert "removed the language set `eu`" in await command(wire, "/tolk", "config unset eu")
    assert list((await sets_of(wire)).sets) == ["all-asia"]
    answer = await command(wire, "/tolk", "config unset sea")
    assert "no language set `sea` to remove" in answer and "`all-asia`" in answer


async def test_a_channel_setting_takes_a_set_as_its_languages(wire: Tolk) -> None:
    await command(wire, "/tolk", "config set sea th,vi,id,ms")
    answer = await command(wire, "/tolk", "config auto-images on zh>sea", channel="C0LOCALE")
    assert "zh→th,vi,id,ms" in answer
    shown = await command(wire, "/tolk", "config show", channel="C0LOCALE")
    assert "auto-images: zh→th,vi,id,ms" in shown


async def test_bad_names_and_languages_are_explained_and_change_nothing(wire: Tolk) -> None:
    await command(wire, "/tolk", "config set sea th,vi,id,ms")
    before = await sets_of(wire)
    cases = {
        "config set ko th,vi": "is read as Korean (ko)",
        "config set korean th,vi": "is read as Korean (ko)",
        "config set en-us th,vi": "is read as English (en)",
        "config set remove th": "cannot name a set",
        "config set my_set th": "lowercase letters, digits and hyphens",
        "config set averyveryverylongname1 th": "up to 20",
        "config set asia th,klingon": "Unknown language 'klingon'",
        "config set big ko,ja,en,de,fr,es,it,ru,ar,th,vi": "at most 10",
        "config set asia sea,ko,ja,en,de,fr,es,it": "at most 10",
        "config set asia": "Say which languages `asia` holds",
        "config set": "Say which set",
        "config flag :earth_asia: asia": "no language set `asia`",
        "config flag :earth_asia:": "Name a reaction and a set",
        "config flag <@U0BOB> sea": "not a reaction's name",
        "config sets please": "takes nothing after it",
        "config set sea th --force": "--force",
    }
    for text, expected in cases.items():
        answer = await command(wire, "/tolk", text)
        assert expected in answer, (text, answer)
    assert await sets_of(wire) == before


async def test_sets_are_kept_per_workspace(wire: Tolk) -> None:
    await command(wire, "/tolk", "config set sea th,vi,id,ms", team="T0ONE")
    await command(wire, "/tolk", "config set sea ja", team="T0TWO")
    assert "`sea`: th, vi, id, ms" in await command(wire, "/tolk", "config sets", team="T0ONE")
    assert "`sea`: ja" in await command(wire, "/tolk", "config sets", team="T0TWO")
    assert "no language sets yet" in await command(wire, "/tolk", "config sets", team="T0THREE")

    one = await recorded(wire, await command(wire, "/translate-image", f"zh>sea {A}", team="T0ONE"))
    assert [t["lang"] for t in one.request["targets"]] == ["th", "vi", "id", "ms"]
    two = await recorded(wire, await command(wire, "/translate-image", f"zh>sea {A}", team="T0TWO"))
    assert two.request["target"] == "ja" and "targets" not in two.request
    answer = await command(wire, "/translate-image", f"zh>sea {A}", team="T0THREE")
    assert "'sea'" in answer and "language set" in answer
    assert len(await everything(wire)) == 2

    await command(wire, "/tolk", "config unset sea", team="T0TWO")
    assert (await sets_of(wire, "T0ONE")).sets == {"sea": ("th", "vi", "id", "ms")}


async def test_a_desk_that_serves_one_workspace_keeps_to_its_sets(tmp_path: Any) -> None:
    from bot.core.storage.sqlite import SqliteTaskStore

    store = await SqliteTaskStore.open(tmp_path / "tolk.sqlite")
    try:
        desk = Desk(store, clock=lambda: 0.0, task_timeout=60.0)
        await desk.save_language_sets("T0ONE", LanguageSets({"sea": ("th",)}))
        scoped = desk.for_team("T0TWO")
        assert (await scoped.language_sets("T0ONE")).sets == {}  # its own workspace's
        await scoped.save_language_sets("T0ONE", LanguageSets({"eu": ("de",)}))
        assert (await desk.language_sets("T0ONE")).sets == {"sea": ("th",)}
        assert (await desk.language_sets("T0TWO")).sets == {"eu": ("de",)}
    finally:
        await store.close()


async def test_only_admins_change_sets_and_anyone_sees_them(wire: Tolk) -> None:
    await command(wire, "/tolk", "config set sea th,vi")
    before = await sets_of(wire)
    for text in (
        "config set eu de,fr",
        "config set sea remove",
        "config unset sea",
        "config flag :earth_asia: sea",
    ):
        answer = await command(wire, "/tolk", text, user="U0BOB")
        assert "Only Tolk admins (<@U0ALICE>)" in answer, text
    assert "`sea`: th, vi" in await command(wire, "/tolk", "config sets", user="U0BOB")
    assert await sets_of(wire) == before


async def test_without_tolk_admins_the_workspace_admins_decide(
    open_wire: Tolk, slack: SlackEmulator
) -> None:
    answer = await command(open_wire, "/tolk", "config set sea th,vi")
    assert "Only workspace admins and owners" in answer
    assert (await sets_of(open_wire)).sets == {}
    slack.add_user("U0BOSS", "boss", is_admin=True)
    answer = await command(open_wire, "/tolk", "config set sea th,vi", user="U0BOSS")
    assert "made the language set `sea`" in answer


# --- flag sets ----------------------------------------------------------------------------


async def test_a_configured_reaction_records_its_set_as_one_task(
    wire: Tolk, slack: SlackEmulator
) -> None:
    await command(wire, "/tolk", "config set sea th,vi,id,ms")
    answer = await command(wire, "/tolk", "config flag :earth_asia: sea")
    assert ":earth_asia:" in answer and "th, vi, id, ms" in answer
    assert "react with :earth_asia:" in await command(wire, "/tolk", "config sets")
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "新鞋到了", files=[("p.png", png(), "image/png")]
    )
    await react(wire, message, "earth_asia")
    await react(wire, message, "earth_asia::skin-tone-2")  # the same again: one task
    (task,) = await everything(wire)
    assert task.operation == "xiangji.translate_message" and task.request["mode"] == "reaction"
    assert task.request["targets"] == targets("th:TH vi:VIN id:ID ms:MS")
    assert task.place.thread_ts == message["ts"]
    image = message["files"][0]["url_private"]
    codes = [("th", "TH"), ("vi", "VIN"), ("id", "ID"), ("ms", "MS")]
    assert work(task) == [("新鞋到了", t, c) for t, c in codes] + [(image, t, c) for t, c in codes]
    assert task.items[-1].meta["kind"] == "file" and task.items[-1].meta["name"] == "p.png"


async def test_a_set_holding_the_texts_language_leaves_that_one_out(
    wire: Tolk, slack: SlackEmulator
) -> None:
    await command(wire, "/tolk", "config set asia zh,ko,ja")
    await command(wire, "/tolk", "config flag :globe_with_meridians: asia")
    message = slack.post_user_message("C0GENERAL", "U0BOB", "新鞋到了")
    await react(wire, message, "globe_with_meridians")
    (task,) = await everything(wire)
    assert task.request["targets"] == targets("ko:KOR ja:JPN")
    assert work(task) == [("新鞋到了", "ko", "KOR"), ("新鞋到了", "ja", "JPN")]


async def test_a_flag_set_is_per_workspace_and_can_be_removed(
    wire: Tolk, slack: SlackEmulator
) -> None:
    await command(wire, "/tolk", "config set sea th,vi")
    await command(wire, "/tolk", "config flag :earth_asia: sea")
    message = slack.post_user_message("C0GENERAL", "U0BOB", "新鞋到了")
    await react(wire, message, "earth_asia", team="T0OTHER")  # not configured there
    assert await everything(wire) == []

    assert "took :earth_asia: off" in await command(
        wire, "/tolk", "config flag :earth_asia: remove"
    )
    await react(wire, message, "earth_asia")
    assert await everything(wire) == []
    answer = await command(wire, "/tolk", "config flag :earth_asia: remove")
    assert "nothing to remove" in answer


async def test_removing_a_set_takes_its_reactions_off_and_a_flag_may_be_a_country(
    wire: Tolk, slack: SlackEmulator
) -> None:
    await command(wire, "/tolk", "config set sea th,vi")
    await command(wire, "/tolk", "config flag :earth_asia: sea")
    await command(wire, "/tolk", "config flag :flag-th: sea")  # a country flag, now the set
    answer = await command(wire, "/tolk", "config set sea remove")
    assert ":earth_asia:" in answer and ":flag-th:" in answer and "no longer" in answer
    assert (await sets_of(wire)).flags == {}
    message = slack.post_user_message("C0GENERAL", "U0BOB", "新鞋到了")
    await react(wire, message, "flag-th")  # back to Thailand's language
    (task,) = await everything(wire)
    assert task.request["target"] == "th" and "targets" not in task.request
