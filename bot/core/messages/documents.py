"""Document translation (``/translate-doc`` through Alibaba or Rozetta): the
acknowledgement, the thread's first message and the comment on the translated file.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.messages._common import language, languages, several
from bot.core.mrkdwn import escape


def ack_doc(
    task_id: str, names: Sequence[str], source: str | None, target: str | Sequence[str]
) -> str:
    """``names``: each document once, whatever the number of target languages."""
    what = names[0] if len(names) == 1 else f"{len(names)} documents"
    if several(target):
        what = f"{what} into {len(target)} languages,"
    files = "The files go" if several(target) else "The file goes"
    return f"On it: translating {what} {language(source)}→{languages(target)}. {files} in the thread (task `{task_id}`)."


def doc_parent(
    task_id: str,
    user: str,
    names: Sequence[str],
    source: str | None,
    target: str | Sequence[str],
) -> str:
    """``names``: each document once, whatever the number of target languages."""
    what = _file_name(names[0]) if len(names) == 1 else f"{len(names)} documents"
    if several(target):
        what = f"{what} into {len(target)} languages,"
    return f":page_facing_up: <@{user}> asked to translate {what} {language(source)}→{languages(target)} · task `{task_id}`"


def doc_comment(filename: str, pages: int | None) -> str:
    name = escape(filename)
    return f"{name} · {pages} page{'s' if pages != 1 else ''}" if pages else name


def _file_name(source: str) -> str:
    return escape(source.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or source)


def rozetta_comment(filename: str, count: float | None) -> str:
    """Rozetta's ``wordCount``: words on T-4OO, characters on T-3MT."""
    name = escape(filename)
    return f"{name} · {count:,.0f} words/characters" if count else name


def not_a_document(name: str) -> str:
    return f"{name}: the address answered with a web page, not the document (is it public?)"


def no_public_url() -> str:
    return (
        "Alibaba must download the file from Tolk, and Tolk has no public address: an admin "
        "sets `TOLK_PUBLIC_URL` (e.g. `https://tolk.example.com`) to this service's public URL."
    )
