"""Files Tolk will not or cannot fetch: hosts it does not download from, and Slack
files given by link (issue 16: the bot token opens only what the person can see).
"""

from __future__ import annotations

from bot.core.messages._common import typed


def download_failed(reason: str) -> str:
    """Plain text (an item's error): escaped where it is shown."""
    return f"the file could not be fetched: {reason}"


def download_refused(url: str) -> str:
    host = url.split("/")[2] if "//" in url else url
    return f"the result URL's host is not allowed for downloads ({host})"


def url_refused(url: str) -> str:
    host = url.split("//", 1)[-1].split("/", 1)[0]  # plain text (an item's error)
    return (
        f"Tolk does not fetch files from {host}: it is not a public address. Share the file "
        "in Slack instead, or ask an admin to add the host to `TOLK_ALLOWED_FILE_HOSTS`."
    )


def slack_file_not_visible() -> str:
    return (
        "That Slack file is not visible here: it is not shared in this conversation, and it "
        "is not yours, so Tolk will not open it for you. To translate it, share it in this "
        "channel (or upload it here) and give that link again — or react to its message "
        "with a flag, or use the Translate… shortcut on it."
    )


def slack_file_unchecked() -> str:
    return (
        "Tolk could not check with Slack just now whether that file is shared here, so it "
        "did not take it. Try again in a moment."
    )


def slack_address_not_a_file(url: str) -> str:
    return (
        f"`{typed(url, 100)}` is a Slack address, not a Slack file: Tolk opens only a "
        "file's own link (`https://files.slack.com/files-pri/…`), never other Slack pages "
        "or Slack's API. To translate a file from Slack, share it in this channel or upload "
        "it here, and give its link."
    )


def slack_address_not_an_image(url: str) -> str:
    return (
        f"`{typed(url, 100)}` is a Slack address, not a public image link: Tolk does not "
        "send Slack links to the image service. For an image posted in Slack, react to its "
        "message with a flag or use the Translate… shortcut on it."
    )
