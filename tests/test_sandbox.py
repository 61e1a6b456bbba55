"""The sandbox as a newcomer meets it: ``python -m bot`` with no credentials at all,
fed from a script file and from a pipe; assertions on the printed transcript."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bot(
    tmp_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no .env here: no Slack credentials
        env=env,
        timeout=120,
    )


def test_piped_session_shows_translation_and_uploaded_file(tmp_path):
    script = "/translate zh>en 你好\n/translate-image zh>ko https://example.com/a.jpg\nwait\nquit\n"
    result = run_bot(tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0].startswith("Tolk sandbox:") and "SLACK_BOT_TOKEN" in out
    assert "[#general] Tolk: Hello" in out
    match = re.search(r"↳ file: (a-ko-T\w+-1\.png) \(([\d.]+) KB\) → saved to (\S+)", out)
    assert match, out
    saved = tmp_path / match.group(3)
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert "Done — 1 image translated" in out


def test_scripted_session_covers_every_command(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    script = tmp_path / "session.txt"
    script.write_text(
        "\n".join(
            [
                "# a comment is skipped",
                "/tolk help",
                "/translate ja 你好 --private",
                "/translate-image zh>ko https://example.com/a.jpg https://example.com/b.jpg"
                " --removed",
                "/cutout https://example.com/c.png --bg 255,255,255",
                "/translate-image zh>ko not-a-url",
                "wait",
                "/tolk tasks",
                f"upload {photo}",
                "react :flag-kr: LAST",
                "frobnicate",
                "quit",
            ]
        )
    )
    result = run_bot(tmp_path, "sandbox", "--script", str(script))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "/cutout https://example.com/a.png --bg 255,255,255" in out  # /tolk help
    assert "(only you) Tolk: こんにちは" in out  # --private answer
    files = re.findall(r"↳ file: (\S+)", out)
    assert len([f for f in files if "-removed-" in f]) == 2
    assert len([f for f in files if "-cutout-" in f]) == 1
    assert len([f for f in files if f.startswith("photo-ko-")]) == 1  # the flag on the upload
    assert len(files) == 6
    assert "2 of 2 done" in out  # the parent's progress line
    assert "is not a web address" in out
    assert "No pending tasks in this channel." in out
    assert "you shared photo.png" in out
    assert "unknown console command 'frobnicate'" in out
    assert "Traceback" not in result.stderr


def test_sandbox_translates_documents_and_runs_media_jobs(tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Release\n\nFaster uploads.\n", encoding="utf-8")
    script = (
        "/translate-doc en>ja https://example.com/guide.docx\n"
        "/translate-image zh>en https://example.com/p.png --provider alibaba\n"
        "/tolk config auto-docs on en>de\n"
        f"upload {notes}\n"
        '/media-job ImageCartoonize oss://media/cat.jpg {"Model": "3d"}\n'
        "wait\nmetrics\nquit\n"
    )
    result = run_bot(tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    files = dict(re.findall(r"↳ file: (\S+) \([\d.]+ K?B\) → saved to (\S+)", out))
    assert set(files) >= {"guide-ja.docx", "notes-de.md"}, out
    translated = (tmp_path / files["notes-de.md"]).read_text(encoding="utf-8")
    assert "[de]" in translated and "Faster uploads." in translated
    assert any(name.startswith("p-en-") for name in files)
    assert out.count("Done — 1 document translated") == 2
    assert "ImageCartoonize finished — 2 files" in out
    assert 'tolk_tasks_finished_total{operation="mts.iproduction",state="delivered"} 1.0' in out
    assert "Traceback" not in result.stderr


def test_the_sandbox_prints_a_refine_link_a_browser_can_open(tmp_path):
    """Press Refine from the console, then open the printed link while the sandbox runs:
    the page embeds the emulator's stand-in editor."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert bot.stdin is not None and bot.stdout is not None
        bot.stdin.write(
            "refine\n/translate-image zh>ko https://example.com/shoe.jpg\nwait\nrefine\n"
        )
        bot.stdin.flush()
        seen: list[str] = []
        link = None
        deadline = time.monotonic() + 60
        while link is None and time.monotonic() < deadline:
            line = bot.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
            link = next(iter(re.findall(r"http://127\.0\.0\.1:\d+/refine/\S+", line)), None)
        assert link, "".join(seen)
        with urllib.request.urlopen(link, timeout=10) as resp:
            page = resp.read().decode()
        assert "/image-editor/#/?" in page and "shoe.jpg" in page
        out = "".join(seen)
        assert "no image result to refine yet" in out  # `refine` before there is one
        assert "[Refine] type `refine`" in out
        bot.stdin.write("quit\n")
        bot.stdin.flush()
        assert bot.wait(timeout=60) == 0
    finally:
        if bot.poll() is None:
            bot.kill()
        bot.communicate()
