"""How every surface shows a language, a duration and what a person typed, and
Xiangji's image engines by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from providers.xiangji.spec import ENGINE_LABELS as ENGINE_LABELS  # re-exported by the package


def language(code: str | None) -> str:
    return code or "auto"


def languages(target: str | Sequence[str]) -> str:
    """``ko`` or, for several targets, ``ko, ja, en`` (in the asked order)."""
    return target if isinstance(target, str) else ", ".join(target)


def several(target: str | Sequence[str]) -> bool:
    """More than one target language (a list of one reads like a single target)."""
    return not isinstance(target, str) and len(target) > 1


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def typed(text: str, limit: int = 120) -> str:
    """What the person typed, quoted back inside a code span: one line, no backticks."""
    line = " ".join(text.replace("`", "'").split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def engine_label(engine: str) -> str:
    return ENGINE_LABELS.get(engine, engine)


def engine_note(engine: str | None) -> str:
    """`` with the Google engine`` — nothing for Aliyun, Xiangji's own default."""
    if not engine or engine == "aliyun":
        return ""
    return f" with the {engine_label(engine)} engine"
