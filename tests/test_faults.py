"""Faults and their traces: a killed shim, a redraw, a full disk, a store from the future.

Real tmux and the real Codex against the fake model, except where a test says
it simulates the fault.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import libtmux
import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli, attached_client
from tests.test_monitor import events, start, stored, wait_stored, write_config
from tmux_codex.core.config import Config
from tmux_codex.core.errors import DiskFull, TmuxCodexError, TmuxUnavailable
from tmux_codex.core.schema import MIGRATIONS
from tmux_codex.core.store import Store
from tmux_codex.tasks.launch import StartRequest
from tmux_codex.tasks.launch import start as start_task
from tmux_codex.tmux.server import Tmux

pytestmark = pytest.mark.e2e


def _running_in(workdir: Path) -> list[int]:
    """Processes whose argv has ``-C WORKDIR``: the task's Codex (not tmux, not the shim)."""
    needle = b"\0-C\0" + str(workdir).encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if needle in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("monitor", [True, False], ids=["monitor", "no-monitor"])
def test_a_killed_shim_ends_the_task(cli: Cli, codex_env: CodexEnv, monitor: bool) -> None:
    """SIGKILL of the pane's process (the shim): nobody records Codex's end, tmux has
    no exit status (``pane_dead_signal`` 9); the task must not stay ``working``."""
    work = codex_env.workdir()
    task = start(cli, work, "[scenario:hang-headers] wait", *(() if monitor else ("--no-monitor",)))
    if monitor:
        wait_stored(cli, task, "working")
    else:
        cli.wait_state(task, "working")
    shim = stored(cli, task)["shim_pid"]
    assert shim and _running_in(work)
    os.kill(shim, signal.SIGKILL)
    if monitor:  # the monitor sees it alone
        failed = wait_stored(cli, task, "failed", timeout=30)
    else:  # any read command works it out
        failed = cli.wait_state(task, "failed", timeout=30)
    assert failed["exit_code"] == 128 + signal.SIGKILL
    last = [e for e in events(cli, task) if e["to"] == "failed"]
    assert len(last) == 1 and last[0]["from"] == "working", events(cli, task)
    assert last[0]["detail"].startswith("its shim was killed by signal 9 (SIGKILL)")
    wait_until(lambda: not _running_in(work), 30, what="Codex to end with its terminal")


# -- a full disk ------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 16 MiB tmpfs (``mount`` needs root: skipped where it is not permitted)."""
    mount = tmp_path / "tiny-disk"
    mount.mkdir(mode=0o700)
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip() or made.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; the file that does it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    fd = os.open(filler, os.O_WRONLY | os.O_APPEND)
    try:
        with pytest.raises(OSError) as full:
            os.write(fd, b"\0")
    finally:
        os.close(fd)  # an open file keeps its space after unlink
    assert full.value.errno == errno.ENOSPC
    return filler


def _one_line_disk_full(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0], proc.stderr
    assert lines[0].startswith("tmux-codex: the state directory's disk is full ("), lines[0]
    assert lines[0].endswith("): free space and retry"), lines[0]


