"""A workspace's own provider keys through the wire: signed ``app_home_opened`` events,
button presses and form submissions into the running app; assertions on what the Slack
emulator received (views opened, updated, published), on what Tolk answered, and on
what the store holds. A key typed into the form is looked for everywhere afterwards —
every call and view the emulator recorded, Tolk's answers, the log, the store's record
and its file — and must be found only inside the sealed record, opened.

Until the wiring puts a keyring in the listeners' ports (``handlers.ports.PROVIDER_KEYS``),
the ``keyring`` fixture adds one to what ``bot.app`` injects."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

import bot.app
from bot.core import messages
from bot.core.provider_keys import NAMESPACE, ProviderKeyring
from bot.core.sealed import Sealer
from emulators.signed import event_body, interaction_body, post_signed
from handlers import ports as p
from handlers.slack import home
from tests.conftest import SIGNING_SECRET
from tests.handlers.slack.test_home import home_text

TEAM, OTHER_TEAM = "T0TOLK", "T0OTHER"
ADMIN, CAROL = "U0ADMIN", "U0CAROL"  # workspace admins (users.info); Alice and Bob are not

XIANGJI = {"user_key": "xjUSERsecret0417", "img_trans_key": "xjIMGsecret9921"}
ALIBABA = {"access_key_id": "LTAIsecretID5566", "access_key_secret": "aliSECRETvalue7788"}
SECRETS = [*XIANGJI.values(), *ALIBABA.values()]


@pytest.fixture
def keyring(tolk, slack, monkeypatch) -> ProviderKeyring:
    """The keyring the listeners get, on Tolk's own store; and two workspace admins."""
    ring = ProviderKeyring(tolk.services.store, Sealer(Fernet.generate_key().decode()))
    injected = bot.app.slack_ports
    monkeypatch.setattr(
        bot.app, "slack_ports", lambda services: {**injected(services), p.PROVIDER_KEYS: ring}
    )
    slack.add_user(ADMIN, "ada", real_name="Ada Admin", is_admin=True)
    slack.add_user(CAROL, "carol", real_name="Carol Owner", is_owner=True)
    return ring


async def send(tolk, payload: dict[str, Any]) -> tuple[int, str]:
    return await post_signed(
        tolk.session, tolk.events_url, SIGNING_SECRET, interaction_body(payload)
    )


async def open_home(tolk, user: str, team: str = TEAM) -> None:
    event = {"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}", "tab": "home"}
    status, _ = await post_signed(
        tolk.session,
        tolk.events_url,
        SIGNING_SECRET,
        event_body(event, team=team),
        content_type="application/json",
    )
    assert status == 200


async def press(
    tolk,
    slack,
    user: str,
    action_id: str,
    *,
    value: str | None = None,
    view: dict[str, Any] | None = None,
    team: str = TEAM,
) -> tuple[int, str]:
    """A press on a button of ``view`` (the user's Home tab by default), as Slack sends it."""
    view = view or slack.home_views.get(user) or {"id": "V0HOME", "type": "home", "hash": "h"}
    action = {"type": "button", "action_id": action_id, "block_id": "b", "action_ts": "1.2"}
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "tolk"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0TOLK",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": slack.new_trigger_id(),
        "view": view,
        "actions": [{**action, **({"value": value} if value is not None else {})}],
    }
    return await send(tolk, payload)


def form(slack) -> dict[str, Any]:
    """The provider keys form the emulator shows now."""
    (view,) = [v for v in slack.views.values() if v["callback_id"] == messages.PROVIDER_KEYS_MODAL]
    return view


