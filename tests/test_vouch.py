"""The monitor's word: reads trust the store only for what a running, current monitor vouches for.

The unit tests build the word and the files by hand; the end-to-end tests run
the real monitor and the real Codex, and check that a read it vouches for
makes no tmux call, while anything it may not have seen yet is looked at.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli
from tmux_codex.core.lock import Lock
from tmux_codex.core.models import STAMP, Task
from tmux_codex.core.paths import monitor_info, monitor_vouch
from tmux_codex.core.wake import wake, wakes
from tmux_codex.monitor.track import Track, vouches
from tmux_codex.monitor.voucher import Voucher
from tmux_codex.tasks import vouch
from tmux_codex.tasks.context import Context, open_context
from tmux_codex.tasks.queries import list_tasks, show
from tmux_codex.tmux import server as tmux_server


def fp(task: Task) -> int:
    return vouch.fingerprint(task.state, task.reason, task.prompt_text)


def make_task(home: Path, **extra: Any) -> Task:
    stamp = "2024-01-01T00:00:00.000000Z"
    values: dict[str, Any] = dict(id=7, name="t", state="idle", mode="tui", window_id="@1")
    values.update(workdir="/src", argv=["codex"], created_at=stamp, updated_at=stamp)
    values.update(log_path=str(home / "7.log"))
    return Task(**{**values, **extra})


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[tuple[Path, Lock]]:
    """A state directory whose monitor lock this process holds (as a monitor would)."""
    home = tmp_path / "home"
    lock = Lock(home)
    lock.acquire()
    try:
        yield home, lock
    finally:
        lock.release()


# -- the word ------------------------------------------------------------------------


def test_a_running_monitors_word_is_read(locked: tuple[Path, Lock]) -> None:
    home, lock = locked
    vouch.publish(home, lock.token, 1000.0, {7: (120, 2, 5), 8: (0, 0, 0)})
    assert oct(monitor_vouch(home).stat().st_mode & 0o777) == "0o600"
    word = vouch.read_word(home, now=1000.5)
    assert word is not None and word.tasks == {7: (120, 2, 5), 8: (0, 0, 0)}
    # A monitor behind on its timers (stuck, stopped) vouches for nothing.
    assert vouch.read_word(home, now=1000.0 + vouch.GRACE + 0.1) is None
    vouch.publish(home, lock.token, None, {7: (1, 0, 0)})  # no timer due: never behind
    assert vouch.read_word(home, now=1e12) is not None
    vouch.withdraw(home)
    assert vouch.read_word(home) is None


def test_no_word_without_the_monitor_that_gave_it(locked: tuple[Path, Lock]) -> None:
    home, lock = locked
    vouch.publish(home, "another-run", None, {7: (1, 0, 0)})
    assert vouch.read_word(home) is None  # a dead monitor's file
    vouch.publish(home, lock.token, None, {7: (1, 0, 0)})
    info = json.loads(monitor_info(home).read_text())
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    monitor_info(home).write_text(json.dumps({**info, "pid": int(dead)}))
    assert vouch.read_word(home) is None  # the lock's holder is not the pid it names
    monitor_info(home).write_text(json.dumps(info))
    assert vouch.read_word(home) is not None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"format": 1, "token": "T", "due": null, "tasks": {}}',
        b'{"format": 2, "token": "T", "due": "soon", "tasks": {}}',
        b'{"format": 2, "token": "T", "due": NaN, "tasks": {}}',
        b'{"format": 2, "token": "T", "due": Infinity, "tasks": {}}',
        b'{"format": 2, "token": "T", "due": null, "tasks": {"7": "x"}}',
        b'{"format": 2, "token": "T", "due": null, "tasks": {"7": "991"}}',
        b'{"format": 2, "token": "T", "due": null, "tasks": {"7": [1, 0]}}',
        b'{"format": 2, "token": "T", "due": null, "tasks": {"7": [Infinity, 0, 0]}}',
        b'{"format": 2, "token": "T", "due": null, "tasks": {"7": [1.5, 0, 0]}}',
        b'{"format": 2, "token": "T", "due": null, "tasks": {"7": [-1, 0, 0]}}',
        b'{"format": 2, "token": "T", "due": null, "tasks": {"7": [true, 0, 0]}}',
        b'{"format": 2, "token": "T", "due": null, "tasks": {"seven": [1, 0, 0]}}',
        b'{"format": 2, "token": "T", "due": null, "tasks": []}',
        b'{"format": 2, "token": "T", "due": null}',
        b"[" * 100000 + b"]" * 100000,
    ],
)
def test_a_damaged_word_vouches_for_nothing(locked: tuple[Path, Lock], body: bytes) -> None:
    home, lock = locked
    monitor_vouch(home).write_bytes(body.replace(b'"T"', json.dumps(lock.token).encode()))
    assert vouch.read_word(home) is None


def test_a_huge_word_is_not_read_whole(locked: tuple[Path, Lock]) -> None:
    home, _lock = locked
    monitor_vouch(home).write_bytes(b" " * (vouch.MAX_SIZE + 1))
    assert vouch.read_word(home) is None


def test_no_word_from_what_is_not_a_plain_file(locked: tuple[Path, Lock], tmp_path: Path) -> None:
    """A FIFO would block a read for ever; a link may point anywhere: neither is read."""
    home, lock = locked
    real = tmp_path / "elsewhere.json"
    vouch.publish(tmp_path, lock.token, None, {7: (1, 0, 0)})
    (tmp_path / "monitor-vouch.json").rename(real)
    monitor_vouch(home).symlink_to(real)
    assert vouch.read_word(home) is None
    monitor_vouch(home).unlink()
    os.mkfifo(monitor_vouch(home))
    assert vouch.read_word(home) is None  # at once, not blocked
    monitor_vouch(home).unlink()
    monitor_vouch(home).mkdir()
    assert vouch.read_word(home) is None
    monitor_vouch(home).rmdir()
    vouch.publish(home, lock.token, None, {7: (1, 0, 0)})
    monitor_info(home).unlink()
    os.mkfifo(monitor_info(home))  # the monitor's own file, too
    assert vouch.read_word(home) is None


@pytest.mark.parametrize("info", [b"null", b"[]", b'"x"', b"7", b"{", b'{"pid": "1"}'])
def test_a_damaged_monitor_json_means_no_word(locked: tuple[Path, Lock], info: bytes) -> None:
    home, lock = locked
    vouch.publish(home, lock.token, None, {7: (1, 0, 0)})
    monitor_info(home).write_bytes(info)
    assert vouch.read_word(home) is None


def test_no_monitor_no_word(tmp_path: Path) -> None:
    home = tmp_path / "home"
    lock = Lock(home)
    lock.acquire()
    vouch.publish(home, lock.token, None, {7: (1, 0, 0)})
    token = lock.token
    lock.release()
    assert not monitor_vouch(home).exists()  # a monitor that stops takes its word back
    vouch.publish(home, token, None, {7: (1, 0, 0)})  # as if killed before it could
    assert vouch.read_word(home) is None
    again = Lock(home)
    again.acquire()  # the next monitor voids it at once
    try:
        assert not monitor_vouch(home).exists()
    finally:
        again.release()


# -- one task --------------------------------------------------------------------------


def test_a_task_is_vouched_for_until_its_log_grows_or_the_monitor_is_woken(
    locked: tuple[Path, Lock], shim: int
) -> None:
    home, lock = locked
    task = make_task(home, shim_pid=shim)
    Path(task.log_path).write_bytes(b"x" * 100)
    wake(home, 7)
    assert wakes(home, 7) == 1
    vouch.publish(home, lock.token, None, {7: (100, 1, fp(task))})
    word = vouch.read_word(home)
    assert vouch.vouched(home, word, task)
    assert not vouch.vouched(home, None, task)
    assert not vouch.vouched(home, word, make_task(home, id=8, shim_pid=shim))  # not in it
    assert not vouch.vouched(home, word, make_task(home, shim_pid=None))  # no shim known
    assert not vouch.vouched(home, word, make_task(home, shim_pid=shim, state="done"))
    assert not vouch.vouched(home, word, make_task(home, shim_pid=shim, window_id=None))
    with open(task.log_path, "ab") as fh:
        fh.write(b"\x1b]7501;state=wor")  # a state escape the monitor has not weighed
    assert not vouch.vouched(home, word, task)
    with open(task.log_path, "ab") as fh:
        fh.write(b"king:app=codex\x07")
    assert not vouch.vouched(home, word, task)
    size = os.stat(task.log_path).st_size
    vouch.publish(home, lock.token, None, {7: (size, 1, fp(task))})
    word = vouch.read_word(home)
    assert vouch.vouched(home, word, task)
    wake(home, 7)  # a hook wrote something the monitor has not looked at
    assert wakes(home, 7) == 2
    assert not vouch.vouched(home, word, task)


def test_only_the_verdict_the_monitor_judged_is_vouched_for(
    locked: tuple[Path, Lock], shim: int
) -> None:
    """A state another process wrote (``send``: "working"; a read that looked before the
    monitor did) is not the monitor's: it is looked at afresh."""
    home, lock = locked
    task = make_task(home, shim_pid=shim, state="waiting", reason="approval", prompt_text="$ ls")
    Path(task.log_path).write_bytes(b"")
    vouch.publish(home, lock.token, None, {7: (0, 0, fp(task))})
    word = vouch.read_word(home)
    assert vouch.vouched(home, word, task)
    for change in (
        {"state": "working", "reason": None, "prompt_text": None},
        {"reason": "edit"},
        {"prompt_text": "$ rm -rf build"},
    ):
        assert not vouch.vouched(home, word, replace(task, **change))


