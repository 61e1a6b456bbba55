"""A catalogue of 1,000 rows into 4 languages (4,000 results) against the emulators.

- wall time from the upload to the closing message, as a ratio to its floor: the time
  Xiangji's submission limit alone needs for the batches (one per language and ``CHUNK``
  rows), computed for this run. The limit is held at 2 a second here
  (``TOLK_XIANGJI_SUBMIT_PER_SECOND``, the default when this figure was set): the figure
  is how well status reads, downloads and ZIPs overlap the submissions, which a faster
  limit would hide;
- status calls per 20 results (target ≤ 1);
- peak RSS of this process — Tolk *and* the emulators, so an upper bound (target < 200 MB);
- ZIPs and manifest in the thread, each once.

Run alone with ``python -m bench.catalogue``; ``make bench`` includes it.
"""

from __future__ import annotations

import asyncio
import math
import resource
import tempfile
import time

from bench.harness import BOT_TOKEN, SIGNING_SECRET
from bot.config import load_settings
from bot.core.languages import lookup, provider_code
from bot.core.tasks import Item, Place
from bot.engine.operations.catalogue import CHUNK, OPERATION
from bot.engine.ratelimit import provider_limits
from bot.runtime import serving
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.wiring import emulator_env

SUBMIT = 2.0  # Xiangji submissions a second for this figure (see the docstring)

ROWS = 1_000
LANGS = {lang: provider_code(lookup(lang), "xiangji") for lang in ("th", "vi", "id", "ms")}
CHANNEL, USER = "C0GENERAL", "U0ALICE"


async def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            SlackEmulator(bot_token=BOT_TOKEN) as slack,
            XiangjiEmulator(render=False, pending_polls=1) as xiangji,
        ):
            env = emulator_env(
                slack,
                xiangji,
                signing_secret=SIGNING_SECRET,
                database_url=f"sqlite:///{tmp}/tolk.sqlite",
            )
            env |= {
                "TOLK_POLL_MIN_SECONDS": "1",
                "TOLK_POLL_MAX_SECONDS": "2",
                "TOLK_XIANGJI_SUBMIT_PER_SECOND": f"{SUBMIT:g}",
            }
            lines = ["sku,image"] + [
                f"SKU{n:04d},{xiangji.sample_url(f'SKU{n:04d}_main_01')}" for n in range(ROWS)
            ]
            data = ("\n".join(lines) + "\n").encode()
            async with serving(load_settings(env), host="127.0.0.1") as (services, _):
                started = time.perf_counter()
                message = slack.post_user_message(
                    CHANNEL, USER, "", files=[("catalogue.csv", data, "text/csv")]
                )
                file = message["files"][0]
                targets = [{"lang": lang, "code": code} for lang, code in LANGS.items()]
                task, _ = await services.desk.record(
                    dedupe_key="bench-catalogue",
                    place=Place(slack.team_id, CHANNEL, USER),
                    provider="xiangji",
                    operation=OPERATION,
                    request={
                        "source": "zh",
                        "source_code": "CHS",
                        "target": targets[0]["lang"],
                        "target_code": targets[0]["code"],
                        "targets": targets,
                        "engine": "aliyun",
                        "name": "catalogue.csv",
                    },
                    items=(
                        Item(
                            source=file["url_private"],
                            meta={
                                "kind": "slack-file",
                                "file_id": file["id"],
                                "name": "catalogue.csv",
                            },
                        ),
                    ),
                )
                while True:
                    stored = await services.store.get(task.id)
                    if stored is not None and stored.settled:
                        break
                    await asyncio.sleep(0.05)
                wall = time.perf_counter() - started
            names = [f.name for f in slack.files.values() if f.name.startswith("catalogue-")]
            status = len(xiangji.requests_for("GetImageTranslateBatchResult"))
    rate, burst = provider_limits(SUBMIT)["xiangji.submit"]
    batches = len(LANGS) * math.ceil(ROWS / CHUNK)
    floor = max(0, batches - burst) / rate
    return {
        "wall": wall,
        "floor": floor,
        "status_per_20": status / (ROWS * len(LANGS) / 20),
        "files": len(names),
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def rows() -> list[tuple[str, str, str, bool]]:
    got = await run()
    results = ROWS * len(LANGS)
    ratio = got["wall"] / got["floor"]
    return [
        (
            f"catalogue {ROWS:,} rows × {len(LANGS)} languages: wall time",
            f"{got['wall']:.1f} s = {ratio:.2f}× the submission floor ({got['floor']:.1f} s)",
            "≤ 1.2×",
            ratio <= 1.2,
        ),
        (
            "catalogue: status calls per 20 results",
            f"{got['status_per_20']:.2f} ({results:,} results)",
            "≤ 1",
            got["status_per_20"] <= 1,
        ),
        (
            "catalogue: peak RSS (Tolk and the emulators)",
            f"{got['rss']:.0f} MB; {got['files']:.0f} files in the thread",
            "< 200 MB",
            got["rss"] < 200,
        ),
    ]


async def main() -> None:
    for measure, value, target, met in await rows():
        print(f"{measure:<52} {value:<45} {target}{' ✓' if met else ' ✗ not met'}")


if __name__ == "__main__":
    asyncio.run(main())
