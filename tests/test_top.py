"""``tmux-codex top``: the table (pure), ``--once`` on a real fleet, and the live view.

The live view runs in a real tmux window of the test's private server at
80×24 (``python -c "from tmux_codex.ui.top import main; main()"``), is driven
with ``send-keys`` and read with ``capture-pane``. Tasks come from the real
Codex through the ``cli`` fixture, or are written straight into a store where
the test needs to control their states. Every wait polls with a timeout.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import libtmux
import pytest
import wcwidth
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.captures import CAPTURES
from tests.codexbed import CodexEnv, captured_versions, fixtures_dir, wait_until
from tests.conftest import Cli, Client, attached_client
from tests.test_monitor import start, wait_stored
from tmux_codex.core.config import Config
from tmux_codex.core.models import STATES, Task, age
from tmux_codex.core.store import Store
from tmux_codex.sim.scenarios import COMPLETE_TEXT
from tmux_codex.tasks.context import Context
from tmux_codex.tmux.server import Tmux
from tmux_codex.ui.top import (
    LOG_TAIL,
    cells,
    fit,
    last_line,
    one_line,
    order_tasks,
    render_rows,
    run,
)

ROOT = Path(__file__).resolve().parent.parent
WAIT = 60.0
NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_task(**extra: Any) -> Task:
    values: dict[str, Any] = {
        "id": 1,
        "name": "fix-tests",
        "state": "working",
        "mode": "tui",
        "workdir": "/src/project",
        "argv": ["codex"],
        "created_at": stamp(NOW - timedelta(minutes=5)),
        "updated_at": stamp(NOW - timedelta(minutes=1)),
        "log_path": "/nonexistent/1.log",
        **extra,
    }
    return Task(**values)


def check_table(lines: list[str], width: int) -> None:
    """Never wider than ``width``, no escapes or control characters, no trailing spaces."""
    for line in lines:
        assert cells(line) <= width, (width, line)
        assert not CONTROL.search(line), line
        assert line == line.rstrip()


# -- the table (pure) ---------------------------------------------------------------


def test_header_and_columns_at_80() -> None:
    task = make_task(
        state="waiting",
        reason="approval",
        prompt_text="Would you like to run the following command?\n"
        "Reason: to see\n$ echo approved-command-ran\n› 1. Yes, proceed (y)",
    )
    lines = render_rows([task], 80, NOW)
    assert lines[0].split() == ["ID", "NAME", "STATE", "AGE", "LAST"]
    assert lines[1].split() == [
        "!",
        "1",
        "fix-tests",
        "waiting:approval",
        "5m",
        "$",
        "echo",
        "approved-command-ran",
    ]
    # The columns line up under the header.
    for column in ("NAME", "STATE", "LAST"):
        at = lines[0].index(column)
        assert lines[1][at] != " " and lines[1][at - 1] == " ", column
    check_table(lines, 80)


def test_no_tasks_is_just_the_header() -> None:
    assert render_rows([], 80, NOW) == ["  ID  NAME  STATE   AGE  LAST"]


def test_live_tasks_first_then_ended_most_recent_first() -> None:
    def at(minutes: int) -> str:
        return stamp(NOW - timedelta(minutes=minutes))

    tasks = [
        make_task(id=1, name="old-done", state="done", updated_at=at(50)),
        make_task(id=2, name="live-b", state="idle"),
        make_task(id=3, name="new-failed", state="failed", updated_at=at(2)),
        make_task(id=4, name="live-a", state="waiting", reason="question"),
        make_task(id=5, name="mid-killed", state="killed", updated_at=at(10)),
        make_task(id=6, name="lost-one", state="lost", updated_at=at(1)),
    ]
    assert [t.id for t in order_tasks(tasks)] == [2, 4, 6, 3, 5, 1]
    names = [line.split()[2] for line in render_rows(tasks, 80, NOW)[1:]]
    assert names == ["live-b", "live-a", "lost-one", "new-failed", "mid-killed", "old-done"]


def test_age_is_since_the_task_was_started() -> None:
    assert age(stamp(NOW - timedelta(seconds=7)), NOW) == "7s"
    assert age(stamp(NOW - timedelta(seconds=90)), NOW) == "1m"
    assert age(stamp(NOW - timedelta(hours=5, minutes=59)), NOW) == "5h"
    assert age(stamp(NOW - timedelta(days=12)), NOW) == "12d"
    assert age(stamp(NOW + timedelta(seconds=3)), NOW) == "0s"  # clocks differ a little
    assert age("yesterday", NOW) == "-" and age(None, NOW) == "-"
    # A state change (updated_at) does not reset it.
    task = make_task(updated_at=stamp(NOW), created_at=stamp(NOW - timedelta(hours=2)))
    assert render_rows([task], 80, NOW)[1].split()[4] == "2h"


def test_last_line_for_each_state(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    log.write_bytes(b"\x1b[1mcompiling\x1b[0m the parser\r\n\x1b[32mrunning 12 tests\x1b[0m\r\n")
    path = str(log)

    approval = "Would you like to run the following command?\n\n$ pytest -q\n\nyes (y)"
    assert last_line(make_task(state="waiting", reason="approval", prompt_text=approval)) == (
        "$ pytest -q"
    )
    question = "\n  Which database should I use?  \n1. sqlite\n2. postgres"
    assert last_line(make_task(state="waiting", reason="question", prompt_text=question)) == (
        "Which database should I use?"
    )
    message = "Done.\n\nI fixed\tthe\x1b[31m tests.\n"
    assert (
        last_line(make_task(state="idle", last_message=message)) == "Done. I fixed the [31m tests."
    )
    assert last_line(make_task(state="done", last_message="All good")) == "All good"
    assert last_line(make_task(state="failed", error="stream error: 500\nmore")) == (
        "stream error: 500 more"
    )
    # Otherwise (and when the field is empty): the last line of text in the log.
    assert last_line(make_task(state="working", log_path=path)) == "running 12 tests"
    assert last_line(make_task(state="idle", log_path=path)) == "running 12 tests"
    assert last_line(make_task(state="failed", exit_code=3)) == "exit status 3"
    assert last_line(make_task(state="starting")) == ""  # no log yet


def test_last_line_reads_only_the_log_tail_and_skips_tui_chrome(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    with log.open("wb") as fh:
        fh.write(b"an early line that is far back\n")
        fh.write(b"x" * (2 * LOG_TAIL) + b"\n")
        fh.write(b"\x1b]0;\xe2\xa0\xb4 Fake task | project\x07")  # a title: no text
        fh.write("• Ran pytest -q\r\n  └ 12 passed\r\n".encode())
        fh.write("\x1b[5;1H• Working (12s • esc to interrupt)\x1b[6;1H◦\x1b[7;1H12".encode())
        fh.write("\x1b[8;1H› Ask Codex to do anything\r\n".encode())
        fh.write("  gpt-5 medium · /src/project\r\n  ? for shortcuts   ⚠ 2 warnings\r\n".encode())
    task = make_task(state="working", log_path=str(log))
    assert last_line(task) == "└ 12 passed"
    with log.open("ab") as fh:  # the log grows: the cached line is not reused
        fh.write(b"\x1b[31mnew output\x1b[0m\n")
    assert last_line(task) == "new output"
    # A tail cut in the middle of a title does not show the title's text.
    log.write_bytes(b"first line\n\x1b]0;" + b"t" * LOG_TAIL + b" the title\x07\x1b[Hafter it\n")
    assert last_line(task) == "after it"


def test_last_line_of_a_real_log_still_being_written(tmp_path: Path) -> None:
    """Cut anywhere (mid-title, mid-character), the real Codex's bytes give a clean line."""
    data = (fixtures_dir("0.169.0") / "tui-slow-stream" / "raw.log").read_bytes()
    middle = len(data) // 2
    title = data.index(b"\x1b]0;", middle)
    char = data.index("⠴".encode(), middle)
    log = tmp_path / "live.log"
    task = make_task(state="working", log_path=str(log))
    seen = []
    for cut in [*range(title + 1, title + 40, 3), char + 1, char + 2, len(data)]:
        log.write_bytes(data[:cut])
        line = last_line(task)
        assert line and not line.startswith(("0;", "]")) and "\ufffd" not in line, (cut, line)
        assert "for shortcuts" not in line and "›" not in line
        seen.append(line)
    assert seen[-1] == "word36 word37 word38 word39 word40 slow stream finished."