def test_counts_that_went_down_are_news(locked: tuple[Path, Lock], shim: int) -> None:
    """A wake file or a log that shrank (never done by tmux-codex) is no reason to trust."""
    home, lock = locked
    task = make_task(home, shim_pid=shim)
    Path(task.log_path).write_bytes(b"x" * 10)
    wake(home, 7)
    wake(home, 7)
    vouch.publish(home, lock.token, None, {7: (10, 2, fp(task))})
    word = vouch.read_word(home)
    assert vouch.vouched(home, word, task)
    (home / "wake" / "7").write_bytes(b"1")  # as an older shim did: truncated to one byte
    assert not vouch.vouched(home, word, task)
    (home / "wake" / "7").write_bytes(b"11")
    Path(task.log_path).write_bytes(b"x" * 5)
    assert not vouch.vouched(home, word, task)


@pytest.mark.parametrize("state", ["working", "idle"])
def test_bytes_the_monitor_would_not_look_at_keep_its_word(
    locked: tuple[Path, Lock], shim: int, state: str
) -> None:
    """A spinner, a counter, keys typed: without a state escape the monitor would not
    look, so neither does a read; an escape cut by the vouched offset is found whole."""
    home, lock = locked
    task = make_task(home, shim_pid=shim, state=state)
    head = b"x" * 200 + b"\x1b]7501;state=working:app=codex\x07"
    Path(task.log_path).write_bytes(head)
    vouch.publish(home, lock.token, None, {7: (len(head), 0, fp(task))})
    word = vouch.read_word(home)
    with open(task.log_path, "ab") as fh:
        fh.write("\r\x1b[2K• Working (12s • esc to interrupt)".encode())
    assert vouch.vouched(home, word, task)  # the old escape was weighed already
    for other in ("starting", "stalled", "waiting"):  # the monitor looks for anything new
        busy = make_task(home, shim_pid=shim, state=other)
        vouch.publish(home, lock.token, None, {7: (len(head), 0, fp(busy))})
        assert not vouch.vouched(home, vouch.read_word(home), busy)
    # An escape begun before the offset and ended after it: not weighed whole.
    cut = head[: len(head) - 5]
    Path(task.log_path).write_bytes(cut)
    vouch.publish(home, lock.token, None, {7: (len(cut), 0, fp(task))})
    word = vouch.read_word(home)
    assert vouch.vouched(home, word, task)
    with open(task.log_path, "ab") as fh:
        fh.write(head[len(cut) :])
    assert not vouch.vouched(home, word, task)
    # Too much unread: the read looks for itself rather than read it all.
    Path(task.log_path).write_bytes(b"")
    vouch.publish(home, lock.token, None, {7: (0, 0, fp(task))})
    word = vouch.read_word(home)
    Path(task.log_path).write_bytes(b"y" * (vouch.UNREAD_MAX + 1))
    assert not vouch.vouched(home, word, task)


