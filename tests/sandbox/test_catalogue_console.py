"""The sandbox shows issue 20: a language set, the bundled catalogue uploaded with
`/translate-image zh>sea` (one ZIP per language and a manifest back in its thread, saved
under the sandbox's files), and an estimate to confirm before a larger one starts."""

from __future__ import annotations

import io
from pathlib import Path

from sandbox.run import running_sandbox
from tests.sandbox.test_workspaces_console import after, script

UPLOAD = "upload catalogue.csv /translate-image zh>sea"


async def test_a_set_the_bundled_catalogue_round_trip_and_an_estimate(tmp_path: Path) -> None:
    out = io.StringIO()
    data = tmp_path / "sandbox"
    async with running_sandbox(data=data, out=out) as sandbox:
        await sandbox.console.run(script("/tolk config set sea ko,ja", UPLOAD, "wait"))
        saved = [p.name for p in (data / "files").iterdir()]
        for suffix in ("catalogue-ko.zip", "catalogue-ja.zip", "catalogue-manifest.csv"):
            assert sum(n.endswith(suffix) for n in saved) == 1, suffix

        await sandbox.console.run(script("/tolk config confirm-over 10", UPLOAD, "wait"))
        replies = [
            r
            for m in sandbox.slack.messages("C0GENERAL")
            for r in sandbox.slack.thread("C0GENERAL", m["ts"])
        ]
        assert any("Before this starts" in r.get("text", "") for r in replies)
        zips = [p.name for p in (data / "files").iterdir() if p.name.endswith(".zip")]
        assert len(zips) == 2  # nothing more before Go
    transcript = out.getvalue()
    assert "made the language set `sea`" in after(transcript, "/tolk config set sea ko,ja")
    assert "Catalogue `catalogue.csv` done" in transcript
