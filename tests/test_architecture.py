"""The rooms and the arrows between them, measured from the code.

Every module of the product is imported (a cycle or a stray import fails here first),
and every ``import`` statement, also the ones inside functions, is held against the
rules below. A rule names who may not import what, and why; the README's "How it
works" draws the same map.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("bot", "handlers", "providers", "emulators", "sandbox")


def _modules() -> dict[str, Path]:
    found = {}
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, absolute names, with its line."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
            # ``from bot.core import messages`` imports the module bot.core.messages
            names += [
                (node.lineno, f"{node.module}.{a.name}")
                for a in node.names
                if f"{node.module}.{a.name}" in MODULES
            ]
    return names


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


#: (who, what they may not import, why). "who" and "what" are module prefixes.
RULES: list[tuple[tuple[str, ...], tuple[str, ...], str]] = [
    (
        ("providers",),
        ("bot", "handlers", "emulators", "sandbox"),
        "a provider client knows nothing of Slack, Tolk or the emulators",
    ),
    (
        ("bot", "handlers", "providers"),
        ("emulators", "sandbox"),
        "the product never loads an emulator (only bot.__main__ starts the sandbox)",
    ),
    (
        ("bot.core",),
        ("bot.engine", "bot.wiring", "bot.runtime", "bot.app", "bot.socket_mode", "handlers"),
        "core is the floor the others stand on",
    ),
    (
        ("bot.engine",),
        ("handlers", "bot.wiring", "bot.runtime", "bot.app"),
        "the engine runs tasks; it does not know how requests arrive",
    ),
    (
        ("handlers",),
        ("bot.engine", "bot.wiring", "bot.runtime", "bot.app"),
        "handlers get what they use through ports, not the engine's internals",
    ),
]
#: The one crossing allowed: ``make run`` without credentials starts the sandbox.
ALLOWED = {("bot.__main__", "sandbox.run")}


def _provider_internals(name: str) -> bool:
    """A provider's wire format or client (``providers.<p>.spec`` and ``.errors`` are
    what anyone may import)."""
    parts = name.split(".")
    return len(parts) >= 3 and parts[0] == "providers" and parts[2] in {"wire", "client"}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_no_forbidden_arrow() -> None:
    found = []
    for module, path in MODULES.items():
        for line, name in _imports(path):
            if (module, name) in ALLOWED:
                continue
            for who, what, why in RULES:
                if _within(module, *who) and _within(name, *what):
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {name}: {why}")
            if module.startswith("handlers") and _provider_internals(name):
                found.append(
                    f"{path.relative_to(ROOT)}:{line} imports {name}: "
                    "handlers validate against providers.<p>.spec, never the wire or client"
                )
    assert found == []


def test_the_rules_see_a_forbidden_arrow(tmp_path: Path) -> None:
    """The checker itself: a provider importing Tolk is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from bot.core import messages\nimport handlers.slack\n", encoding="utf-8")
    names = [name for _, name in _imports(bad)]
    assert "bot.core.messages" in names and "handlers.slack" in names
    assert _within("bot.core.messages", "bot") and not _within("botany", "bot")
