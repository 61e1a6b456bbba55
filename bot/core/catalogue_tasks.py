"""A catalogue task's bookkeeping, read from the task itself: its rows, its chunks (one
item per language and at most ``CHUNK`` rows, by row index), and each (row, language)'s
outcome. The engine's catalogue operation writes these; the Retry failed button reads
them to make the next task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from bot.core.catalogue import Row
from bot.core.tasks import Item, Task

OPERATION = "xiangji.catalogue"
CHUNK = 50  # rows per batch submission: one request line stays well under 8 KB
ZIP_CHUNK = 10  # images of a ZIP per step: each is one upload, saved together


class Outcome(NamedTuple):
    at: int  # the row's place in the sheet
    row: Row
    answered: bool  # Xiangji said done or failed (or the chunk was refused)
    url: str  # the result, when done
    error: str


def rows_of(task: Task) -> list[Row]:
    return [Row(str(r[0]), str(r[1]), dict(r[2] or {})) for r in task.request.get("rows", ())]


def targets_of(task: Task) -> list[dict[str, str]]:
    """[{"lang", "code"}] in the asked order."""
    r = task.request
    return list(r.get("targets") or [{"lang": r["target"], "code": r["target_code"]}])


def chunk_indexes(item: Item) -> list[int]:
    return [int(i) for i in item.meta.get("indexes", ())]


def results_of(item: Item) -> list[list[str] | None]:
    """Per row of the chunk: [result url, ""], ["", error], or None while pending."""
    got = item.meta.get("results")
    return list(got) if got else [None] * len(chunk_indexes(item))


def chunk_items(
    targets: Sequence[Mapping[str, str]],
    indexes: Mapping[str, Sequence[int]],
    size: int = CHUNK,
) -> tuple[Item, ...]:
    """The chunks of the rows ``indexes[lang]`` for each target, in the targets' order."""
    return tuple(
        Item(
            source=f"{t['lang']}:{part[0] + 1}…{part[-1] + 1}",
            meta={"target": t["lang"], "target_code": t["code"], "indexes": list(part)},
        )
        for t in targets
        for rows in [list(indexes.get(t["lang"], ()))]
        for part in (rows[n : n + size] for n in range(0, len(rows), size))
    )


def outcomes(task: Task, lang: str) -> list[Outcome]:
    """Every row the task works on in ``lang``, in the sheet's order."""
    rows = rows_of(task)
    found: dict[int, Outcome] = {}
    for item in task.items:
        if item.meta.get("target") != lang:
            continue
        refused = str((item.error or {}).get("message") or "")
        for index, got in zip(chunk_indexes(item), results_of(item), strict=True):
            if got is not None:
                found[index] = Outcome(index, rows[index], True, got[0], got[1])
            else:
                found[index] = Outcome(index, rows[index], bool(refused), "", refused)
    return [found[i] for i in sorted(found)]


def failed(task: Task) -> dict[str, list[int]]:
    """Per language, the rows that were answered without a result."""
    return {
        t["lang"]: rows
        for t in targets_of(task)
        if (rows := [o.at for o in outcomes(task, t["lang"]) if o.answered and not o.url])
    }


def retry_of_failed(task: Task) -> tuple[dict[str, Any], tuple[Item, ...]] | None:
    """The request and chunks of a task for ``task``'s failed rows only (None: none
    failed). The rows keep their places, so the manifest names them as before."""
    again = failed(task)
    if not again:
        return None
    targets = [t for t in targets_of(task) if t["lang"] in again]
    request = {k: v for k, v in task.request.items() if k not in ("targets",)}
    request |= {
        "target": targets[0]["lang"],
        "target_code": targets[0]["code"],
        "retry_of": task.id,
        "rows_expected": sum(len(rows) for rows in again.values()) // max(1, len(targets)),
    }
    if len(targets) > 1:
        request["targets"] = targets
    return request, chunk_items(targets, again, ZIP_CHUNK if request.get("zip") else CHUNK)