def test_a_task_whose_shim_ended_is_looked_at(locked: tuple[Path, Lock]) -> None:
    home, lock = locked
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()", "tmux_codex.tasks.shim"],
        stdin=subprocess.PIPE,
    )
    task = make_task(home, shim_pid=proc.pid)
    Path(task.log_path).write_bytes(b"")
    vouch.publish(home, lock.token, None, {7: (0, 0, fp(task))})
    assert vouch.vouched(home, vouch.read_word(home), task)
    proc.kill()
    proc.wait()
    assert not vouch.vouched(home, vouch.read_word(home), task)


def test_current_looks_only_at_what_is_not_vouched_for(
    locked: tuple[Path, Lock], shim: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, lock = locked
    trusted = make_task(home, shim_pid=shim)
    other = make_task(home, id=8, shim_pid=shim, log_path=str(home / "8.log"))
    ended = make_task(home, id=9, state="done", log_path=str(home / "9.log"))
    for task in (trusted, other):
        Path(task.log_path).write_bytes(b"")
    vouch.publish(home, lock.token, None, {7: (0, 0, fp(trusted))})
    looked: list[list[int]] = []

    def refresh(ctx: Context, tasks: list[Task]) -> list[Task]:
        looked.append([t.id for t in tasks])
        return tasks

    monkeypatch.setattr("tmux_codex.tasks.refresh.refresh", refresh)
    ctx = Context(store=_Home(home), config=None, socket="none")  # type: ignore[arg-type]
    found = vouch.current(ctx, [trusted, other, ended], vouch.read_word(home))
    assert looked == [[8]]
    assert [t.id for t in found] == [7, 8, 9]
    looked.clear()
    found = vouch.current(ctx, [trusted, ended], vouch.read_word(home))
    assert looked == []  # nothing to look at: no tmux call at all
    assert found[1] is ended
    # Taken as stored, but for the time of its last output: its log's (the
    # monitor writes that only when it looks).
    mtime = os.stat(trusted.log_path).st_mtime
    stamp = datetime.fromtimestamp(mtime, timezone.utc).strftime(STAMP)
    assert found[0] == replace(trusted, last_output_at=stamp)


class _Home:
    """What :func:`vouch.current` needs of a store: its home."""

    def __init__(self, home: Path) -> None:
        self.home = home


# -- what the monitor vouches for -------------------------------------------------------


def test_the_monitor_vouches_only_when_nothing_is_pending() -> None:
    track = Track(state="idle", mode="tui", pipe=True, judged=1)
    assert vouches(track)
    changes: list[dict[str, Any]] = [
        {"judged": None},  # no verdict of its own (a look that failed, or was held)
        {"log_closed": True},  # its log's writer closed it (tmux may still say "piped")
        {"pipe": None},  # never looked at
        {"pipe": False},  # its log stopped (a full disk): bytes no longer tell
        {"look_due": 1.0},  # a look put off (debounce, a prompt to confirm)
        {"unsettled": True},  # the store does not show what Codex announced
        {"unknown_since": 1.0},
        {"shim_gone": True},
        {"state": "done"},
    ]
    for change in changes:
        base = {"state": "idle", "mode": "tui", "pipe": True, "judged": 1}
        assert not vouches(Track(**{**base, **change}))


# -- the real monitor, the real Codex ---------------------------------------------------


def _word(cli: Cli) -> vouch.Word | None:
    return vouch.read_word(cli.home)


def _in_process(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Run reads in this process with ``cli``'s environment; record every tmux snapshot."""
    for key in ("TMUX_CODEX_HOME", "TMUX_CODEX_SOCKET", "TMUX_CODEX_CONFIG"):
        monkeypatch.setenv(key, cli.env[key])
    calls: list[list[str]] = []
    original = tmux_server.Tmux.snapshot

    def snapshot(self: tmux_server.Tmux, pane_ids: list[str]) -> Any:
        calls.append(list(pane_ids))
        return original(self, pane_ids)

    monkeypatch.setattr(tmux_server.Tmux, "snapshot", snapshot)
    return calls


@pytest.mark.e2e
def test_reads_trust_the_monitor_only_where_it_vouches(
    cli: Cli, codex_env: CodexEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = codex_env.workdir()
    first = cli.json("start", "--mode", "tui", "-C", str(work), "[scenario:complete] one")["id"]
    second = cli.json("start", "--mode", "tui", "-C", str(work), "[scenario:complete] two")["id"]
    for task in (first, second):
        cli.wait_state(task, "idle")
    wait_until(
        lambda: (w := _word(cli)) is not None and {first, second} <= set(w.tasks),
        60,
        what="the monitor to vouch for both tasks",
    )
    calls = _in_process(cli, monkeypatch)
    with open_context() as ctx:
        assert [(t.id, t.state) for t in list_tasks(ctx)] == [(first, "idle"), (second, "idle")]
        assert show(ctx, str(first)).state == "idle"
    assert calls == []  # no tmux call: the monitor's word
    # The monitor woken about one task (as by a hook): that one is looked at.
    wake(cli.home, second)
    with open_context() as ctx:
        assert [t.state for t in list_tasks(ctx)] == ["idle", "idle"]
    assert len(calls) == 1 and len(calls[0]) == 1
    # ... until the monitor has looked too.
    wait_until(
        lambda: (
            (w := _word(cli)) is not None
            and w.tasks.get(second, (0, 0))[1] == wakes(cli.home, second)
        ),
        30,
        what="the monitor to look after the wake",
    )
    calls.clear()
    with open_context() as ctx:
        list_tasks(ctx)
    assert calls == []
    # A monitor stopped dead (SIGSTOP) vouches only for what it had seen.
    pid = int(cli.json("monitor", "--status")["pid"])
    os.kill(pid, signal.SIGSTOP)
    try:
        cli.run("send", str(first), "[scenario:complete] again")
        with open_context() as ctx:
            wait_until(
                lambda: show(ctx, str(first)).state in ("working", "idle") and calls != [],
                30,
                what="a fresh look at the task the stopped monitor missed",
            )
    finally:
        os.kill(pid, signal.SIGCONT)
    # Killed, it vouches for nothing: every read looks for itself.
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _word(cli) is None, 30, what="no word from a dead monitor")
    calls.clear()
    with open_context() as ctx:
        list_tasks(ctx)
    assert len(calls) == 1 and sorted(calls[0]) == sorted(t["pane_id"] for t in cli.json("list"))


@pytest.mark.e2e
def test_a_window_closed_under_the_monitor_is_lost_at_once(
    cli: Cli, codex_env: CodexEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = cli.json(
        "start", "--mode", "tui", "-C", str(codex_env.workdir()), "[scenario:complete] one"
    )
    cli.wait_state(task["id"], "idle")
    wait_until(lambda: (w := _word(cli)) is not None and task["id"] in w.tasks, 60, what="the word")
    pid = int(cli.json("monitor", "--status")["pid"])
    os.kill(pid, signal.SIGSTOP)  # so the read, not the monitor, must find it out
    try:
        subprocess.run(
            ["tmux", "-L", cli.socket, "kill-window", "-t", task["window_id"]], check=True
        )
        _in_process(cli, monkeypatch)
        with open_context() as ctx:
            wait_until(lambda: show(ctx, str(task["id"])).state == "lost", 30, what="lost")
    finally:
        os.kill(pid, signal.SIGCONT)


def test_the_monitor_says_its_word_only_when_it_changes(locked: tuple[Path, Lock]) -> None:
    home, lock = locked
    silent = Voucher(home)  # a monitor run in a test, with no lock: says nothing
    silent.say({7: Track(state="idle", mode="tui", pipe=True, judged=3)}, None, 0.0)
    assert not monitor_vouch(home).exists()
    word = Voucher(home, lock.token)
    tracks = {7: Track(state="idle", mode="tui", pipe=True, offset=10, woken=1, judged=3)}
    tracks[8] = Track(state="working", mode="tui", pipe=True, look_due=5.0, judged=4)
    tracks[9] = Track(state="working", mode="tui", pipe=True)  # no verdict judged yet
    word.say(tracks, 100.0, 90.0)
    said = vouch.read_word(home)
    assert said is not None and said.tasks == {7: (10, 1, 3)}
    first = monitor_vouch(home).stat().st_ino
    word.say(tracks, 100.1, 90.0)  # the same word: not written again
    assert monitor_vouch(home).stat().st_ino == first
    tracks[8].look_due = None
    word.say(tracks, None, 91.0)
    said = vouch.read_word(home)
    assert said is not None and said.tasks == {7: (10, 1, 3), 8: (0, 0, 4)}
    assert said.due is None
    word.withdraw()  # a failed turn
    assert vouch.read_word(home) is None
    monitor_vouch(home).mkdir()  # a write that fails (as on a full disk): no word, no error
    word.say(tracks, None, 92.0)
    assert vouch.read_word(home) is None
    lock.release()  # and the monitor stops (or the next one starts) all the same
    again = Lock(home)
    again.acquire()
    again.release()
