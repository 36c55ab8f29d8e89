"""What the monitor vouches for, where that was once wrong (found by review).

The real monitor loop, stages and store; tmux is faked where the point is
what the monitor does with what it sees (a screen from the captured
fixtures, a look that fails), and real in the end-to-end test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli
from tests.test_monitor import stored
from tmux_codex.codex.classify import decide
from tmux_codex.core.config import Config
from tmux_codex.core.errors import TmuxUnavailable
from tmux_codex.core.lock import Lock
from tmux_codex.core.store import Store
from tmux_codex.monitor import look as look_mod
from tmux_codex.monitor import read
from tmux_codex.monitor.loop import Monitor
from tmux_codex.monitor.track import Track, vouches
from tmux_codex.tasks import vouch
from tmux_codex.tasks.context import Context
from tmux_codex.tmux import server as tmux_server

FIXTURES = Path(__file__).parent / "fixtures" / "codex-0.169.0"
WORKING = (FIXTURES / "tui-slow-exec" / "working.screen.txt").read_text()
WAITING = (FIXTURES / "tui-approval-exec" / "waiting.screen.txt").read_text()
BLOCKED = b"\x1b]7501;state=blocked:app=codex:kind=permission\x07"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Store, Lock]]:
    store = Store(tmp_path / "home")
    lock = Lock(store.home)
    lock.acquire()
    try:
        yield store, lock
    finally:
        lock.release()
        store.close()


def add(store: Store, **fields: Any) -> Any:
    values = {"state": "working", "mode": "tui", "workdir": "/w", "argv": ["codex"]}
    values.update(window_id="@1", pane_id="%1", log_path=str(store.home / "logs" / "{id}.log"))
    task = store.add_task({**values, **fields}, "t", "t")
    Path(task.log_path).parent.mkdir(parents=True, exist_ok=True)
    Path(task.log_path).touch()
    return task


def fake_tmux(monkeypatch: pytest.MonkeyPatch, task_id: int, screen: dict[str, str]) -> None:
    def snapshot(self: tmux_server.Tmux, pane_ids: list[str]) -> Any:
        info = tmux_server.PaneInfo(
            "s", "@1", "%1", False, None, None, True, 1, 1, 120, 40, str(task_id), screen["title"]
        )
        return {"@1": info}, {"%1": screen["now"]}

    monkeypatch.setattr(tmux_server.Tmux, "snapshot", snapshot)


def monitor_of(store: Store, lock: Lock, clock: Any = None) -> Monitor:
    ctx = Context(store=store, config=Config(), socket="unused")
    monitor = Monitor(ctx) if clock is None else Monitor(ctx, clock=clock)
    monitor.word.token = lock.token
    return monitor


def test_a_monitor_started_after_codex_announced_a_prompt_does_not_vouch_for_it(
    home: tuple[Store, Lock], shim: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Codex said "blocked" before the monitor started, and has not drawn the prompt yet:
    the store ("working") disagrees with Codex, so the monitor looks again rather than
    vouch; a read meanwhile looks for itself, and sees the prompt once it is drawn."""
    store, lock = home
    task = add(store, shim_pid=shim)
    Path(task.log_path).write_bytes(b"\x1b]7501;state=working:app=codex\x07 busy " + BLOCKED)
    screen = {"now": WORKING, "title": "⠙ project"}
    fake_tmux(monkeypatch, task.id, screen)
    monitor = monitor_of(store, lock)
    try:
        monitor.reconcile()
        monitor._vouch()
        track = monitor.tracks[task.id]
        assert store.get(task.id).state == "working"  # type: ignore[union-attr]
        assert track.unsettled and track.look_due is not None and not vouches(track)
        word = vouch.read_word(store.home)
        assert word is not None and task.id not in word.tasks
        # Codex draws the prompt: no new state escape in the bytes.
        with open(task.log_path, "ab") as fh:
            fh.write(b"\x1b]0;[ ! ] Action Required | project\x07\r\nWould you like to run")
        screen.update(now=WAITING, title="[ ! ] Action Required | project")
        ctx = Context(store=store, config=Config(), socket="unused")
        as_read = vouch.current(ctx, [store.get(task.id)], word)[0]  # type: ignore[list-item]
        fresh = decide(WAITING, screen["title"], "tui", announced="blocked", previous="working")
        assert (
            (as_read.state, as_read.reason)
            == (fresh.state, fresh.reason)
            == (
                "waiting",
                "approval",
            )
        )
    finally:
        monitor.close()


def test_an_escape_printed_while_the_monitor_started_is_new_to_it(
    home: tuple[Store, Lock], shim: int
) -> None:
    """What Codex announced after the offset the monitor reads on from is read as new
    (then compared with the store), not taken as known already."""
    store, _lock = home
    task = add(store, shim_pid=shim)
    Path(task.log_path).write_bytes(b"\x1b]7501;state=working:app=codex\x07")
    offset = Path(task.log_path).stat().st_size
    with open(task.log_path, "ab") as fh:
        fh.write(BLOCKED)
    track = read.catch_up(task, offset, 0.0)
    assert track.announced == "working:app=codex"
    reading = read.read(task, track, read.read_log(task.log_path, track), 1.0)
    assert reading.escapes == ("blocked:app=codex:kind=permission",) and reading.look