@pytest.mark.parametrize("version", captured_versions())
@pytest.mark.parametrize("capture", [c.name for c in CAPTURES if c.mode == "tui"])
def test_last_line_never_shows_the_footer(tmp_path: Path, version: str, capture: str) -> None:
    """After every frame of the real Codex, LAST is no scrap of the footer's thread title.

    Codex 0.171.0 puts the first prompt in the footer, then redraws only the
    cells the generated title changes: ``Fak``, `` complete task``.
    """
    data = (fixtures_dir(version) / capture / "raw.log").read_bytes()
    titles = {t.decode() for t in re.findall(rb"\x1b\]0;([^\x07]*)\x07", data)}
    words = {w for title in titles for w in title.split() if w != "|"}
    log = tmp_path / "task.log"
    task = make_task(state="working", log_path=str(log))
    ends = [m.end() for m in re.finditer(rb"\x1b\[\?2026l", data)]
    assert len(ends) > 20
    for end in ends:
        log.write_bytes(data[:end])
        line = last_line(task)
        scrap = line.split() and all(any(t in w for w in words) for t in line.split())
        assert not scrap and not line.startswith("·"), (end, line)
        assert "for shortcuts" not in line and not line.startswith("›"), (end, line)


def test_last_line_after_the_generated_title_is_the_answer(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    log.write_bytes((fixtures_dir("0.171.0") / "tui-complete" / "raw.log").read_bytes())
    assert last_line(make_task(state="working", log_path=str(log))) == f"• {COMPLETE_TEXT}"


def test_narrow_and_wide_text_never_exceed_the_width() -> None:
    tasks = [
        make_task(
            id=7,
            name="日本語のタスク名前がとても長い",
            state="idle",
            last_message="完了しました" * 20,
        ),
        make_task(
            id=12345, name="a" * 60, state="waiting", reason="question", prompt_text="?" * 300
        ),
        make_task(id=3, name="x\x1b[31m\ny", state="failed", error="e\x07\x1b]0;t\x07" * 30),
        make_task(id=4, name="tab\tname", state="done", last_message="e\u0301" * 100),
    ]
    for width in (0, 1, 2, 5, 10, 20, 40, 60, 79, 80, 81, 132, 300):
        lines = render_rows(tasks, width, NOW)
        assert len(lines) == 5
        check_table(lines, width)
    at_80 = render_rows(tasks, 80, NOW)
    assert all(cells(line) >= 60 for line in at_80[1:])  # LAST gets the room that is left
    assert "12345" in at_80[2] and "waiting:question" in at_80[2]


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(min_size=1, max_size=40),
    state=st.sampled_from(STATES),
    reason=st.none() | st.sampled_from(["approval", "edit", "question"]),
    text=st.none() | st.text(max_size=200),
    width=st.integers(min_value=0, max_value=200),
)
def test_any_task_fits_any_width(
    name: str, state: str, reason: str | None, text: str | None, width: int
) -> None:
    task = make_task(
        name=name, state=state, reason=reason, prompt_text=text, last_message=text, error=text
    )
    lines = render_rows([task], width, NOW)
    assert len(lines) == 2
    check_table(lines, width)


