"""The promise, swept: a run of commands in every kind of place a real workspace has (a
channel Tolk is in, a private channel and a DM it was never invited to, an archived
channel) while Slack throws 429s, 5xx with HTML bodies and answers lost after it acted.
Afterwards every task is settled and has exactly one final answer the person can see: in
its thread, else through the command's response_url, else in a DM with Tolk."""

from __future__ import annotations

import random
from typing import Any

from bot.core.tasks import Task
from emulators.slack import SlackEmulator
from tests.conftest import Tolk
from tests.faults.support import marker
from tests.test_commands_e2e import task_id_in

ALICE = "U0ALICE"
FINAL_MARKERS = (":final", ":message")


def all_messages(slack: SlackEmulator) -> list[dict[str, Any]]:
    found = []
    for channel in slack.channels.values():
        found += channel.messages
        for replies in channel.replies.values():
            found += replies
    return found


def final_answers(slack: SlackEmulator, task: Task) -> list[str]:
    """Where the task's last word landed, one entry per answer the person can see."""
    seen = [
        f"message in {task.place.channel}"
        for m in all_messages(slack)
        if (marker(m) or "").startswith(task.id) and marker(m).endswith(FINAL_MARKERS)
    ]
    for response in slack.responses:
        text = str(response["text"] or "") + str(response["blocks"] or "")
        moved_notice = "go to your direct messages" in text
        if (task.id in text or response["response_type"] == "in_channel") and not moved_notice:
            if response["response_type"] == "in_channel" and task.id not in text:
                continue  # another command's answer
            seen.append("response_url")
    seen += ["ephemeral" for e in slack.ephemerals() if task.id in e["text"] and ":x:" in e["text"]]
    return seen


async def test_every_task_of_a_fault_run_has_exactly_one_final_answer(tolk: Tolk, slack, xiangji):
    slack.add_channel("G0SECRET", "secret", is_private=True, member=False, members=[ALICE])
    slack.add_channel("C0OLD", "old-launch", archived=True, members=[ALICE])
    dm = slack.add_dm(ALICE).id  # Alice and Bob's DM: Tolk is not in it
    places = ["C0GENERAL", "G0SECRET", "C0OLD", dm]
    rand = random.Random(15)
    for method in ("chat.postMessage", "files.completeUploadExternal", "upload"):
        slack.faults.add(method, status=429, retry_after=0, times=3)
        slack.faults.add(
            method, status=502, body="<html>Bad Gateway</html>", content_type="text/html", times=2
        )
        slack.faults.add(method, status=500, after=True, times=2)
    ids = []
    for n in range(24):
        channel = places[n % len(places)]
        url = slack.new_response_url(channel=channel, user=ALICE)
        if rand.random() < 0.5:
            command, text = "/translate", f"en>ja Good day number {n}"
        else:
            command = "/translate-image"
            text = "zh>ko " + " ".join(xiangji.sample_url(f"s{n}-{i}") for i in range(2))
        status, body = await tolk.command(command, text, channel=channel, response_url=url)
        assert status == 200
        ids.append(task_id_in(body))
    await tolk.settle(within=60)
    kinds = set()
    for task_id in ids:
        task = await tolk.services.store.get(task_id)
        assert task is not None and task.settled, task_id
        answers = final_answers(slack, task)
        assert len(answers) == 1, (task_id, task.place.channel, task.state, answers)
        kinds.add(answers[0].replace(task.place.channel, "DM" if "moved" in task.notes else "here"))
    # the run did reach every way of answering
    assert kinds == {"message in here", "message in DM", "response_url"}, kinds