def test_a_look_that_failed_is_made_again_and_vouched_for_only_then(
    home: tuple[Store, Lock], shim: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, lock = home
    task = add(store, shim_pid=shim, state="starting")
    clock = [100.0]
    monitor = monitor_of(store, lock, clock=lambda: clock[0])
    try:
        # Its bytes were read and its look put off (DEBOUNCE): the timer's look is due.
        monitor.tracks[task.id] = Track(
            state="starting", mode="tui", pipe=True, offset=0, look_due=100.0, judged=1
        )

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise TmuxUnavailable("tmux did not answer in 5s: is its server hung?")

        monkeypatch.setattr(look_mod, "refresh", broken)
        monitor.inbox.put("log", 999)  # any event: the turn runs
        monitor._step()
        track = monitor.tracks[task.id]
        assert track.look_due is not None and track.judged is None and not vouches(track)
        assert vouch.read_word(store.home) is None  # a failed turn takes the word back
        looked: list[int] = []

        def works(ctx: Context, tasks: list[Any], **kwargs: Any) -> list[Any]:
            looked.extend(t.id for t in tasks)
            return tasks

        monkeypatch.setattr(look_mod, "refresh", works)
        monitor.inbox.put("log", 999)
        monitor._step()
        assert looked == [task.id]  # looked at again, not forgotten
    finally:
        monitor.close()


@pytest.mark.e2e
def test_a_state_send_wrote_is_looked_at_again(
    cli: Cli, codex_env: CodexEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``send /status`` records ``working`` (it cannot tell a command from a prompt);
    Codex stays idle. The monitor sees a state it did not judge and looks at once, and
    no read takes ``working`` on its word meanwhile."""
    work = codex_env.workdir()
    tid = cli.json("start", "--mode", "tui", "-C", str(work), "[scenario:complete] one")["id"]
    cli.wait_state(tid, "idle")
    wait_until(
        lambda: (w := vouch.read_word(cli.home)) is not None and tid in w.tasks, 60, what="word"
    )
    cli.run("send", str(tid), "/status")
    row = stored(cli, tid)
    word = vouch.read_word(cli.home)
    if row["state"] == "working" and word is not None and tid in word.tasks:
        assert word.tasks[tid][2] != vouch.fingerprint("working", None, None)
    # Back to idle well before any stall timer (stall_after is 5 minutes by default).
    wait_until(lambda: stored(cli, tid)["state"] == "idle", 30, what="idle again")
    wait_until(
        lambda: (
            (w := vouch.read_word(cli.home)) is not None
            and w.tasks.get(tid, (0, 0, 0))[2] == vouch.fingerprint("idle", None, None)
        ),
        30,
        what="the monitor to vouch for idle again",
    )


def test_a_log_its_writer_closed_is_not_vouched_for_until_written_again(
    home: tuple[Store, Lock], shim: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tmux goes on saying the pane is piped after the ``cat`` behind ``pipe-pane`` died
    (a full disk): the log's close is what tells, until somebody writes to it again."""
    store, lock = home
    task = add(store, shim_pid=shim, state="idle")
    fake_tmux(monkeypatch, task.id, {"now": WORKING, "title": "project"})
    monitor = monitor_of(store, lock)
    try:
        monitor.reconcile()
        track = monitor.tracks[task.id]
        # A restarted monitor cannot have heard a close: nobody writes this log (no
        # pipe-pane here), so it is taken as closed.
        assert track.log_closed and not vouches(track)
        with open(task.log_path, "ab") as fh:  # a writer after all
            fh.write(b"more")
        monitor.inbox.on_changes([(0, f"{task.id}.log", False)])
        monitor._step()
        assert not track.log_closed
        monitor.inbox.on_changes([(0, f"{task.id}.log", True)])
        monitor._step()
        assert track.log_closed and not vouches(track)
        word = vouch.read_word(store.home)
        assert word is not None and task.id not in word.tasks
        with open(task.log_path, "ab") as fh:  # a writer again (a resume's new pipe)
            fh.write(b"again")
        monitor.inbox.on_changes([(0, f"{task.id}.log", False)])
        monitor._step()
        assert not track.log_closed
    finally:
        monitor.close()


def test_writers_are_the_processes_that_have_a_file_open_for_writing(tmp_path: Path) -> None:
    from tmux_codex.tasks.procs import writers

    written, read_only, nobody = (tmp_path / n for n in ("w.log", "r.log", "n.log"))
    for path in (written, read_only, nobody):
        path.touch()
    with open(written, "ab"), open(read_only, "rb"):
        found = writers([str(written), str(read_only), str(nobody)])
    if found is None:
        pytest.skip("no /proc here")
    assert found == {str(written)}
