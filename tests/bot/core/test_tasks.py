"""The task model: state machine, JSON round trip, short ids."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from bot.core.tasks import (
    FINAL,
    TRANSITIONS,
    Item,
    Place,
    State,
    Task,
    TransitionError,
    new_task_id,
)

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

# PRODUCT.md: queued → submitted → running → succeeded → delivered, or failed / expired /
# cancelled; written out here independently of the module.
ENDINGS = {State.FAILED, State.EXPIRED, State.CANCELLED}
EXPECTED = {
    State.QUEUED: {State.SUBMITTED, State.SUCCEEDED} | ENDINGS,
    State.SUBMITTED: {State.RUNNING, State.SUCCEEDED} | ENDINGS,
    State.RUNNING: {State.SUCCEEDED} | ENDINGS,
    State.SUCCEEDED: {State.DELIVERED} | ENDINGS,
    State.DELIVERED: set(),
    State.FAILED: set(),
    State.EXPIRED: set(),
    State.CANCELLED: set(),
}


def task(state: State = State.QUEUED, **changes: object) -> Task:
    base = Task(
        id="T7Q2K",
        dedupe_key="command:T1:trigger-1",
        place=Place(team="T1", channel="C1", user="U1"),
        provider="xiangji",
        operation="xiangji.translate_image",
        request={"source": "zh", "target": "en"},
        state=state,
        created_at=100.0,
        updated_at=100.0,
    )
    return base.but(**changes) if changes else base


def test_transition_table_matches_the_product() -> None:
    assert set(TRANSITIONS) == set(State)
    assert {s: set(t) for s, t in TRANSITIONS.items()} == EXPECTED


def test_final_states() -> None:
    assert {State.DELIVERED, State.FAILED, State.EXPIRED, State.CANCELLED} == FINAL
    for state in State:
        assert task(state).final is (state in FINAL)


ALLOWED = [(a, b) for a in State for b in State if b in EXPECTED[a]]
REFUSED = [(a, b) for a in State for b in State if a is not b and b not in EXPECTED[a]]


def test_every_pair_is_covered() -> None:
    assert len(ALLOWED) + len(REFUSED) + len(State) == len(State) ** 2
    assert len(ALLOWED) == 18


@pytest.mark.parametrize(("start", "end"), ALLOWED, ids=lambda s: str(s))
def test_allowed_transition(start: State, end: State) -> None:
    before = task(start)
    after = before.to(end, 250.0, attempts=3)
    assert after.state is end
    assert after.updated_at == 250.0
    assert after.attempts == 3
    assert after.created_at == 100.0
    assert before.state is start  # frozen: the original is untouched


@pytest.mark.parametrize(("start", "end"), REFUSED, ids=lambda s: str(s))
def test_refused_transition(start: State, end: State) -> None:
    with pytest.raises(TransitionError) as info:
        task(start).to(end, 250.0)
    message = str(info.value)
    assert "T7Q2K" in message
    assert str(start) in message
    assert str(end) in message


@pytest.mark.parametrize("state", list(State), ids=str)
def test_staying_in_a_state_updates_fields(state: State) -> None:
    after = task(state).to(state, 300.0, polls=2)
    assert after.state is state
    assert after.updated_at == 300.0
    assert after.polls == 2


def test_a_whole_happy_path() -> None:
    t = task()
    for i, state in enumerate(
        [State.SUBMITTED, State.RUNNING, State.SUCCEEDED, State.DELIVERED], start=1
    ):
        t = t.to(state, 100.0 + i)
    assert t.state is State.DELIVERED
    assert t.updated_at == 104.0
    assert t.final


def test_but_changes_fields_without_checking_state() -> None:
    t = task(State.DELIVERED).but(settled=True, lease_until=5.0)
    assert t.settled is True
    assert t.lease_until == 5.0
    assert t.updated_at == 100.0


def full_task() -> Task:
    return Task(
        id="TABCD",
        dedupe_key="command:T1:trigger-9",
        place=Place(team="T1", channel="C1", user="U1", thread_ts="1700000000.000100"),
        provider="xiangji",
        operation="xiangji.translate_image",
        request={"source": "zh", "target": "ko", "qos": None, "ocr": True},
        state=State.RUNNING,
        items=(
            Item(
                source="https://x.example/a.jpg",
                provider_id="req-1",
                status="done",
                outputs=(
                    {"kind": "image", "url": "https://i.tosoiot.com/a.jpg", "name": "a.jpg"},
                    {"kind": "text", "text": "안녕", "name": "a.txt"},
                ),
                delivered=1,
            ),
            Item(
                source="https://x.example/b.jpg",
                provider_id="req-2",
                status="failed",
                error={"code": "104", "message": "image too large"},
            ),
            Item(source="https://x.example/c.jpg"),
        ),
        created_at=1700000000.25,
        updated_at=1700000010.5,
        attempts=2,
        polls=7,
        next_poll_at=1700000020.0,
        deadline=1700003600.0,
        lease_until=1700000030.0,
        error={"code": "x", "message": "y", "kind": "transient"},
        settled=False,
        notes={"progress_ts": "1700000001.000200", "sent": {"m1": "1.2"}},
    )


def test_to_json_from_json_round_trip() -> None:
    original = full_task()
    copy = Task.from_json(original.to_json())
    assert copy == original
    assert isinstance(copy.place, Place)
    assert copy.state is State.RUNNING
    assert isinstance(copy.items, tuple)
    assert all(isinstance(item, Item) for item in copy.items)
    assert isinstance(copy.items[0].outputs, tuple)
    assert copy.items[0].outputs[1]["text"] == "안녕"


def test_round_trip_through_json_text_restores_tuples() -> None:
    original = full_task()
    data = json.loads(json.dumps(original.to_json()))
    assert isinstance(data["items"], list)  # JSON has no tuples
    copy = Task.from_json(data)
    assert copy == original
    assert type(copy.items) is tuple
    assert type(copy.items[0].outputs) is tuple
    assert type(copy.items[2].outputs) is tuple
    assert copy.items[1].error == {"code": "104", "message": "image too large"}
    assert copy.state is State.RUNNING


def test_to_json_is_plain_data() -> None:
    data = full_task().to_json()
    assert data["state"] == "running"
    assert data["place"] == {
        "team": "T1",
        "channel": "C1",
        "user": "U1",
        "thread_ts": "1700000000.000100",
        "response_url": None,
    }
    assert data["items"][0]["outputs"][0]["url"] == "https://i.tosoiot.com/a.jpg"
    assert json.loads(json.dumps(data)) == json.loads(json.dumps(data, sort_keys=True))


def test_a_task_saved_before_places_had_a_response_url_still_loads() -> None:
    data = full_task().to_json()
    del data["place"]["response_url"]
    assert Task.from_json(data).place.response_url is None


def test_from_json_does_not_modify_its_input() -> None:
    data = json.loads(json.dumps(full_task().to_json()))
    snapshot = json.dumps(data, sort_keys=True)
    Task.from_json(data)
    assert json.dumps(data, sort_keys=True) == snapshot


def test_round_trip_of_a_task_without_items() -> None:
    original = task()
    assert Task.from_json(json.loads(json.dumps(original.to_json()))) == original


ID = re.compile(rf"^T[{ALPHABET}]{{4}}$")


def test_new_task_id_format() -> None:
    for _ in range(500):
        assert ID.match(new_task_id()), "expected T + 4 unambiguous characters"


def test_new_task_id_avoids_ambiguous_characters() -> None:
    chars = set(itertools.chain.from_iterable(new_task_id()[1:] for _ in range(2000)))
    assert not chars & set("01OIL")
    # 8000 draws from 31 characters: every one of them shows up
    assert chars == set(ALPHABET)


def test_new_task_ids_differ() -> None:
    ids = [new_task_id() for _ in range(200)]
    # 31**4 possible ids: a handful of birthday collisions at most, never mostly equal
    assert len(set(ids)) >= 195