def test_columns_of_wide_and_combining_characters() -> None:
    """Columns as a terminal counts them (wcwidth): CJK and emoji two, combining marks none."""
    assert cells("") == 0 and cells("fix-tests") == 9
    assert cells("日本語") == 6 and cells("한글") == 4 and cells("ｶﾀｶﾅ") == 4  # half-width kana
    assert cells("😀") == 2 and cells("ok 🚀") == 5
    # Emoji sequences: the wider of one picture and the sum of their code points (tmux 3.3a).
    assert cells("👍🏽") == 4 and cells("👩\u200d💻") == 4
    for sequence in ("👍🏽", "👩\u200d💻", "🇫🇷", "❤\ufe0f"):
        apart = sum(wcwidth.wcwidth(ch) for ch in sequence)
        assert cells(sequence) == max(wcwidth.wcswidth(sequence), apart)
    assert cells("e\u0301") == 1  # e + COMBINING ACUTE ACCENT: one é
    assert cells("cafe\u0301 na\u0308ive") == 10
    # A control character (top turns them into spaces first) counts as the space it becomes.
    assert cells("a\x1bb") == 3 and cells("\x07") == 1


def test_fit_cuts_at_a_whole_character() -> None:
    assert fit("日本語", 6) == "日本語"
    assert fit("日本語", 5) == "日本…"
    assert fit("日本語", 4) == "日…"  # 日本 and the ellipsis would take five
    assert fit("😀😀😀", 5) == "😀😀…" and fit("😀😀😀", 4) == "😀…"
    # Combining marks stay with their letter: the cut falls after them.
    assert fit("e\u0301" * 5, 3) == "e\u0301e\u0301…"
    assert fit("abc", 0) == "" and fit("abc", 1) == "…" and fit("abc", 3) == "abc"


