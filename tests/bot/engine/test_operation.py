"""The operation contract (``bot/engine/operation.py``): what an operation that declares
only the required methods gets from the base class, what every operation Tolk ships
declares, and the engine's rule that it never imports an operation."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import bot.engine
import bot.engine.operations
from bot.core.fetch import DownloadFailed
from bot.core.tasks import Item, Place, State, Task
from bot.engine.operation import Operation

ENGINE = Path(bot.engine.__file__).parent


class Minimal(Operation):
    provider = "minimal"

    def parent_text(self, task: Task) -> str:
        return "working"

    async def submit(self, task: Task, now: float) -> Task:
        return task.to(State.SUCCEEDED, now)

    async def poll(self, tasks, now):  # type: ignore[no-untyped-def]
        return list(tasks)


def finished(*statuses: str, state: State = State.DELIVERED) -> Task:
    items = tuple(
        Item(source=f"https://example.com/{n}.png", status=status, error=error)
        for n, status in enumerate(statuses)
        for error in [{"code": "E42", "message": "too dark"} if status == "failed" else None]
    )
    return Task("T7Q2K", "k", Place("T", "C", "U"), "minimal", "m", {}, state, items)


async def test_the_hooks_default_to_what_the_engine_did_without_them() -> None:
    op = Minimal()
    task = finished("done", "done")
    assert (op.needs_thread, op.poll_key, op.noun) == (True, None, "image")
    assert op.poll_floor(task) == 0.0
    assert op.refinable(task) == []
    assert op.unreadable({"kind": "image"}, DownloadFailed("gone", permanent=True)) is None
    with pytest.raises(DownloadFailed) as refused:
        await op.fetch({"kind": "file", "fetch": "minimal"})
    assert refused.value.permanent  # the item fails; the rest of the task goes on


def test_the_default_closing_message_counts_what_was_translated() -> None:
    op = Minimal()
    assert op.final_text(finished("done", "done")) == (
        ":white_check_mark: Done — all 2 images translated (task `T7Q2K`)."
    )
    partly = op.final_text(finished("done", "failed"))
    assert partly is not None and "1 of 2" in partly and "1.png: error E42 — too dark" in partly
    op.noun = "document"
    assert "1 document translated" in (op.final_text(finished("done")) or "")


def test_an_answer_given_in_the_channel_needs_no_closing_message() -> None:
    op = Minimal()
    op.needs_thread = False
    assert op.final_text(finished("done")) is None
    assert op.final_text(finished("failed", state=State.FAILED)) is not None


def test_an_operation_must_say_how_it_submits_and_polls() -> None:
    class Incomplete(Operation):
        provider = "incomplete"

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


def shipped() -> list[type[Operation]]:
    found = []
    for module in pkgutil.iter_modules(bot.engine.operations.__path__):
        loaded = importlib.import_module(f"bot.engine.operations.{module.name}")
        found += [
            cls
            for _, cls in inspect.getmembers(loaded, inspect.isclass)
            if issubclass(cls, Operation) and cls.__module__ == loaded.__name__
        ]
    return found


HOOKS = ("parent_text", "submit", "poll", "poll_floor", "final_text", "fetch", "unreadable")
HOOKS += ("refinable",)


@pytest.mark.parametrize("cls", shipped(), ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_operation_tolk_ships_keeps_the_contract(cls: type[Operation]) -> None:
    """Each hook it overrides takes what the engine passes and is as (a)synchronous as
    the engine awaits it; the attributes are of the declared types."""
    assert isinstance(cls.provider, str) and cls.provider
    assert isinstance(cls.needs_thread, bool) and isinstance(cls.noun, str)
    assert cls.poll_key is None or isinstance(cls.poll_key, str)
    for name in HOOKS:
        own, declared = getattr(cls, name), getattr(Operation, name)
        params = list(inspect.signature(own).parameters)
        assert params == list(inspect.signature(declared).parameters), name
        assert inspect.iscoroutinefunction(own) == inspect.iscoroutinefunction(declared), name
    if not cls.__name__.startswith("_"):
        assert not inspect.isabstract(cls)


def test_the_engine_never_imports_an_operation() -> None:
    """Operations import the engine (``operation``, ``work``, ``delivery``); the registry
    is built in ``bot/wiring.py``. An arrow the other way would be a cycle."""
    found = []
    for path in sorted(ENGINE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            found += [f"{path.name}: {n}" for n in names if n.startswith("bot.engine.operations")]
    assert found == []