async def submit(
    tolk, user: str, typed: dict[str, str], *, team: str = TEAM, view: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any] | None]:
    """Submit the form with ``typed`` (block id → text; every other box blank)."""
    view = view or {"id": "V0FORM", "type": "modal", "callback_id": messages.PROVIDER_KEYS_MODAL}
    values = {
        block: {"value": {"type": "plain_text_input", "value": text}}
        for block, text in typed.items()
    }
    payload = {
        "type": "view_submission",
        "team": {"id": team, "domain": "tolk"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A0TOLK",
        "view": {**view, "state": {"values": values}},
    }
    status, body = await send(tolk, payload)
    return status, json.loads(body) if body.strip() else None


def boxes(provider: str, values: dict[str, str]) -> dict[str, str]:
    return {f"{provider}.{field}": value for field, value in values.items()}


def texts(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def everywhere(slack, caplog, tmp_path: Path, *answers: Any) -> str:
    """Everything a key could have leaked into, as one string."""
    calls = [{"m": c.method, "a": c.args, "r": c.response} for c in slack.calls]
    files = [p.read_bytes().decode("latin-1") for p in Path(tmp_path).rglob("*") if p.is_file()]
    return json.dumps(
        [calls, slack.views, slack.home_views, caplog.text, [str(a) for a in answers], files],
        ensure_ascii=False,
    )


async def test_an_admin_sets_keys_and_sees_when_and_by_whom_never_the_key(
    tolk, slack, keyring, caplog, tmp_path
) -> None:
    caplog.set_level(logging.INFO)
    await open_home(tolk, ADMIN)
    text = home_text(slack, ADMIN)
    assert "Provider keys of this workspace" in text
    assert "• Xiangji: not set" in text and "• Rozetta: not set" in text
    assert messages.PROVIDER_KEYS_OPEN in json.dumps(slack.home_views[ADMIN])

    status, _ = await press(tolk, slack, ADMIN, messages.PROVIDER_KEYS_OPEN)
    assert status == 200
    (opened,) = slack.calls_to("views.open")
    assert opened.response and opened.response["ok"] is True  # the emulator's Block Kit checks
    view = form(slack)
    assert {"xiangji.user_key", "alibaba.access_key_secret", "rozetta.contract_id"} <= {
        b.get("block_id") for b in view["blocks"]
    }

    typed = {**boxes("xiangji", XIANGJI), **boxes("alibaba", ALIBABA)}
    status, answer = await submit(tolk, ADMIN, {k: f"  {v} " for k, v in typed.items()}, view=view)
    assert status == 200 and answer is None  # the form closes

    assert await keyring.keys(TEAM) == {"xiangji": XIANGJI, "alibaba": ALIBABA}
    (at, by) = (await keyring.summary(TEAM))["xiangji"]
    assert by == ADMIN and at == pytest.approx(tolk.services.clock(), abs=60)
    text = home_text(slack, ADMIN)  # published again after the save
    assert f"• Xiangji: set on <!date^{int(at)}^{{date}}|" in text and f"by <@{ADMIN}>" in text
    assert "• Alibaba Cloud: set on" in text and "• Rozetta: not set" in text

    await press(tolk, slack, ADMIN, messages.PROVIDER_KEYS_OPEN)  # the form, again
    view = slack.calls_to("views.open")[-1].response["view"]
    assert (
        texts(view).count("set on <!date^") == 2
        and texts(view).count(messages.PROVIDER_KEYS_REMOVE) == 2
    )

    record = await tolk.services.store.get_setting(NAMESPACE, TEAM)
    assert set(record["providers"]) == {"xiangji", "alibaba"}
    assert record["providers"]["xiangji"]["by"] == ADMIN
    leaks = everywhere(slack, caplog, tmp_path, record, answer)
    assert [s for s in SECRETS if s in leaks] == []
    assert "provider keys: xiangji set for workspace T0TOLK by U0ADMIN" in caplog.text


async def test_someone_not_an_admin_gets_no_button_and_is_refused_everything(
    tolk, slack, keyring
) -> None:
    await keyring.set(TEAM, "xiangji", XIANGJI, by=ADMIN, at=1_800_000_000.0)
    await open_home(tolk, "U0BOB")
    assert "Provider keys" not in home_text(slack, "U0BOB")
    assert messages.PROVIDER_KEYS_OPEN not in json.dumps(slack.home_views["U0BOB"])

    await press(tolk, slack, "U0BOB", messages.PROVIDER_KEYS_OPEN)  # pressed anyway
    (opened,) = slack.calls_to("views.open")
    view = opened.response["view"]
    assert "Only this workspace's admins and owners" in texts(view)
    assert "input" not in {b["type"] for b in view["blocks"]} and "set on" not in texts(view)

    status, answer = await submit(
        tolk, "U0BOB", boxes("xiangji", {"user_key": "bobs", "img_trans_key": "k"})
    )
    assert status == 200 and answer == {
        "response_action": "errors",
        "errors": {"xiangji.user_key": messages.provider_keys_not_admin()},
    }
    await press(tolk, slack, "U0BOB", messages.PROVIDER_KEYS_REMOVE, value="xiangji")
    assert await keyring.keys(TEAM) == {"xiangji": XIANGJI}  # untouched
    assert slack.calls_to("views.update") == []


async def test_with_tolk_admins_set_only_they_manage_keys(tolk, slack, keyring) -> None:
    tolk.services.settings = replace(tolk.services.settings, admins=frozenset({"U0ALICE"}))
    await open_home(tolk, ADMIN)  # a workspace admin, but not one of Tolk's admins
    assert "Provider keys" not in home_text(slack, ADMIN)
    await open_home(tolk, "U0ALICE")
    assert "Provider keys of this workspace" in home_text(slack, "U0ALICE")
    assert slack.calls_to("users.info") == []  # TOLK_ADMINS decides; Slack is not asked

    await press(tolk, slack, ADMIN, messages.PROVIDER_KEYS_OPEN)
    view = slack.calls_to("views.open")[-1].response["view"]
    assert "Only Tolk's admins (<@U0ALICE>)" in texts(view)
    _, answer = await submit(tolk, ADMIN, boxes("alibaba", ALIBABA))
    assert answer is not None and answer["response_action"] == "errors"
    assert await keyring.summary(TEAM) == {}

    _, answer = await submit(tolk, "U0ALICE", boxes("alibaba", ALIBABA))
    assert answer is None and await keyring.keys(TEAM) == {"alibaba": ALIBABA}


async def test_wrong_keys_are_explained_in_the_form_and_nothing_is_stored(
    tolk, slack, keyring, caplog, tmp_path
) -> None:
    caplog.set_level(logging.INFO)
    typed = {
        "xiangji.user_key": XIANGJI["user_key"],  # no service key with it
        "alibaba.access_key_id": f"ALIBABA_ACCESS_KEY_ID={ALIBABA['access_key_id']}",
        # alibaba.access_key_secret left blank
        "rozetta.access_key": "two words",
        "rozetta.secret_key": "“quoted”",
        "rozetta.contract_id": "x" * 230,
    }
    status, answer = await submit(tolk, ADMIN, typed)
    assert status == 200 and answer is not None and answer["response_action"] == "errors"
    errors = answer["errors"]
    assert errors == {
        "xiangji.img_trans_key": messages.provider_key_problem(
            "xiangji", "img_trans_key", "needs_service"
        ),
        "alibaba.access_key_id": messages.provider_key_problem(
            "alibaba", "access_key_id", "env_line"
        ),
        "alibaba.access_key_secret": messages.provider_key_problem(
            "alibaba", "access_key_secret", "missing"
        ),
        "rozetta.access_key": messages.provider_key_problem("rozetta", "access_key", "space"),
        "rozetta.secret_key": messages.provider_key_problem("rozetta", "secret_key", "quotes"),
        "rozetta.contract_id": messages.provider_key_problem("rozetta", "contract_id", "too_long"),
    }
    assert "at least one service key" in errors["xiangji.img_trans_key"]
    assert "after ALIBABA_ACCESS_KEY_ID=" in errors["alibaba.access_key_id"]
    assert "paste the AccessKey secret" in errors["alibaba.access_key_secret"]
    assert all(len(e) <= 150 for e in errors.values())
    assert await keyring.summary(TEAM) == {}
    assert await tolk.services.store.get_setting(NAMESPACE, TEAM) is None

    # One provider right and another wrong: still nothing stored.
    typed = {**boxes("xiangji", XIANGJI), "alibaba.access_key_id": ALIBABA["access_key_id"]}
    _, answer = await submit(tolk, ADMIN, typed)
    assert answer is not None and list(answer["errors"]) == ["alibaba.access_key_secret"]
    assert await keyring.summary(TEAM) == {} and slack.calls_to("views.publish") == []
    leaks = everywhere(slack, caplog, tmp_path, answer)
    assert [s for s in SECRETS if s in leaks] == []


async def test_blank_boxes_keep_a_provider_and_filled_ones_replace_it_whole(
    tolk, slack, keyring
) -> None:
    assert (await submit(tolk, ADMIN, boxes("xiangji", XIANGJI)))[1] is None
    assert (await submit(tolk, ADMIN, boxes("alibaba", ALIBABA)))[1] is None
    assert await keyring.keys(TEAM) == {"xiangji": XIANGJI, "alibaba": ALIBABA}

    newer = {"user_key": "xjUSERnewer", "text_trans_key": "xjTEXTnewer"}
    assert (await submit(tolk, ADMIN, boxes("xiangji", newer)))[1] is None
    assert await keyring.keys(TEAM) == {"xiangji": newer, "alibaba": ALIBABA}  # no img key left

    before = await keyring.version(TEAM)
    assert (await submit(tolk, ADMIN, {"rozetta.contract_id": "   "}))[1] is None  # all blank
    assert await keyring.version(TEAM) == before


async def test_remove_forgets_one_provider_and_redraws_the_form(tolk, slack, keyring) -> None:
    await submit(tolk, ADMIN, {**boxes("xiangji", XIANGJI), **boxes("alibaba", ALIBABA)})
    await press(tolk, slack, ADMIN, messages.PROVIDER_KEYS_OPEN)
    view = form(slack)
    (remove,) = [
        b["accessory"]
        for b in view["blocks"]
        if b.get("block_id") == "xiangji.status" and "accessory" in b
    ]
    assert remove["action_id"] == messages.PROVIDER_KEYS_REMOVE and remove["value"] == "xiangji"
    assert "confirm" in remove

    status, _ = await press(
        tolk, slack, ADMIN, messages.PROVIDER_KEYS_REMOVE, value="xiangji", view=view
    )
    assert status == 200
    assert await keyring.keys(TEAM) == {"alibaba": ALIBABA}
    (update,) = slack.calls_to("views.update")
    assert update.args["view_id"] == view["id"] and update.response["ok"] is True
    redrawn = form(slack)
    assert "*Xiangji*: not set" in texts(redrawn) and "*Alibaba Cloud*: set on" in texts(redrawn)
    assert "• Xiangji: not set" in home_text(slack, ADMIN)  # the Home tab, published again

    await press(tolk, slack, ADMIN, messages.PROVIDER_KEYS_REMOVE, value="alibaba", view=redrawn)
    assert await keyring.summary(TEAM) == {}
    assert await tolk.services.store.get_setting(NAMESPACE, TEAM) is None


async def test_one_workspace_never_sees_anothers_keys(tolk, slack, keyring) -> None:
    assert (await submit(tolk, ADMIN, boxes("xiangji", XIANGJI)))[1] is None
    await open_home(tolk, CAROL, team=OTHER_TEAM)  # an admin of another workspace
    text = home_text(slack, CAROL)
    assert "• Xiangji: not set" in text and "set on" not in text and ADMIN not in text

    await press(tolk, slack, CAROL, messages.PROVIDER_KEYS_OPEN, team=OTHER_TEAM)
    view = slack.calls_to("views.open")[-1].response["view"]
    assert "set on" not in texts(view) and messages.PROVIDER_KEYS_REMOVE not in texts(view)
    await press(tolk, slack, CAROL, messages.PROVIDER_KEYS_REMOVE, value="xiangji", team=OTHER_TEAM)
    own = {"user_key": "otherUSER", "matting_key": "otherMATTING"}
    assert (await submit(tolk, CAROL, boxes("xiangji", own), team=OTHER_TEAM))[1] is None

    assert await keyring.keys(TEAM) == {"xiangji": XIANGJI}
    assert await keyring.keys(OTHER_TEAM) == {"xiangji": own}
    assert (await keyring.summary(OTHER_TEAM))["xiangji"][1] == CAROL
    await open_home(tolk, ADMIN)
    assert "by <@U0ADMIN>" in home_text(slack, ADMIN) and CAROL not in home_text(slack, ADMIN)


async def test_without_a_keyring_the_home_tab_has_no_keys_section(tolk, slack) -> None:
    slack.add_user(ADMIN, "ada", is_admin=True)
    await open_home(tolk, ADMIN)
    assert "Provider keys" not in home_text(slack, ADMIN)
    assert slack.calls_to("users.info") == []  # nobody is asked about an admin for nothing


# --- the Home tab's section on its ports --------------------------------------------------


async def test_the_section_says_when_the_operators_keys_serve_the_workspace(keys_ports) -> None:
    context, ring = keys_ports
    text = json.dumps(await home.keys_section(context, "U0ALICE"), ensure_ascii=False)
    assert "Xiangji: not set — using the operator's keys" in text
    assert "Alibaba Cloud: not set\\n" in text  # Alibaba is off for the operator
    await ring.set(TEAM, "xiangji", XIANGJI, by="U0ALICE", at=1_796_000_000.0)
    text = json.dumps(await home.keys_section(context, "U0ALICE"), ensure_ascii=False)
    assert "Xiangji: set on <!date^1796000000^{date}|" in text and "by <@U0ALICE>" in text


@pytest.fixture
async def keys_ports(ports) -> tuple[dict[str, Any], ProviderKeyring]:
    """The handler tests' ports, Alice one of Tolk's admins, the operator's keys shared."""
    ring = ProviderKeyring(ports.store, Sealer(Fernet.generate_key().decode()))
    ports.configure(admins=frozenset({"U0ALICE"}), shared_provider_keys=True)
    return ports.context(**{p.PROVIDER_KEYS: ring}), ring
