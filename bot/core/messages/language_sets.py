"""``/tolk config set|unset|sets|flag``: a workspace's language sets (``sea`` =
th, vi, id, ms) and the reactions that translate into one, shown, changed and refused.

Set names are checked when a set is made (lowercase letters, digits, hyphens), but what a
person typed for one is quoted back too, so every name and reaction is escaped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.messages._common import typed
from bot.core.mrkdwn import escape


def _codes(codes: Sequence[str]) -> str:
    return escape(", ".join(codes))


def _name(name: str, limit: int = 30) -> str:
    """A set's name, or what was typed for one, inside a code span."""
    return f"`{escape(typed(name, limit))}`"


def _plain(name: str, limit: int = 30) -> str:
    """The same, to be written inside a longer code span (an example command)."""
    return escape(typed(name, limit))


def _emoji(emoji: str) -> str:
    return f":{escape(typed(emoji, 100))}:"


def _names(names: Sequence[str]) -> str:
    return ", ".join(_name(n) for n in names[:50])


def set_needs_name(setting: str, usage: str) -> str:
    example = "set sea th,vi,id,ms" if setting == "set" else "unset sea"
    return f"Say which set, e.g. `/tolk config {example}`.\n{usage}"


def set_needs_languages(name: str, usage: str) -> str:
    plain = _plain(name, 20)
    return (
        f"Say which languages {_name(name)} holds, e.g. `/tolk config set {plain} th,vi,id,ms` "
        f"(or `/tolk config set {plain} remove` to delete it).\n{usage}"
    )


def flag_needs_emoji_and_set(usage: str) -> str:
    return (
        "Name a reaction and a set, e.g. `/tolk config flag :earth_asia: sea` (or "
        f"`/tolk config flag :earth_asia: remove`).\n{usage}"
    )


def not_an_emoji(value: str, usage: str) -> str:
    return f"{_name(value, 60)} is not a reaction's name; write it as `:earth_asia:`.\n{usage}"


def no_such_set(name: str, names: Sequence[str], usage: str) -> str:
    make = f"Make it first with `/tolk config set {_plain(name.lower(), 20)} th,vi,id,ms`."
    known = f" This workspace's sets: {_names(names)}." if names else ""
    return f"There is no language set {_name(name)} in this workspace. {make}{known}\n{usage}"


def too_many_sets(limit: int) -> str:
    return (
        f"This workspace has {limit} of them, as many as Tolk keeps. Remove one first "
        "(`/tolk config set NAME remove`, `/tolk config flag :emoji: remove`); "
        "`/tolk config sets` lists them."
    )


def config_defaults_one_target(usage: str) -> str:
    return (
        "`defaults` takes one target language, e.g. `/tolk config defaults zh>en`; several "
        f"go in a command (`/translate-image zh>ko,ja …`) or a language set.\n{usage}"
    )


def sets_admins_only(admins: Sequence[str]) -> str:
    who = (
        f"Tolk admins ({', '.join(f'<@{a}>' for a in sorted(admins))})"
        if admins
        else "workspace admins and owners"
    )
    return (
        f"Only {who} can change this workspace's language sets and flag sets. "
        "`/tolk config sets` shows them."
    )


def sets_list(sets: Mapping[str, Sequence[str]], flags: Mapping[str, str]) -> str:
    """``/tolk config sets``: every set with its languages, and the reactions of each."""
    if not sets:
        return (
            "This workspace has no language sets yet. Make one with "
            "`/tolk config set sea th,vi,id,ms`, then translate into all of them with "
            "`/translate-image zh>sea …`."
        )
    lines = ["*Language sets of this workspace*"]
    for name in sorted(sets):
        reactions = sorted(e for e, n in flags.items() if n == name)
        react = f" · react with {' '.join(_emoji(e) for e in reactions)}" if reactions else ""
        lines.append(f"• {_name(name)}: {_codes(sets[name])}{react}")
    lines.append("Use a set wherever a target goes: `zh>sea`, `zh>sea,en`.")
    return "\n".join(lines)


def set_saved(user: str, name: str, codes: Sequence[str], replaced: bool) -> str:
    verb = "changed" if replaced else "made"
    return (
        f":gear: <@{user}> {verb} the language set {_name(name)}: {_codes(codes)}. "
        f"Translate into all of them with `zh>{_plain(name)}`."
    )


def set_removed(user: str, name: str, emojis: Sequence[str]) -> str:
    text = f":gear: <@{user}> removed the language set {_name(name)}."
    if emojis:
        text += f" {' '.join(_emoji(e) for e in emojis)} no longer translate into it."
    return text


def no_set_to_remove(name: str, names: Sequence[str]) -> str:
    known = f" This workspace's sets: {_names(names)}." if names else ""
    return f"There is no language set {_name(name)} to remove.{known}"


def flag_saved(user: str, emoji: str, name: str, codes: Sequence[str]) -> str:
    return (
        f":gear: <@{user}> set {_emoji(emoji)} to translate a message into the set "
        f"{_name(name)} ({_codes(codes)})."
    )


def flag_removed(user: str, emoji: str) -> str:
    return f":gear: <@{user}> took {_emoji(emoji)} off its language set."


def no_flag_to_remove(emoji: str) -> str:
    return f"{_emoji(emoji)} translates into no language set here, so there was nothing to remove."
