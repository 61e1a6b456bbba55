"""Image translation and background removal (``/translate-image``, ``/cutout``):
the acknowledgement, the thread's first message and the recognised text (``--ocr``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.core.messages._common import engine_note, language, languages, several
from bot.core.mrkdwn import escape


def ack_images(
    task_id: str,
    count: int,
    source: str | None,
    target: str | Sequence[str],
    *,
    engine: str | None = None,
) -> str:
    """``count`` is the number of images (not of results: each goes into every target)."""
    noun = "image" if count == 1 else f"{count} images"
    if several(target):
        noun = f"{'1 image' if count == 1 else noun} into {len(target)} languages,"
    return (
        f"On it: translating {noun} {language(source)}→{languages(target)}{engine_note(engine)}. "
        f"Results go in the thread (task `{task_id}`)."
    )


def image_parent(
    task_id: str,
    user: str,
    count: int,
    source: str | None,
    target: str | Sequence[str],
    *,
    engine: str | None = None,
) -> str:
    """``count`` is the number of images; with several targets the parent says how many
    languages each goes into: ``2 images into 3 languages, zh→ko, ja, en``."""
    noun = "1 image" if count == 1 else f"{count} images"
    if several(target):
        noun = f"{noun} into {len(target)} languages,"
    what = f"{noun} {language(source)}→{languages(target)}{engine_note(engine)}"
    return f":frame_with_picture: <@{user}> asked to translate {what} · task `{task_id}`"


def ocr_unavailable(source_url: str, reason: str) -> str:
    """``--ocr`` on an image translated one by one, whose recognised text could not be read."""
    name = escape(source_url.rsplit("/", 1)[-1] or source_url)
    return f"The recognised text of {name} could not be read: {escape(reason.rstrip('.'))}."


class RecognisedLine(Protocol):
    """A line of text found in an image, and its translation (Xiangji's ``OcrLine``)."""

    @property
    def source(self) -> str: ...

    @property
    def target(self) -> str: ...


def ocr_text(source_url: str, lines: Sequence[RecognisedLine], target: str | None = None) -> str:
    """The recognised text of one image and its translation, as a readable list;
    ``target`` names the translation's language in a task of several."""
    name = escape(source_url.rsplit("/", 1)[-1] or source_url)
    into = f" → {escape(target)}" if target else ""
    rows = "\n".join(f"• {escape(line.source)} → {escape(line.target)}" for line in lines)
    return f"Text in {name}{into}:\n{rows}"


def ack_cutout(task_id: str, count: int) -> str:
    noun = "the background" if count == 1 else f"the backgrounds of {count} images"
    return f"On it: removing {noun}. Results go in the thread (task `{task_id}`)."


def cutout_parent(task_id: str, user: str, count: int) -> str:
    noun = "1 image" if count == 1 else f"{count} images"
    return f":scissors: <@{user}> asked to cut out {noun} · task `{task_id}`"
