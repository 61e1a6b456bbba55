"""``python -m bot`` / ``tolk``: load ``.env``, read settings, run.

With no Slack credentials at all this starts the sandbox; ``python -m bot sandbox
[--script FILE]`` (or ``SANDBOX_SCRIPT=FILE``) starts it explicitly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from dotenv import load_dotenv

from bot.config import ConfigError, Mode, load_settings
from bot.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tolk", description="Tolk, the localisation bot.")
    parser.add_argument("mode", nargs="?", choices=["sandbox"], help="run the local sandbox")
    parser.add_argument("--script", type=Path, help="sandbox: run these console lines and exit")
    args = parser.parse_args(argv)
    load_dotenv(".env")
    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    script = args.script or (Path(s) if (s := os.environ.get("SANDBOX_SCRIPT")) else None)
    if args.mode == "sandbox" or settings.mode is Mode.SANDBOX:
        if script is not None and not script.is_file():
            print(f"No sandbox script at {script}", file=sys.stderr)
            return 2
        from bot.sandbox.run import run_sandbox

        setup_logging(level=os.environ.get("TOLK_LOG_LEVEL", "WARNING"))
        return asyncio.run(
            run_sandbox(script=script, port=int(settings.port if os.environ.get("PORT") else 0))
        )
    setup_logging(secrets=settings.secrets)
    from bot.runtime import run_until_stopped

    asyncio.run(run_until_stopped(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
