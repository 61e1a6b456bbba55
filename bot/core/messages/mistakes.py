"""What people type: the mistakes seen in trials, each quoted back (one line, no
backticks) with the command as it should have been written.
"""

from __future__ import annotations

from bot.core.messages._common import typed


def pair_suggestion(written: str, why: str, corrected: str, usage: str, note: str = "") -> str:
    """``written``: the languages as typed; ``why``: ``two`` (two languages, no ``>``) or
    ``spaced`` (spaces around ``>``); ``corrected``: the whole command as it should be."""
    problem = (
        f"`{typed(written, 60)}` has spaces around `>`."
        if why == "spaced"
        else f"`{typed(written, 60)}` names two languages without a `>` between them."
    )
    return (
        f"{problem} Did you mean `{typed(corrected)}`? Write the source, `>` and the target "
        f"with no spaces, like `zh>en`.{note}\n{usage}"
    )


def pair_suggestion_text_note(word: str, corrected: str) -> str:
    return (
        f" If `{typed(word, 40)}` is part of the text, name the text's language first: "
        f"`{typed(corrected)}`."
    )


def unknown_option_near(token: str, suggestion: str, usage: str) -> str:
    return f"Unknown option `{typed(token, 60)}` — did you mean `{suggestion}`?\n{usage}"


def option_in_text(token: str, usage: str) -> str:
    return (
        f"Unknown option `{typed(token, 60)}`. To translate a word that starts with `--`, "
        f"put it in backticks (`` `{typed(token, 60)}` ``).\n{usage}"
    )


def option_takes_no_value(token: str, name: str, usage: str) -> str:
    return f"`{typed(token, 60)}`: `--{name}` takes no value; write just `--{name}`.\n{usage}"


def takes_no_options(what: str, token: str, usage: str) -> str:
    return f"`{what}` takes no options such as `{typed(token, 60)}`.\n{usage}"
