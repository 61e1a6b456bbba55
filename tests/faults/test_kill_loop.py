"""SIGKILL in a loop: ``python -m bot`` is killed at random moments, over and over, while
several image batches (Xiangji) and documents (Alibaba) are in flight, and started again
on the same SQLite file each time. New work keeps arriving between kills, so most kills
land while something is being submitted, polled, downloaded or uploaded.

Afterwards every image and document is in its thread exactly once, every task has one
parent and one final message, and nothing was submitted twice — except where the
provider has no idempotency token: a kill after Xiangji accepted a batch but before
Tolk saved its answer sends that batch again (README, "Task guarantees"); each such
repeat must have a restart between it and the submission before it. Alibaba documents carry
a ClientToken, so each document is one Alibaba task however often it was sent."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from urllib.parse import unquote

import aiohttp

from emulators.alibaba import AlibabaMTEmulator
from emulators.signed import command_body, post_signed
from sandbox.wiring import emulator_env
from tests.conftest import SIGNING_SECRET
from tests.faults.support import final_text, finals, no_duplicates, parent_of, thread_files
from tests.test_commands_e2e import task_id_in
from tests.test_restart_kill import BotProcess, free_port

KILLS = 25
WORK_UNTIL_KILL = 21  # new commands arrive after each of the first kills
SEED = 8  # the kill moments are random but repeatable


def life(rng: random.Random, round_: int) -> float:
    """How long a process runs after its start (and its commands) before the SIGKILL:
    every third one is killed at once, while the new work is being submitted."""
    return rng.choice((0.0, 0.01, 0.03)) if round_ % 3 == 0 else rng.uniform(0.05, 0.6)


class Work:
    """The commands sent and what each must produce."""

    def __init__(self, xiangji, alibaba) -> None:
        self.xiangji, self.alibaba = xiangji, alibaba
        self.images: dict[str, tuple[str, int]] = {}  # task → (url prefix, count)
        self.docs: dict[str, str] = {}  # task → document name

    def commands(self, round_: int) -> list[tuple[str, str]]:
        n = 3 + round_ % 4
        prefix = f"k{round_:02d}i"
        urls = " ".join(self.xiangji.sample_url(f"{prefix}{i}") for i in range(n))
        doc = f"d{round_:02d}.txt"
        return [
            ("/translate-image", f"zh>ko {urls}"),
            ("/translate-doc", f"en>ja {self.alibaba.sample_doc_url(doc)}"),
        ]

    def record(self, command: str, text: str, body: str) -> None:
        task_id = task_id_in(body)
        if command == "/translate-image":
            names = [u.rsplit("/", 1)[-1] for u in text.split()[1:]]
            self.images[task_id] = (names[0].rsplit("i", 1)[0] + "i", len(names))
        else:
            self.docs[task_id] = text.rsplit("/", 1)[-1]

    def expected_files(self) -> dict[str, list[str]]:
        files = {
            t: [f"{prefix}{i}-ko-{t}-{i + 1}.png" for i in range(n)]
            for t, (prefix, n) in self.images.items()
        }
        return files | {t: [name.replace(".txt", "-ja.txt")] for t, name in self.docs.items()}

    def all_finished(self, slack) -> bool:
        return all(finals(slack, t) for t in [*self.images, *self.docs])

    def unfinished(self, slack) -> int:
        return sum(1 for t in [*self.images, *self.docs] if not finals(slack, t))


async def test_sigkill_in_a_loop_during_busy_batches(slack, xiangji, tmp_path):
    rng = random.Random(SEED)
    slack.latency["upload"] = 0.04  # uploads take a while: kills land inside them
    xiangji.pending_polls = 2
    async with AlibabaMTEmulator(doc_seconds=0.8) as alibaba, aiohttp.ClientSession() as session:
        env = emulator_env(
            slack,
            xiangji,
            alibaba=alibaba,  # no public URL: Alibaba's answer is found by polling
            signing_secret=SIGNING_SECRET,
            database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
        )
        env |= {
            "PORT": str(free_port()),
            "TOLK_POLL_MIN_SECONDS": "0.1",
            "TOLK_POLL_MAX_SECONDS": "0.4",
        }
        events = f"http://127.0.0.1:{env['PORT']}/slack/events"
        bot = BotProcess(env, tmp_path / "bot.log")
        work = Work(xiangji, alibaba)
        kills: list[float] = []  # when each SIGKILL was sent
        launches: list[float] = []  # when each process was started
        busy_kills = 0  # kills while some task had no final message yet
        started = time.monotonic()
        try:
            for round_ in range(KILLS):
                launches.append(time.time())
                await bot.start(session)
                if round_ < WORK_UNTIL_KILL:
                    for command, text in work.commands(round_):
                        status, body = await post_signed(
                            session, events, SIGNING_SECRET, command_body(command, text)
                        )
                        assert status == 200, body
                        work.record(command, text, body)
                await asyncio.sleep(life(rng, round_))
                busy_kills += not work.all_finished(slack)
                kills.append(time.time())
                bot.kill()
                await asyncio.sleep(0.1)  # the emulators take in what it had sent
            launches.append(time.time())
            await bot.start(session)
            await slack.wait_for(lambda: work.all_finished(slack), timeout=40)
            await asyncio.sleep(0.5)  # anything posted twice would arrive now
        finally:
            bot.stop()
        elapsed = time.monotonic() - started

    # Every result once, in its own thread; one parent and one final message per task.
    expected = work.expected_files()
    for task_id, names in expected.items():
        parent_of(slack, task_id)
        assert sorted(thread_files(slack, task_id)) == sorted(names), task_id
        text = final_text(slack, task_id)
        assert "Done" in text and "Not translated" not in text, text
    uploaded = Counter(f.name for f in slack.files.values())
    assert sorted(uploaded) == sorted(n for names in expected.values() for n in names)
    no_duplicates(slack)

    # One Alibaba task per document, however often it was sent (same ClientToken).
    assert len(alibaba.docs) == len(work.docs)
    tokens = Counter(
        r.params["ClientToken"] for r in alibaba.requests_for("CreateDocTranslateTask")
    )
    assert set(tokens) == {f"tolk-{t}-0" for t in work.docs}

    # Xiangji: one batch per task, unless the process was killed and started again between
    # two submissions of it. (The emulator runs in this test's event loop, so it records a
    # batch sent just before a kill just after it: hence the pause after each kill.)
    submissions = xiangji.requests_for("GetImageTranslateBatch")
    repeats = 0
    for task_id, (prefix, _) in work.images.items():
        times = [r.at for r in submissions if f"/{prefix}0.png" in unquote(r.params["Urls"])]
        assert times, task_id
        for earlier, later in itertools.pairwise(times):
            assert any(earlier < t < later for t in launches), (task_id, times)
            repeats += 1

    log = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in log and " ERROR " not in log
    assert len(kills) >= 20 and busy_kills >= 20, (len(kills), busy_kills)
    results = sum(uploaded.values())
    duplicates = sum(c - 1 for c in uploaded.values())
    print(
        f"\nkill loop: {len(kills)} SIGKILLs ({busy_kills} with work in flight), "
        f"{len(expected)} tasks ({len(work.images)} image batches, {len(work.docs)} documents), "
        f"{results} results, {duplicates} duplicates, {repeats} repeated Xiangji submissions, "
        f"{len(alibaba.requests_for('CreateDocTranslateTask'))} Alibaba creates for "
        f"{len(alibaba.docs)} documents, {elapsed:.1f} s"
    )
