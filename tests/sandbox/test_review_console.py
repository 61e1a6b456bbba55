"""The sandbox shows review (issue 21 item 4): review on, two images, a card each, one
approved and one rejected from the console, and the one final message with both."""

from __future__ import annotations

import io
from pathlib import Path

from sandbox.run import running_sandbox
from tests.sandbox.test_workspaces_console import script

IMAGES = "/translate-image zh>ko https://example.com/a.jpg https://example.com/b.jpg"


async def test_a_review_round_from_the_console(tmp_path: Path) -> None:
    out = io.StringIO()
    async with running_sandbox(data=tmp_path / "sandbox", out=out) as sandbox:
        await sandbox.console.run(script("/tolk config review on", IMAGES, "wait"))
        waiting = out.getvalue()
        assert waiting.count("type `approve` or `reject`") == 2
        assert "0 of 2 approved" in waiting
        assert "*Review:*" not in waiting  # `wait` returns while results wait for people
        await sandbox.console.run(script("approve", "reject", "wait", "approve"))
    transcript = out.getvalue()
    decided = transcript.split("> approve\n")[1]  # the cards' edits land as they come
    assert "Approved — 1 of 2 · a.jpg" in decided and "Rejected — 2 of 2 · b.jpg" in decided
    assert "*Review:* 1 of 2 approved." in transcript
    last = transcript.rsplit("> approve\n", 1)[1]  # nothing is left to decide
    assert "no result waits for review here" in last