@pytest.mark.parametrize(
    "text",
    [
        "👩\u200d💻 pair programming",  # a ZWJ sequence: one picture
        "🇫🇷🇩🇪🇯🇵 flags",  # regional indicator pairs
        "👍🏽👍🏿 skin tones",
        "❤\ufe0f hearts ❤",  # VS16 makes the heart an emoji
        "mixed 日本 e\u0301 😀 abc" * 3,
    ],
)
def test_emoji_sequences_fit_every_width(text: str) -> None:
    for width in range(0, cells(text) + 2):
        cut = fit(text, width)
        assert cells(cut) <= width, (width, cut)
        assert cut == text or (cut.endswith("…") and text.startswith(cut[:-1])) or not width


def test_wide_names_and_messages_keep_the_columns_aligned() -> None:
    tasks = [
        make_task(id=1, name="日本語", state="idle", last_message="完了しました 😀"),
        make_task(id=2, name="ascii", state="idle", last_message="done"),
        make_task(id=3, name="cafe\u0301", state="idle", last_message="e\u0301te\u0301"),
    ]
    lines = render_rows(tasks, 60, NOW)
    check_table(lines, 60)
    header = lines[0]
    for column, text in (("STATE", "idle"), ("LAST", "完了しました 😀")):
        at = cells(header[: header.index(column)])
        assert cells(lines[1][: lines[1].index(text)]) == at, (column, lines[1])
    assert cells(lines[3][: lines[3].index("idle")]) == cells(header[: header.index("STATE")])


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80), width=st.integers(min_value=0, max_value=100))
def test_fit_never_exceeds_the_width(text: str, width: int) -> None:
    text = one_line(text)
    cut = fit(text, width)
    assert cells(cut) <= width
    assert cut == text or (cut.endswith("…") and text.startswith(cut[:-1])) or not width


# -- --once on a real fleet ---------------------------------------------------------


def has_row(screen: str, name: str, text: str) -> bool:
    """Whether the row of task ``name`` on ``screen`` holds ``text``."""
    return any(f" {name} " in line and text in line for line in screen.splitlines())


def row_of(lines: list[str], name: str) -> str:
    found = [line for line in lines if f" {name} " in line or line.endswith(f" {name}")]
    assert len(found) == 1, (name, lines)
    return found[0]


@pytest.mark.e2e
def test_once_prints_the_fleet(
    cli: Cli, codex_env: CodexEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    work = codex_env.workdir()
    ended = start(cli, work, "[scenario:complete] hi", "-n", "ended-one")
    idle = start(cli, work, "[scenario:complete] hi", "-n", "idle-one")
    waiting = start(cli, work, "[scenario:approval-exec] go", "-n", "approve-me")
    wait_stored(cli, ended, "idle")
    cli.run("kill", str(ended))
    idle_row = wait_stored(cli, idle, "idle", with_message=True)
    wait_stored(cli, waiting, "waiting")

    ctx = Context(store=Store(cli.home), config=Config(), socket=cli.socket)
    try:
        assert run(ctx, once=True, width=80) == 0
    finally:
        ctx.store.close()
    lines = capsys.readouterr().out.splitlines()
    check_table(lines, 80)
    # TOKENS once a task's count is known (its Stop hook may still be on the way).
    assert [c for c in lines[0].split() if c != "TOKENS"] == ["ID", "NAME", "STATE", "AGE", "LAST"]
    # Live tasks by id, then the ended one.
    assert [line.split()[1] for line in lines[1:]] == [str(idle), str(waiting), str(ended)]
    waiting_row = row_of(lines, "approve-me")
    assert waiting_row.split()[3] == "waiting:approval"
    # The command, cut to what LAST has room for (less when TOKENS is shown).
    assert "  $ echo approved-command-ran >" in waiting_row and waiting_row.endswith("…")
    idle_line = row_of(lines, "idle-one")
    assert re.search(r" idle +\d+[sm]  ", idle_line)
    assert idle_row["last_message"] == COMPLETE_TEXT
    last = idle_line.split("  ")[-1]  # LAST: the message, cut to the room left at 80
    assert last.endswith("…") and len(last) > 20 and COMPLETE_TEXT.startswith(last[:-1])
    assert " killed " in row_of(lines, "ended-one")

    # The program, as 'tmux-codex top --once' runs it: the context from the environment.
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tmux_codex.ui.top import main; main()",
            "--once",
            "--width",
            "60",
        ],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    narrow = proc.stdout.splitlines()
    check_table(narrow, 60)
    assert len(narrow) == 4 and "$ echo" in row_of(narrow, "approve-me")