def test_a_full_disk_real(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server, tiny_disk: Path
) -> None:
    """The state directory on a real tmpfs that fills up while Codex works.

    Codex (whose own home is elsewhere) finishes; its last output cannot reach
    the log, and the store cannot take a write until space is freed.
    """
    cli.home = tiny_disk / "state"
    cli.env["TMUX_CODEX_HOME"] = str(cli.home)
    try:
        work = codex_env.workdir()
        prompt = (
            "[scenario:run] go\n$ until [ -e go ]; do sleep 0.2; done\n"
            "$ seq 1 3000 | sed 's/^/printed after the disk filled up /'"
        )
        task = cli.json("start", "-C", str(work), prompt)["id"]
        wait_until(
            lambda: b"until [ -e go ]" in Path(stored(cli, task)["log_path"]).read_bytes(),
            60,
            what="the first command to run",
        )
        db = sqlite3.connect(cli.home / "tasks.db")
        try:  # an empty WAL: the next write to the store needs new space
            assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        finally:
            db.close()
        rows = stored_count(cli)
        filler = _fill(tiny_disk)
        try:
            # Commands that must write say so, in one line, and leave nothing behind.
            _one_line_disk_full(
                cli.run("start", "-C", str(work), "[scenario:complete] x", check=False)
            )
            assert stored_count(cli) == rows
            assert len(server.windows) == 1
            assert sorted(p.name for p in (cli.home / "logs").iterdir()) == [f"{task}.log"]
            (work / "go").touch()  # Codex goes on, prints, ends with status 0
            wait_until(lambda: not _running_in(work), 60, what="Codex to end")
            for command in (("list", "--json"), ("show", str(task), "--json")):
                proc = cli.run(*command, check=False)
                if proc.returncode != 0:  # only when it had something to write
                    _one_line_disk_full(proc)
            assert stored(cli, task)["state"] == "working"  # the shim waits for space
        finally:
            filler.unlink()
        done = wait_stored(cli, task, "done", "failed", timeout=60)
        assert (done["state"], done["exit_code"]) == ("done", 0)  # Codex's, not the shim's
        screen = "\n".join(server.cmd("capture-pane", "-p", "-t", done["pane_id"]).stdout)
        assert "Traceback" not in screen and "tmux-codex" not in screen, screen
        details = [e["detail"] or "" for e in events(cli, task)]
        stopped = [d for d in details if d.startswith("its log stopped at ")]
        assert len(stopped) == 1, details
        assert "(the state directory's disk is full)" in stopped[0], stopped
        log = Path(done["log_path"])
        assert b"printed after the disk filled up 3000" not in log.read_bytes()
        assert f"stopped at {log.stat().st_size} bytes" in stopped[0]
        assert any("could not write to its store" in d for d in details), details
    finally:
        # Its monitor lives on the tiny disk, which goes before the cli fixture's end.
        cli.run("monitor", "--stop", check=False)


def stored_count(cli: Cli) -> int:
    db = sqlite3.connect(f"file:{cli.home / 'tasks.db'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM tasks").fetchone()[0])
    finally:
        db.close()


# -- a store from a newer tmux-codex; a start that fails ------------------------------


def test_a_store_from_a_newer_tmux_codex(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server
) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "-C", str(work), "--no-monitor", "[scenario:complete] hi")["id"]
    cli.wait_state(task, "done")
    db = sqlite3.connect(cli.home / "tasks.db")
    db.execute("ALTER TABLE tasks ADD COLUMN from_the_future TEXT")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    logs = sorted((cli.home / "logs").iterdir())
    windows = len(server.windows)
    expected = (
        f"tmux-codex: the store {cli.home / 'tasks.db'} was made by a newer tmux-codex "
        f"(schema {len(MIGRATIONS) + 1}, this one knows {len(MIGRATIONS)}): upgrade "
        "tmux-codex or use another TMUX_CODEX_HOME"
    )
    for command in (
        ("list",),
        ("show", str(task)),
        ("start", "-C", str(work), "[scenario:complete] again"),
        ("start", "-C", str(work), "[scenario:complete] once more"),
    ):
        proc = cli.run(*command, check=False)
        assert (proc.returncode, proc.stderr.strip(), proc.stdout) == (2, expected, ""), command
    assert stored_count(cli) == 1  # no orphan row
    assert sorted((cli.home / "logs").iterdir()) == logs
    assert len(server.windows) == windows


def _tmux_windows(server: libtmux.Server) -> list[str]:
    out = server.cmd("list-windows", "-a", "-F", "#{window_id}")
    return [] if out.returncode != 0 else list(out.stdout)


