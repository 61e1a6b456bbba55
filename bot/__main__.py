"""``python -m bot`` / ``tolk``: load ``.env``, read settings, run."""

from __future__ import annotations

import asyncio
import os
import sys

from dotenv import load_dotenv

from bot import messages
from bot.config import ConfigError, Mode, load_settings
from bot.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    load_dotenv(".env")
    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(secrets=settings.secrets)
    if settings.mode is Mode.SANDBOX:
        missing = [v for v in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET or SLACK_APP_TOKEN")]
        print(messages.MISSING_SLACK.format(missing=", ".join(missing)), file=sys.stderr)
        return 2
    from bot.runtime import run_until_stopped

    asyncio.run(run_until_stopped(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