# -- the live view in a real tmux window --------------------------------------------


class TopPane:
    """``tmux-codex top`` running in a window of the test's tmux server."""

    def __init__(
        self,
        server: libtmux.Server,
        session: libtmux.Session,
        env: dict[str, str],
        width: int = 80,
        height: int = 24,
        code: str = "from tmux_codex.ui.top import main; main()",
    ) -> None:
        self.tmux = Tmux(str(server.socket_name))
        self.tmux.run("set-option", "-gw", "remain-on-exit", "on")
        target = f"{session.session_id}:"
        self.pane = self.tmux.run(
            "new-window", "-d", "-P", "-F", "#{pane_id}", "-t", target, "cat"
        )[0]
        self.window = self.tmux.run("display-message", "-p", "-t", self.pane, "#{window_id}")[0]
        self.resize(width, height)  # before top starts: it starts at this size
        # Through env(1): tmux would set PATH to its client's whatever '-e' says.
        argv = ["env", *(f"{key}={value}" for key, value in env.items()), sys.executable]
        command = "exec " + shlex.join([*argv, "-c", code])
        self.tmux.run("respawn-pane", "-k", "-t", self.pane, "-c", str(ROOT), command)

    def resize(self, width: int, height: int) -> None:
        self.tmux.run("resize-window", "-t", self.window, "-x", str(width), "-y", str(height))

    def screen(self, escapes: bool = False) -> list[str]:
        args = ["capture-pane", "-p", "-t", self.pane] + (["-e"] if escapes else [])
        return self.tmux.run(*args)

    def text(self) -> str:
        return "\n".join(self.screen())

    def keys(self, *names: str) -> None:
        self.tmux.run("send-keys", "-t", self.pane, *names)

    def wait(self, predicate: Callable[[str], bool], what: str, timeout: float = WAIT) -> str:
        seen = [""]

        def check() -> bool:
            seen[0] = self.text()
            return predicate(seen[0])

        try:
            wait_until(check, timeout, interval=0.05, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen:\n{seen[0]}") from None
        return seen[0]

    def wait_for(self, *texts: str, timeout: float = WAIT) -> str:
        return self.wait(lambda s: all(t in s for t in texts), f"{texts} on the screen", timeout)

    def dead_status(self) -> int | None:
        """The exit status once top has exited (128 + N for signal N); None while it runs.

        tmux may see the pane's terminal close a moment before it learns the status.
        """
        fmt = "#{pane_dead} #{pane_dead_status} #{pane_dead_signal}"
        line = self.tmux.run("display-message", "-p", "-t", self.pane, fmt)[0]
        dead, status, killed = line.split(" ")
        if dead != "1" or not (status or killed):
            return None
        return int(status) if status else 128 + int(killed)

    def wait_exit(self) -> int:
        """Wait for top to exit; its exit status.

        tmux 3.3a sometimes misses a pane process's SIGCHLD (the pane stays
        dead with no status and an unreaped zombie; see ``CodexPane.wait_dead``):
        another SIGCHLD makes it reap.
        """
        dead_since: list[float] = []

        def exited() -> bool:
            if self.dead_status() is not None:
                return True
            dead = self.tmux.run("display-message", "-p", "-t", self.pane, "#{pane_dead}")
            if dead == ["1"]:
                dead_since.append(time.monotonic())
                if dead_since[-1] - dead_since[0] > 1.0:
                    server_pid = self.tmux.run("display-message", "-p", "#{pid}")[0]
                    os.kill(int(server_pid), signal.SIGCHLD)
            return False

        wait_until(exited, WAIT, what="top to exit")
        status = self.dead_status()
        assert status is not None
        return status

    def selected(self) -> str:
        """The selected (reverse video) row, without its escapes."""
        reverse = re.compile(r"\x1b\[(?:[0-9;]*;)?7(?:;[0-9;]*)?m")
        rows = [line for line in self.screen(escapes=True)[1:-1] if reverse.search(line)]
        if len(rows) != 1:  # caught mid-redraw: no row yet; callers wait for one
            return ""
        return re.sub(r"\x1b\[[0-9;]*m", "", rows[0])


def top_env(home: Path, server: libtmux.Server, tmp_path: Path) -> dict[str, str]:
    return {
        "TMUX_CODEX_HOME": str(home),
        "TMUX_CODEX_SOCKET": str(server.socket_name),
        "TMUX_CODEX_CONFIG": str(tmp_path / "no-config.toml"),
    }


def cli_env(cli: Cli) -> dict[str, str]:
    keys = ("TMUX_CODEX_HOME", "TMUX_CODEX_SOCKET", "TMUX_CODEX_CONFIG", "PATH")
    return {key: cli.env[key] for key in keys}


def assert_fits(screen: list[str], width: int, height: int) -> None:
    assert len(screen) <= height
    for line in screen:
        assert cells(line) <= width, line


@pytest.mark.e2e
def test_top_approves_the_selected_task_and_quits(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server, session: libtmux.Session
) -> None:
    work = codex_env.workdir()
    idle = start(cli, work, "[scenario:complete] hi", "-n", "idle-one")
    waiting = start(cli, work, "[scenario:approval-exec] go", "-n", "approve-me")
    wait_stored(cli, idle, "idle", with_message=True)
    wait_stored(cli, waiting, "waiting")

    top = TopPane(server, session, cli_env(cli))

    def drawn(text: str) -> bool:
        lines = text.splitlines()
        return (
            all(t in text for t in ("$ echo approved-command-ran", "q quit"))
            and has_row(text, "idle-one", " idle ")
            and has_row(text, "approve-me", "waiting:approval")
            and len(lines) > 1
            and COMPLETE_TEXT[:20] in lines[1]
        )

    screen = top.wait(drawn, "the fleet drawn", timeout=60).splitlines()
    assert_fits(screen, 80, 24)
    header = [c for c in screen[0].split() if c != "TOKENS"]
    assert header == ["ID", "NAME", "STATE", "AGE", "LAST"]
    wait_until(lambda: "idle-one" in top.selected(), WAIT, what="the first task selected")

    top.keys("Down")
    wait_until(lambda: "approve-me" in top.selected(), WAIT, what="the waiting task selected")
    top.keys("a")
    left = wait_stored(cli, waiting, "starting", "working", "idle", "stalled")
    assert left["state"] != "waiting"
    top.wait_for("approve-me) approved")
    # No key pressed since: the monitor's change to idle shows by itself.
    top.wait(lambda s: has_row(s, "approve-me", " idle "), "approve-me idle", timeout=60)
    wait_stored(cli, waiting, "idle")

    top.keys("a")  # nothing waits now: one line in the status line, no crash
    top.wait_for("is idle: nothing to approve")
    assert top.dead_status() is None
    top.keys("q")
    assert top.wait_exit() == 0


@pytest.fixture
def client(server: libtmux.Server, session: libtmux.Session) -> Iterator[Client]:
    """A tmux client attached to ``session`` on an 80×24 pseudo-terminal."""
    with attached_client(server, session, 80, 24) as attached:
        yield attached


@pytest.mark.e2e
def test_in_a_popup_enter_switches_the_client_to_the_task_window(
    cli: Cli, codex_env: CodexEnv, client: Client, tmp_path: Path
) -> None:
    """As tmux.conf would run it: ``display-popup -E 'tmux-codex top'``; Enter, and it closes."""
    task = start(cli, codex_env.workdir(), "[scenario:complete] hi", "-n", "go-there")
    window = wait_stored(cli, task, "idle")["window_id"]
    tmux = Tmux(cli.socket)
    assert tmux.run("list-clients", "-F", "#{window_id}") != [window]
    status = tmp_path / "top-status"
    argv = ["env", *(f"{k}={v}" for k, v in cli_env(cli).items()), sys.executable, "-c"]
    command = shlex.join([*argv, "from tmux_codex.ui.top import main; main()"])
    command = f"cd {shlex.quote(str(ROOT))} && {command}; echo $? > {shlex.quote(str(status))}"
    name = tmux.run("list-clients", "-F", "#{client_name}")[0]
    # display-popup returns when the popup closes.
    popup = subprocess.Popen(
        [*tmux.base(), "display-popup", "-c", name, "-E", "-w", "80", "-h", "24", command]
    )
    try:
        wait_until(lambda: client.seen("go-there") and client.seen("q quit"), WAIT, what="top")
        client.type(b"\r")
        wait_until(lambda: popup.poll() is not None, WAIT, what="the popup to close")
    finally:
        if popup.poll() is None:
            popup.kill()
        popup.wait(WAIT)
    assert status.read_text().strip() == "0"
    wait_until(
        lambda: tmux.run("list-clients", "-F", "#{window_id}") == [window],
        WAIT,
        what="the client on the task's window",
    )


# -- the live view on a store the test writes ---------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Path, Store]]:
    path = tmp_path / "home"
    with Store(path) as store:
        yield path, store


def add(store: Store, name: str, state: str = "working", **fields: Any) -> Task:
    values = {"state": state, "mode": "tui", "workdir": "/w", "argv": ["codex"]}
    values["log_path"] = str(store.home / "logs" / "{id}.log")
    task = store.add_task({**values, **fields}, name, name)
    return task


def test_table_follows_the_store_and_the_logs_without_a_key(
    home: tuple[Path, Store], server: libtmux.Server, session: libtmux.Session, tmp_path: Path
) -> None:
    path, store = home
    alpha = add(store, "alpha")
    Path(alpha.log_path).write_bytes(b"\x1b[1mcompiling the parser\x1b[0m\r\n")
    # No clock tick for a minute: whatever changes on screen, an event brought.
    code = "import tmux_codex.ui.top as top; top.TICK = 60.0; top.main()"
    top = TopPane(server, session, top_env(path, server, tmp_path), code=code)
    top.wait_for("alpha", "working", "compiling the parser", "no monitor runs")

    # New bytes in its log: LAST follows (the logs/ watch).
    with open(alpha.log_path, "ab") as fh:
        fh.write(b"\x1b[32mrunning the tests now\x1b[0m\r\n")
    top.wait_for("running the tests now")

    # A state change in the store, by another process (the monitor): it shows.
    store.set_state(
        alpha.id, "waiting", reason="approval", prompt_text="Run it?\n$ pytest -q\nyes (y)"
    )
    top.wait_for("waiting:approval", "$ pytest -q")
    add(store, "beta", state="idle", last_message="beta finished its work")
    screen = top.wait_for("beta", "beta finished its work")
    assert screen.index("alpha") < screen.index("beta")
    store.set_state(alpha.id, "done", last_message="alpha is done")
    top.wait(
        lambda s: s.index("beta") < s.index("alpha") and "alpha is done" in s,
        "alpha ended, listed after beta",
    )
    assert_fits(top.screen(), 80, 24)
    top.keys("Escape")
    assert top.wait_exit() == 0


def test_small_terminals_and_resizes(
    home: tuple[Path, Store], server: libtmux.Server, session: libtmux.Session, tmp_path: Path
) -> None:
    path, store = home
    for n in range(30):  # more tasks than rows
        add(store, f"task-{n:02d}", last_message=f"message {n}", state="idle")
    top = TopPane(server, session, top_env(path, server, tmp_path))
    top.wait_for("task-00", "task-21")
    screen = top.screen()
    assert "task-22" not in "\n".join(screen)  # 22 rows of tasks fit at 80×24
    assert_fits(screen, 80, 24)

    top.keys(*["Down"] * 25)  # the selection scrolls into view
    wait_until(lambda: "task-25" in top.selected(), WAIT, what="task-25 selected")
    assert "task-00" not in top.text()

    def row_has(row: int, text: str) -> Callable[[str], bool]:
        return lambda s: len(s.splitlines()) > row and text in s.splitlines()[row]

    top.resize(30, 6)  # 4 rows of tasks: the selected one stays in view
    top.wait(row_has(1, "task-22"), "task-22 first at 30×6")
    top.wait(row_has(4, "task-25"), "task-25 last at 30×6")
    wait_until(lambda: "task-25" in top.selected(), WAIT, what="task-25 still selected")
    top.resize(12, 3)  # one row of tasks: the selected one
    top.wait(row_has(1, "26"), "task-25 (id 26) alone at 12×3")
    for width, height in ((5, 1), (1, 1), (40, 2)):
        top.resize(width, height)
        assert top.dead_status() is None, f"top died at {width}×{height}"
    top.wait(lambda s: s.startswith("  ID  NAME"), "the header alone at 40×2")
    top.resize(30, 6)
    top.wait_for("task-25", "ID")
    top.resize(100, 30)
    top.wait(lambda s: "message 25" in s and "task-02" in s, "the table at 100×30")
    top.keys("q")
    assert top.wait_exit() == 0


def write_long_log(store: Store) -> Task:
    task = add(store, "chatty", state="idle", last_message="said a lot")
    with open(task.log_path, "wb") as fh:
        for n in range(1, 301):
            fh.write(f"\x1b[36mline {n} of the log\x1b[0m\r\n".encode())
        fh.write(b"the end of the log\r\n")
    return task


def test_log_view_in_less(
    home: tuple[Path, Store], server: libtmux.Server, session: libtmux.Session, tmp_path: Path
) -> None:
    path, store = home
    write_long_log(store)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**top_env(path, server, tmp_path), "TMPDIR": str(temp), "LESS": ""}
    top = TopPane(server, session, env)
    top.wait_for("chatty", "said a lot")
    top.keys("l")
    screen = top.wait_for("the end of the log", "line 290 of the log")
    assert "said a lot" not in screen  # the table is gone while less runs
    [copy] = list(temp.iterdir())
    assert copy.stat().st_mode & 0o777 == 0o600
    assert "\x1b" not in copy.read_text()  # the readable text, not the raw bytes
    top.keys("q")
    top.wait_for("chatty", "said a lot", "no monitor runs")
    wait_until(lambda: not any(temp.iterdir()), WAIT, what="the temporary copy removed")
    top.keys("q")
    assert top.wait_exit() == 0


