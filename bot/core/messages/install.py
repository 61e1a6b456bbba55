"""The install pages' words (``bot/install.py``: ``/slack/install`` and
``/slack/oauth_redirect``): web pages, not Slack messages."""

from __future__ import annotations

INSTALLED_TITLE = "Tolk is installed"
FAILED_TITLE = "Tolk was not installed"
START_AGAIN = "Start again"
OPEN_SLACK = "Open Slack"
OPEN_IN_BROWSER = "open it in the browser"


def installed_text(where: str) -> str:
    return f"Tolk is installed in {where}. Type /tolk help in any channel to begin."


_CREDENTIALS = (
    "Slack refused Tolk's app credentials ({code}): whoever runs Tolk must check "
    "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET."
)
# reason → (HTTP status, sentence); ``{code}`` is Slack's error code.
_FAILURES: dict[str, tuple[int, str]] = {
    "access_denied": (200, "The install was cancelled on Slack's page; nothing was installed."),
    "invalid_browser": (
        400,
        "This install link was opened in another browser than the one that started the "
        "install (or cookies are blocked). Start again in this browser.",
    ),
    "state_expired": (
        400,
        "This install link has expired: it is good for {minutes} minutes. Start again.",
    ),
    "state_used": (400, "This install link was used already: each one works once. Start again."),
    "state_unknown": (400, "This install link did not come from Tolk. Start again from Tolk."),
    "missing_code": (400, "Slack's redirect brought no install code. Start again."),
    "invalid_code": (
        400,
        "Slack did not accept the install code (invalid_code): it was used already or is "
        "more than 10 minutes old. Start again.",
    ),
    "bad_client_secret": (502, _CREDENTIALS),
    "invalid_client_id": (502, _CREDENTIALS),
    "bad_redirect_uri": (
        502,
        "Slack refused the redirect URL (bad_redirect_uri): whoever runs Tolk must add "
        "{redirect} to the app's Redirect URLs.",
    ),
    "slack_unreachable": (502, "Tolk could not reach Slack to finish the install. Start again."),
    "storage_error": (
        500,
        "Tolk could not store the installation. Start again; if it fails again, tell "
        "whoever runs Tolk.",
    ),
}
_OTHER_SLACK_ERROR = (502, "Slack refused the install ({code}). Start again.")


def install_failure(reason: str, *, minutes: int, redirect: str) -> tuple[int, str]:
    """The status and sentence of a failed install (an unknown ``reason``: Slack's code)."""
    status, text = _FAILURES.get(reason, _OTHER_SLACK_ERROR)
    return status, text.format(code=reason, minutes=minutes, redirect=redirect)