@pytest.mark.parametrize("fault", ["window", "commit"])
def test_a_failed_start_leaves_nothing(
    codex_env: CodexEnv,
    server: libtmux.Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    """In-process ``start`` on a real tmux server, with a fault injected (simulated):
    tmux refusing the window, or the store refusing the commit once the window runs
    (as a full disk does). Neither leaves a row, an event, a window, a log or an
    environment file; the store takes the next task."""
    monkeypatch.setenv("TMUX_CODEX_CODEX", str(codex_env.binary))
    home = tmp_path / "home"
    if fault == "window":

        def refuse(*args: object, **kwargs: object) -> tuple[str, str]:
            raise TmuxUnavailable("tmux could not create the task's window: refused")

        monkeypatch.setattr(Tmux, "new_window", refuse)
    else:
        real_update = Store.update

        def full_once_windowed(self: Store, task_id: int, **values: object) -> None:
            real_update(self, task_id, **values)
            if "window_id" in values:  # the window runs: the commit is next
                raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(Store, "update", full_once_windowed)
    req = StartRequest(prompt="[scenario:complete] hi", workdir=str(codex_env.workdir()))
    with Store(home) as store:
        with pytest.raises(TmuxCodexError) as failed:
            start_task(store, Config(), req, str(server.socket_name))
        if fault == "commit":
            assert isinstance(failed.value, DiskFull)
        assert store.tasks() == [] and store.events() == []
        assert not store.db.in_transaction
    assert _tmux_windows(server) == []  # the window (made for "commit") is gone again
    assert list((home / "logs").iterdir()) == []
    assert not (home / "env").exists() or list((home / "env").iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setenv("TMUX_CODEX_CODEX", str(codex_env.binary))
    with Store(home) as store:
        task = start_task(store, Config(), req, str(server.socket_name))
        assert [t.id for t in store.tasks()] == [task.id]


# -- a redraw is not progress ---------------------------------------------------------


def _timer(server: libtmux.Server, pane: str) -> int:
    """The seconds on Codex's "Working (…)" line (its own clock), -1 when not shown."""
    screen = "\n".join(server.cmd("capture-pane", "-p", "-t", pane).stdout)
    found = re.findall(r"Working \((?:(\d+)m )?(\d+)s", screen)
    return max((int(m or 0) * 60 + int(s) for m, s in found), default=-1)


def test_looking_at_a_stalled_task_is_not_progress(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server, tmp_path: Path
) -> None:
    """Resizing its window, or attaching a client of another size, makes Codex redraw
    its whole screen (transcript included, re-wrapped): no progress, so the task stays
    ``stalled``, with one stall event, one notification, its clocks running on."""
    write_config(cli, tmp_path, '[monitor]\nstall_after = "2s"\npoke_after = "0"\n')
    task = start(cli, codex_env.workdir(), "[scenario:hang-headers] wait forever")
    stalled = wait_stored(cli, task, "stalled")
    pane, log = stalled["pane_id"], Path(stalled["log_path"])
    states: set[str] = set()

    def redrawn_and_waited(repaints: int) -> bool:
        """Codex repainted, and its own timer went on 4s (twice stall_after) since."""
        states.add(stored(cli, task)["state"])
        data = log.read_bytes()
        if data.count(b"\x1b[3J") < repaints:
            return False
        after = data[data.rindex(b"\x1b[3J") :]
        ticks = re.findall(rb"Working\S* \S*\((\d+)s", after)
        return bool(ticks) and _timer(server, pane) >= int(ticks[0]) + 4

    before = log.read_bytes().count(b"\x1b[3J")
    session = server.sessions.get(session_name="codex")
    assert session is not None
    with attached_client(server, session, 130, 40):  # the window takes the client's size
        wait_until(lambda: redrawn_and_waited(before + 1), 60, what="a repaint and 4s more")
    server.cmd("resize-window", "-t", stalled["window_id"], "-x", "90", "-y", "30")
    wait_until(lambda: redrawn_and_waited(before + 2), 60, what="a repaint and 4s more")
    assert states == {"stalled"}
    seen = [e for e in events(cli, task) if e["from"] != e["to"]]
    assert [e["to"] for e in seen] == ["starting", "working", "stalled"], seen
    assert stored(cli, task)["state"] == "stalled"