def test_log_view_without_less(
    home: tuple[Path, Store], server: libtmux.Server, session: libtmux.Session, tmp_path: Path
) -> None:
    path, store = home
    write_long_log(store)
    bin_dir = tmp_path / "bin"  # tmux, and no less
    bin_dir.mkdir()
    tmux_bin = subprocess.run(
        ["sh", "-c", "command -v tmux"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (bin_dir / "tmux").symlink_to(tmux_bin)
    env = {**top_env(path, server, tmp_path), "PATH": str(bin_dir)}
    top = TopPane(server, session, env)
    top.wait_for("chatty")
    top.keys("l")
    top.wait_for("the end of the log", "lines 279-301 of 301")
    top.keys("g")
    top.wait_for("line 1 of the log", "lines 1-23 of 301")
    top.keys("q")
    top.wait_for("chatty", "said a lot")
    top.keys("q")
    assert top.wait_exit() == 0


def test_tokens_column_when_there_is_room() -> None:
    counted = Task(
        1, "counted", "done", "exec", "/w", [], "2026-01-01T00:00:00.000000Z",
        "2026-01-01T00:00:00.000000Z", "/nonexistent.log", tokens={"total": 12345},
    )  # fmt: skip
    wide = render_rows([counted], 100, NOW)
    assert wide[0].split() == ["ID", "NAME", "STATE", "AGE", "TOKENS", "LAST"]
    assert "12.3k" in wide[1]
    narrow = render_rows([counted], 50, NOW)
    assert "TOKENS" not in narrow[0] and all(cells(line) <= 50 for line in narrow)
