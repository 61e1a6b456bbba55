"""``python -m bot`` / ``tolk``: load ``.env``, read settings, run.

With no Slack credentials at all this starts the sandbox; ``python -m bot sandbox
[--script FILE]`` (or ``SANDBOX_SCRIPT=FILE``) starts it whatever ``.env`` holds. Some
Slack credentials but not a working set is a configuration error naming the missing one.
Exit status: 0 after SIGTERM/SIGINT, 2 for a configuration or start-up error (one line
on stderr, e.g. a token Slack refuses). On SIGTERM/SIGINT Tolk takes no new work and
gives the steps under way ``TOLK_SHUTDOWN_GRACE`` seconds (default 20) to finish.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from dotenv import load_dotenv

from bot.config import SLACK_CREDENTIALS, ConfigError, Mode, load_settings
from bot.core.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tolk", description="Tolk, the localisation bot.")
    parser.add_argument("mode", nargs="?", choices=["sandbox"], help="run the local sandbox")
    parser.add_argument("--script", type=Path, help="sandbox: run these console lines and exit")
    args = parser.parse_args(argv)
    load_dotenv(".env")
    env = dict(os.environ)
    script = args.script or (Path(s) if (s := env.get("SANDBOX_SCRIPT", "").strip()) else None)
    sandbox = args.mode == "sandbox" or script is not None
    if sandbox:  # the sandbox brings its own Slack: the credentials do not matter
        env = {k: v for k, v in env.items() if k not in SLACK_CREDENTIALS}
    try:
        settings = load_settings(env)
        grace = shutdown_grace(env)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    if sandbox or settings.mode is Mode.SANDBOX:
        if script is not None and not script.is_file():
            print(f"No sandbox script at {script}", file=sys.stderr)
            return 2
        from sandbox.run import run_sandbox

        setup_logging(level=os.environ.get("TOLK_LOG_LEVEL", "WARNING"))
        try:
            return asyncio.run(
                run_sandbox(script=script, port=int(settings.port if env.get("PORT") else 0))
            )
        except KeyboardInterrupt:  # Ctrl-C in the console: the same as `quit`
            return 0
    # The settings hold the credentials now. Left in the environment, Bolt would read them
    # behind Tolk's back: a warning about SLACK_BOT_TOKEN at every start, and its own OAuth
    # flow (and file installation store) as soon as SLACK_CLIENT_ID/SECRET are set.
    for name in SLACK_CREDENTIALS:
        os.environ.pop(name, None)
    setup_logging(secrets=settings.secrets)
    from bot.runtime import SHUTDOWN_GRACE, run_until_stopped
    from bot.socket_mode import StartupError

    try:
        grace = SHUTDOWN_GRACE if grace is None else grace
        asyncio.run(run_until_stopped(settings, grace=grace))
    except StartupError as exc:
        print(f"Tolk cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def shutdown_grace(env: Mapping[str, str]) -> float | None:
    """``TOLK_SHUTDOWN_GRACE``: seconds the steps under way get to finish after SIGTERM
    (None when unset: ``bot.runtime.SHUTDOWN_GRACE``)."""
    raw = env.get("TOLK_SHUTDOWN_GRACE", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(f"TOLK_SHUTDOWN_GRACE must be a number, got {raw!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"TOLK_SHUTDOWN_GRACE must be 0 or more seconds, got {raw!r}")
    return seconds


if __name__ == "__main__":
    sys.exit(main())
