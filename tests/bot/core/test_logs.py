"""RedactSecrets: no configured secret reaches a log line."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable, Iterator

import pytest

from bot.core.logs import RedactSecrets

TOKEN = "xoxb-1234-SECRET-token"
KEY = "xj-user-key-5678"
SHORT = "abc"

Emit = Callable[[], str]


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger writing formatted lines to a buffer, through RedactSecrets."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecrets([TOKEN, KEY, SHORT, ""]))
    log = logging.getLogger(f"test.logs.{uuid.uuid4().hex}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    yield log, out
    log.removeHandler(handler)


def test_secret_in_the_message_is_redacted(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    log.info(f"calling Slack with {TOKEN} now")
    assert out.getvalue() == "INFO calling Slack with [redacted] now\n"


def test_secret_in_args_is_redacted(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    log.warning("token=%s key=%r n=%d", TOKEN, KEY, 3)
    assert out.getvalue() == "WARNING token=[redacted] key='[redacted]' n=3\n"


def test_secret_inside_a_formatted_object_is_redacted(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = logger
    log.info("request %s", {"params": {"UserKey": KEY, "Url": "https://x/a.jpg"}})
    text = out.getvalue()
    assert KEY not in text
    assert "'UserKey': '[redacted]'" in text
    assert "https://x/a.jpg" in text


def test_every_secret_is_redacted(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    log.error("%s and %s and %s again", TOKEN, KEY, TOKEN)
    assert out.getvalue() == "ERROR [redacted] and [redacted] and [redacted] again\n"


def test_secret_in_exception_text_is_redacted(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    try:
        raise RuntimeError(f"auth failed for {KEY} with {TOKEN}")
    except RuntimeError:
        log.exception("provider call failed")
    text = out.getvalue()
    assert text.startswith("ERROR provider call failed\nTraceback")
    assert "RuntimeError: auth failed for [redacted] with [redacted]" in text
    assert KEY not in text
    assert TOKEN not in text


def test_exc_info_with_secret_in_message_and_exception(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = logger
    try:
        raise ValueError(TOKEN)
    except ValueError as exc:
        log.error("failed with %s", exc, exc_info=True)
    text = out.getvalue()
    assert TOKEN not in text
    assert text.count("[redacted]") == 2


def test_lines_without_secrets_are_untouched(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    log.info("task %s polled %d times", "T7Q2K", 4)
    assert out.getvalue() == "INFO task T7Q2K polled 4 times\n"


def test_short_secrets_are_ignored(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    log.info("abc is the alphabet, abcdef too")
    assert out.getvalue() == "INFO abc is the alphabet, abcdef too\n"


def test_four_characters_is_long_enough() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RedactSecrets(["wxyz", "xyz"]))
    log = logging.getLogger(f"test.logs.{uuid.uuid4().hex}")
    log.propagate = False
    log.addHandler(handler)
    log.warning("wxyz xyz")
    assert out.getvalue() == "[redacted] xyz\n"


def test_longer_secret_is_redacted_before_its_prefix() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", ("secret-long-value",), None)
    assert RedactSecrets(["secret", "secret-long-value"]).filter(record) is True
    assert record.getMessage() == "[redacted]"


def test_filter_never_drops_a_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", None, None)
    assert RedactSecrets([TOKEN]).filter(record) is True
    assert RedactSecrets([]).filter(record) is True
    assert record.getMessage() == "plain"


def test_as_a_logger_filter_too() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger(f"test.logs.{uuid.uuid4().hex}")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addFilter(RedactSecrets([TOKEN]))
    log.addHandler(handler)
    log.info("Bearer %s", TOKEN)
    assert out.getvalue() == "Bearer [redacted]\n"


@pytest.mark.parametrize(
    "token",
    [
        "xoxb-T0BETA-17-9f8e7d6c5b4a",  # a workspace's bot token, configured nowhere
        "xoxe.xoxb-1-T0BETA-17-9f8e7d6c5b4a",  # a rotating one
        "xoxe-1-3f2a9b8c7d6e5f4a",  # its refresh token
        "xapp-1-A0-17-9f8e7d6c",
    ],
)
def test_a_token_nobody_configured_is_redacted_by_its_shape(
    logger: tuple[logging.Logger, io.StringIO], token: str
) -> None:
    log, out = logger
    log.debug("oauth.v2.access answered {'access_token': '%s', 'ok': True}", token)
    assert token not in out.getvalue() and "[redacted]" in out.getvalue()
    assert "'ok': True" in out.getvalue()  # the rest of the line stays readable
