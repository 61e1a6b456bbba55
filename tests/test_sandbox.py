"""The sandbox as a newcomer meets it: ``python -m bot`` with no credentials at all,
fed from a script file and from a pipe; assertions on the printed transcript."""

from __future__ import annotations

import fcntl
import os
import re
import select
import subprocess
import sys
import termios
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


def test_the_sandbox_shows_a_long_translation_whole_and_an_uninvited_channel(tmp_path):
    long_text = " ".join(f"Sentence {n} of a long product story." for n in range(100))
    script = (
        f"/translate en>ja {long_text}\n"
        "in #secret /translate zh>en 你好\n"
        "in #secret /translate-image zh>ko https://example.com/a.jpg\n"
        "wait\nquit\n"
    )
    result = run_bot(tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sentence 0 of" in out and "Sentence 99 of a long product story." in out  # whole
    assert "[#secret] Tolk: Hello" in out  # the response_url answer, in the channel
    assert "(only you) Tolk: :mailbox_with_mail: Tolk cannot post here" in out
    assert "[DM to you] Tolk: :mailbox_with_mail:" in out and "/invite @Tolk" in out
    assert re.search(r"↳ file: a-ko-T\w+-1\.png", out) and "Done — 1 image translated" in out
    assert "WARNING" not in out + result.stderr


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


class Terminal:
    """``python -m bot`` at a terminal (a pseudo-terminal, its controlling one): what a
    person typing sees, as raw output."""

    def __init__(self, tmp_path: Path) -> None:
        import pty

        self.master, self.slave = pty.openpty()
        self.modes = termios.tcgetattr(self.slave)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            "TERM": "xterm",
        }

        def controlling_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            cwd=tmp_path,
            env=env,
            preexec_fn=controlling_terminal,
        )
        self.seen = b""

    @property
    def text(self) -> str:
        return self.seen.decode(errors="replace")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def read_until(self, expected: str, within: float = 60, start: int = 0) -> str:
        """Everything shown so far, once ``expected`` is among it (from ``start`` on)."""
        deadline = time.monotonic() + within
        while expected not in self.text[start:]:
            assert time.monotonic() < deadline, f"never showed {expected!r}:\n{self.text}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                self.seen += os.read(self.master, 65536)
        return self.text

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


def test_at_a_terminal_the_console_prompts_and_prints_results_as_they_land(tmp_path):
    term = Terminal(tmp_path)
    try:
        term.read_until("quit\r\n> ")  # the help, then the prompt
        term.type("/translate-image zh>ko https://example.com/a.jpg https://example.com/b.jpg\r")
        acked = term.read_until("Results go in the thread")  # a batch: its results come later
        term.read_until("> ", start=acked.rindex("Results go in the thread"))  # prompt back
        term.type("/tolk he")  # typing the next line while the work runs; no `wait`
        term.read_until("Done — all 2 images translated")
        after = term.read_until("> /tolk he").rsplit("Done — all 2 images translated", 1)[1]
        assert "> /tolk he" in after  # the prompt and what was typed, under the results
        typed_at = len(term.text)
        term.type("lp\r")
        term.read_until("(only you) Tolk:", start=typed_at)  # /tolk help answered
        term.type("quit\r")
        assert term.proc.wait(timeout=30) == 0
        shown = term.text
    finally:
        term.close()
    lines = shown.replace("\x1b[K", "").replace("\r", "\n").splitlines()
    command = "/translate-image zh>ko https://example.com/a.jpg https://example.com/b.jpg"
    typed = [line for line in lines if line.rstrip().endswith(command)]  # not the help's
    assert typed == [f"> {command}"]  # shown once, as typed: never echoed again
    assert "↳ file: a-ko-" in shown and "↳ file: b-ko-" in shown
    assert "Traceback" not in shown


def test_ctrl_c_at_the_prompt_ends_the_sandbox_and_restores_the_terminal(tmp_path):
    term = Terminal(tmp_path)
    try:
        term.read_until("quit\r\n> ")
        term.type("/tolk h")
        time.sleep(0.3)
        term.type("\x03")
        assert term.proc.wait(timeout=15) == 0
        assert termios.tcgetattr(term.slave) == term.modes
        assert "Traceback" not in term.text
    finally:
        term.close()


async def test_the_transcript_shows_direct_messages_and_response_url_answers():
    """Where Tolk cannot post in the channel, its answer comes as a DM or through the
    command's response_url: the console prints both as they land."""
    import io

    import aiohttp

    from emulators.slack import SlackEmulator
    from sandbox.console import Console

    async with SlackEmulator() as slack, aiohttp.ClientSession() as session:
        out = io.StringIO()
        console = Console(slack, "http://127.0.0.1:9/slack/events", "s", idle=None, out=out)
        url = slack.new_response_url(channel="C0GENERAL", user="U0ALICE")
        async with session.post(url, json={"text": "Invite me: /invite @Tolk"}) as resp:
            assert resp.status == 200
        headers = {"Authorization": f"Bearer {slack.bot_token}"}
        dm = {"channel": "U0ALICE", "text": "Your results are in this DM"}
        api = f"{slack.api_url}chat.postMessage"
        async with session.post(api, json=dm, headers=headers) as resp:
            assert (await resp.json())["ok"]
        console.show_new()
    assert out.getvalue().splitlines() == [
        "  (only you) Tolk: Invite me: /invite @Tolk",
        "  [DM to you] Tolk: Your results are in this DM",
    ]
