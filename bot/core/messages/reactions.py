"""Messages translated from a flag reaction, the Translate… shortcut or an upload:
why a message, or one of its files, was not translated. Plain text: the message that shows
a reason escapes it.
"""

from __future__ import annotations


def cannot_tell_language() -> str:
    return "could not tell the text's language; set `/tolk config defaults zh>en` or use the Translate… shortcut to name it"


def nothing_to_translate() -> str:
    return "That message has no text or images to translate."


def file_too_large(name: str, limit: int) -> str:
    return f"{name} is larger than {limit // (1024 * 1024)} MB"


def not_an_image(name: str) -> str:
    return f"{name} is not a PNG, JPEG, GIF or BMP image"


def not_a_slack_file(name: str) -> str:
    return f"{name} is not stored in Slack"


def too_many_files(limit: int) -> str:
    return f"one message can carry up to {limit} images; post the rest in another message"


def flag_documents_skipped(reason: str) -> str:
    return f"The documents in that message were not translated: {reason}"


def flag_documents_need_source(target: str) -> str:
    return (
        "Alibaba needs the documents' language to translate them into "
        f"`{target}`: set it for this channel with `/tolk config defaults SRC>{target}` "
        f"(e.g. `{'zh' if target == 'en' else 'en'}>{target}`), or use the Translate… shortcut "
        "on the message and pick it there."
    )
