"""The keyring of workspaces' own provider keys on a real SQLite store: what it keeps
sealed, what it shows, how it checks keys as typed, and the words and forms built on it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.core import messages
from bot.core.provider_keys import (
    NAMESPACE,
    PROBLEMS,
    PROVIDERS,
    KeysRefused,
    ProviderKeyring,
    check_keys,
)
from bot.core.sealed import Sealer, SealError
from bot.core.storage.sqlite import SqliteTaskStore
from emulators.blockkit import validate_view
from handlers.ports import ProviderKeys

KEY = Fernet.generate_key().decode()
XIANGJI = {"user_key": "xjUSERsecret0417", "img_trans_key": "xjIMGsecret9921"}
ROZETTA = {
    "access_key": "rzACCESS1234",
    "secret_key": "rzSECRET5678",
    "contract_id": "rzCONTRACT42",
}
AT = 1_796_428_800.0  # 5 Dec 2026, 00:00 UTC


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTaskStore]:
    store = await SqliteTaskStore.open(tmp_path / "tolk.sqlite")
    yield store
    await store.close()


@pytest.fixture
def keyring(store: SqliteTaskStore) -> ProviderKeyring:
    return ProviderKeyring(store, Sealer(KEY))


async def test_the_keyring_is_what_the_listeners_port_asks_for(keyring) -> None:
    port: ProviderKeys = keyring  # mypy holds the keyring against the port's Protocol
    await port.set("T1", "alibaba", {"access_key_id": "i", "access_key_secret": "s"}, by="U", at=AT)
    assert await port.summary("T1") == {"alibaba": (AT, "U")}
    assert await port.remove("T1", "alibaba") is True


async def test_keys_come_back_opened_and_the_summary_tells_only_when_and_who(keyring) -> None:
    assert await keyring.keys("T1") == {} and await keyring.summary("T1") == {}
    assert await keyring.version("T1") == ""
    await keyring.set("T1", "xiangji", {**XIANGJI, "matting_key": ""}, by="U0ADA", at=AT)
    await keyring.set(
        "T1", "rozetta", {k: f" {v}\n" for k, v in ROZETTA.items()}, by="U0BO", at=AT + 5
    )
    assert await keyring.keys("T1") == {"xiangji": XIANGJI, "rozetta": ROZETTA}  # stripped
    assert await keyring.summary("T1") == {"xiangji": (AT, "U0ADA"), "rozetta": (AT + 5, "U0BO")}


async def test_the_record_holds_every_value_sealed(keyring, store, tmp_path) -> None:
    await keyring.set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT)
    await keyring.set("T1", "rozetta", ROZETTA, by="U0ADA", at=AT)
    record = await store.get_setting(NAMESPACE, "T1")
    assert set(record) == {"rev", "providers"}
    assert set(record["providers"]["rozetta"]) == {"sealed", "set_at", "by"}
    values = [*XIANGJI.values(), *ROZETTA.values()]  # the contract id too
    stored = json.dumps(record) + "".join(
        p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()
    )
    assert [v for v in values if v in stored] == []
    assert "U0ADA" in stored and "xiangji" in stored  # who and what, in clear


async def test_saving_replaces_a_providers_keys_whole_and_leaves_the_others(keyring) -> None:
    await keyring.set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT)
    await keyring.set("T1", "rozetta", ROZETTA, by="U0ADA", at=AT)
    newer = {"user_key": "newUSER", "text_trans_key": "newTEXT"}
    await keyring.set("T1", "xiangji", newer, by="U0BO", at=AT + 60)
    assert await keyring.keys("T1") == {"xiangji": newer, "rozetta": ROZETTA}
    assert (await keyring.summary("T1"))["xiangji"] == (AT + 60, "U0BO")


async def test_refused_keys_store_nothing(keyring, store) -> None:
    await keyring.set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT)
    before = await keyring.version("T1")
    with pytest.raises(KeysRefused) as refused:
        await keyring.set("T1", "xiangji", {"user_key": "only"}, by="U0ADA", at=AT + 1)
    assert refused.value.errors == {"img_trans_key": "needs_service"}
    with pytest.raises(KeysRefused):
        await keyring.set("T1", "alibaba", {"access_key_id": "LTAI1"}, by="U0ADA", at=AT + 1)
    assert await keyring.keys("T1") == {"xiangji": XIANGJI}
    assert await keyring.version("T1") == before


async def test_version_changes_with_every_change(keyring) -> None:
    seen = {await keyring.version("T1")}
    await keyring.set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT)
    seen.add(await keyring.version("T1"))
    await keyring.set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT)  # the same keys, saved again
    seen.add(await keyring.version("T1"))
    await keyring.set("T1", "rozetta", ROZETTA, by="U0ADA", at=AT)
    seen.add(await keyring.version("T1"))
    assert await keyring.remove("T1", "rozetta") is True
    seen.add(await keyring.version("T1"))
    assert len(seen) == 5
    assert await keyring.remove("T1", "rozetta") is False
    assert await keyring.version("T1") in seen


async def test_remove_and_forget(keyring, store) -> None:
    await keyring.set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT)
    await keyring.set("T1", "rozetta", ROZETTA, by="U0ADA", at=AT)
    await keyring.set("T2", "rozetta", ROZETTA, by="U0CAROL", at=AT)
    assert await keyring.remove("T1", "xiangji") is True
    assert await keyring.keys("T1") == {"rozetta": ROZETTA}
    assert await keyring.remove("T1", "rozetta") is True
    assert await store.get_setting(NAMESPACE, "T1") is None  # the last one: no record left
    await keyring.set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT)
    await keyring.forget("T1")
    assert await keyring.keys("T1") == {} and await keyring.version("T1") == ""
    assert await keyring.keys("T2") == {"rozetta": ROZETTA}  # another workspace's stay


async def test_workspaces_are_apart(keyring) -> None:
    await keyring.set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT)
    assert await keyring.keys("T2") == {} and await keyring.summary("T2") == {}
    assert await keyring.remove("T2", "xiangji") is False
    assert await keyring.keys("T1") == {"xiangji": XIANGJI}


async def test_concurrent_saves_of_two_providers_both_stay(keyring) -> None:
    await asyncio.gather(
        keyring.set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT),
        keyring.set("T1", "rozetta", ROZETTA, by="U0BO", at=AT),
    )
    assert set(await keyring.keys("T1")) == {"xiangji", "rozetta"}


async def test_keys_sealed_with_a_key_no_longer_held_are_refused_without_a_value(store) -> None:
    old = Fernet.generate_key().decode()
    await ProviderKeyring(store, Sealer(old)).set("T1", "xiangji", XIANGJI, by="U0ADA", at=AT)
    new = Fernet.generate_key().decode()
    rotated = ProviderKeyring(store, Sealer(f"{new},{old}"))  # the old key still opens
    assert await rotated.keys("T1") == {"xiangji": XIANGJI}
    lost = ProviderKeyring(store, Sealer(new))
    with pytest.raises(SealError) as refused:
        await lost.keys("T1")
    assert not any(v in str(refused.value) for v in XIANGJI.values())
    assert await lost.summary("T1") == {"xiangji": (AT, "U0ADA")}  # opens nothing


# --- check_keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("has space", "space"),
        ("line\nbreak", "space"),
        ('"quoted"', "quotes"),
        ("<abc123>", "quotes"),
        ("`abc123`", "quotes"),
        ("XIANGJI_USER_KEY=abc123", "env_line"),
        ("export XIANGJI_USER_KEY=abc123", "env_line"),
        ("user_key: abc123", "env_line"),
        ("abc…", "characters"),
        ("ａｂｃ１２３", "characters"),
        ("abc\x00def", "characters"),
        ("k" * 201, "too_long"),
    ],
)
def test_a_key_typed_wrong_is_named_with_its_problem_never_its_value(typed, problem) -> None:
    with pytest.raises(KeysRefused) as refused:
        check_keys("xiangji", {"user_key": typed, "img_trans_key": "fine"})
    assert refused.value.errors == {"user_key": problem}
    assert problem in PROBLEMS
    assert typed.strip() not in str(refused.value) and "abc123" not in str(refused.value)


def test_keys_as_they_look_are_taken() -> None:
    for key in ("LTAI5tQ9xZ3kYmN8", "a1B2-c3_d4.e5+f6/g7==", "0f3c9a7e5b1d", "k" * 200):
        assert check_keys("alibaba", {"access_key_id": key, "access_key_secret": key}) == {
            "access_key_id": key,
            "access_key_secret": key,
        }


def test_what_each_provider_needs() -> None:
    assert check_keys("xiangji", {"user_key": "u", "matting_key": "m", "text_trans_key": " "}) == {
        "user_key": "u",
        "matting_key": "m",
    }
    cases = [
        ("xiangji", {"img_trans_key": "i"}, {"user_key": "missing"}),
        ("xiangji", {"user_key": "u"}, {"img_trans_key": "needs_service"}),
        ("alibaba", {"access_key_secret": "s"}, {"access_key_id": "missing"}),
        ("alibaba", {"access_key_id": "i"}, {"access_key_secret": "missing"}),
        ("rozetta", {"contract_id": "c"}, {"access_key": "missing", "secret_key": "missing"}),
    ]
    for provider, typed, errors in cases:
        with pytest.raises(KeysRefused) as refused:
            check_keys(provider, typed)
        assert refused.value.errors == errors, (provider, typed)
    assert check_keys("rozetta", {"access_key": "a", "secret_key": "s"}) == {
        "access_key": "a",
        "secret_key": "s",
    }


def test_a_provider_or_field_that_does_not_exist_is_the_callers_mistake() -> None:
    with pytest.raises(ValueError, match="no provider 'deepl'"):
        check_keys("deepl", {"key": "k"})
    with pytest.raises(ValueError, match="no key field aigc_key") as refused:
        check_keys("xiangji", {"user_key": "u", "aigc_key": "a"})
    assert not isinstance(refused.value, KeysRefused)


# --- the words and the forms -------------------------------------------------------------


def test_every_problem_of_every_box_is_said_briefly_and_differently() -> None:
    for provider, spec in PROVIDERS.items():
        for field in spec.fields:
            said = {messages.provider_key_problem(provider, field, p) for p in PROBLEMS}
            assert len(said) == len(PROBLEMS), (provider, field)
            assert all(0 < len(s) <= 150 for s in said)
    assert "XIANGJI_IMG_TRANS_DEEPL_KEY=" in messages.provider_key_problem(
        "xiangji", "img_trans_deepl_key", "env_line"
    )


def test_the_date_a_key_was_set_reads_in_the_readers_zone_and_falls_back_to_utc() -> None:
    assert messages.provider_key_set(AT, "U0ADA") == (
        f"set on <!date^{int(AT)}^{{date}}|5 Dec 2026> by <@U0ADA>"
    )


def _texts(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def test_the_form_has_a_box_per_key_and_a_remove_per_provider_set() -> None:
    summary = {"alibaba": (AT, "U0ADA")}
    view = messages.provider_keys_modal(summary, ["xiangji"])
    assert validate_view(view) == []
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == [
        f"{p}.{f}" for p, spec in PROVIDERS.items() for f in spec.fields
    ]
    assert all(b["optional"] and "initial_value" not in b["element"] for b in inputs)
    removes = [b["accessory"]["value"] for b in view["blocks"] if "accessory" in b]
    assert removes == ["alibaba"]
    text = _texts(view)
    assert "*Xiangji*: not set — using the operator's keys" in text
    assert "*Rozetta*: not set" in text and "*Alibaba Cloud*: set on <!date^" in text


def test_the_forms_and_section_stay_within_slacks_limits_whatever_they_are_given() -> None:
    evil = "<!here> <https://evil.example|x> & " + "長" * 3000
    summary = {p: (AT, evil) for p in [*PROVIDERS, evil]}
    for view in (
        messages.provider_keys_modal(summary, [evil] * 50),
        {"type": "home", "blocks": messages.provider_keys_home(summary, [evil])},
        messages.provider_keys_admins_only([evil] * 40),
        messages.provider_keys_admins_only([]),
    ):
        assert validate_view(view) == [], view
