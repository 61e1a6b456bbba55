"""The sandbox shows the glossary (issue 21 item 5): a protected term and a fixed one,
a text that keeps the term, a bundled image that breaks the glossary (marked, with
Refine) and one that does not (no note), and the export as a CSV file."""

from __future__ import annotations

import io
from pathlib import Path

from sandbox.run import running_sandbox
from tests.sandbox.test_workspaces_console import after, script


async def test_a_glossary_held_in_text_and_checked_in_images(tmp_path: Path) -> None:
    out = io.StringIO()
    data = tmp_path / "sandbox"
    async with running_sandbox(data=data, out=out) as sandbox:
        await sandbox.console.run(
            script(
                '/tolk glossary add "Tolk Pro"',
                "/tolk glossary add 象寄 = Xiangji",
                "/translate zh>ja Tolk Pro 新品上市",
                "/tolk config auto-images on zh>ja",
                "upload brand-violation.png",
                "wait",
                "upload brand-ok.png",
                "wait",
                "/tolk glossary export",
            )
        )
        saved = [p.name for p in (data / "files").iterdir()]
    transcript = out.getvalue()
    assert "[JPN] Tolk Pro 新品上市" in after(transcript, "/translate zh>ja Tolk Pro 新品上市")
    # what landed between the two uploads (while the first uploaded, or during `wait`)
    marked = transcript.split("> upload brand-violation.png\n")[1].split("> upload brand-ok")[0]
    assert "⚠ brand term 'Tolk Pro' changed to" in marked and "region 134,0,1066,249" in marked
    assert "breaks the glossary" in marked and "[Refine]" in marked
    clean = transcript.rsplit("> upload brand-ok.png\n", 1)[1]
    assert "⚠" not in clean.split("> /tolk glossary export")[0]
    assert any(name.endswith("glossary.csv") for name in saved)
