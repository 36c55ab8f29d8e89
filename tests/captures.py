"""Scripted walks of the real Codex through each fake-model scenario.

Each :class:`Capture` starts Codex in a tmux pane and walks through steps:
wait for a screen, press keys, paste a message. A ``Snap`` step records the
pane as a named state. The tests play every capture (the real Codex must reach
every snapped state); ``scripts/capture-screens`` plays them and saves each
snapped state under ``tests/fixtures/codex-<version>/``: the screen text, the
pane title, and the raw ``pipe-pane`` bytes up to that moment, one folder per
Codex version. Those files are the ground truth the state classifier is tested
against, on every captured version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.codexbed import CodexEnv, CodexPane, fixtures_dir, wait_until
from tmux_codex.codex.version import CODEX_VERSION
from tmux_codex.sim import scenarios as sc

#: The pinned version's captures.
FIXTURES = fixtures_dir(CODEX_VERSION)

APPROVAL_PROMPT = "Would you like to run the following command?"
EDIT_PROMPT = "Would you like to make the following edits?"
QUESTION_PROMPT = "Question 1/1"
TRUST_PROMPT = "Trust this folder?"
TURN_DONE = "Worked for"
ERROR_MARK = "■"


@dataclass(frozen=True)
class Screen:
    """Wait until every one of ``texts`` is on screen."""

    texts: tuple[str, ...]
    timeout: float = 60.0


@dataclass(frozen=True)
class Matches:
    """Wait until the screen matches ``pattern`` (a regex)."""

    pattern: str
    timeout: float = 60.0


@dataclass(frozen=True)
class Dead:
    """Wait until the process exits with ``status``."""

    status: int
    timeout: float = 90.0


@dataclass(frozen=True)
class Keys:
    """Send tmux key names to the pane."""

    keys: tuple[str, ...]


@dataclass(frozen=True)
class KeysUntil:
    """Send keys until ``text`` is on screen (the TUI ignores keys until it is ready).

    The screen is checked before each press, so a key that toggles a mode is
    never pressed once the mode is on.
    """

    keys: tuple[str, ...]
    text: str
    gone: bool = False  # press until ``text`` has left the screen instead
    timeout: float = 60.0
    every: float = 2.0

    def done(self, screen: str) -> bool:
        return (self.text not in screen) if self.gone else (self.text in screen)


@dataclass(frozen=True)
class Paste:
    """Type a message into the composer by bracketed paste, then Enter."""

    text: str


@dataclass(frozen=True)
class Settled:
    """Wait until the turn has ended everywhere: no spinner or "Action Required"
    in the pane title, and the screen the same on two captures in a row."""

    timeout: float = 60.0


@dataclass(frozen=True)
class Snap:
    """Record the pane as state ``name``; ``expect`` is what a classifier must say."""

    name: str
    state: str
    reason: str | None = None


Step = Screen | Matches | Dead | Keys | KeysUntil | Paste | Settled | Snap


@dataclass(frozen=True)
class Capture:
    name: str
    mode: str  # "tui" or "exec"
    prompt: str | None
    steps: tuple[Step, ...]
    width: int = 120
    height: int = 40
    git: bool = False
    trusted: bool = True
    files: tuple[tuple[str, str], ...] = ()  # files the workdir must hold at the end
    args: tuple[str, ...] = ()  # extra Codex arguments


def tag(scenario: str, text: str = "please do the task") -> str:
    return f"[scenario:{scenario}] {text}"


def _approval(
    name: str,
    scenario: str,
    prompt_text: str,
    reason: str,
    width: int = 120,
    height: int = 40,
    files: tuple[tuple[str, str], ...] = (),
    args: tuple[str, ...] = (),
) -> Capture:
    return Capture(
        name,
        "tui",
        tag(scenario),
        (
            Screen((prompt_text, "Press enter to confirm or esc to cancel")),
            Snap("waiting", "waiting", reason),
            KeysUntil(("y",), prompt_text, gone=True),
            Screen((TURN_DONE,)),
            Settled(),
            Snap("idle", "idle"),
        ),
        width=width,
        height=height,
        files=files,
        args=args,
    )


READ_ONLY = ("--sandbox", "read-only")

CAPTURES: tuple[Capture, ...] = (
    Capture(
        "tui-complete",
        "tui",
        tag("complete"),
        (
            Screen((sc.COMPLETE_TEXT, TURN_DONE)),
            Settled(),
            Snap("idle", "idle"),
        ),
    ),
    _approval(
        "tui-approval-exec",
        "approval-exec",
        APPROVAL_PROMPT,
        "approval",
        files=(("approval-exec.txt", "approved-command-ran\n"),),
    ),
    _approval(
        "tui-approval-exec-80x24", "approval-exec", APPROVAL_PROMPT, "approval", width=80, height=24
    ),
    Capture(
        "tui-approval-exec-deny",
        "tui",
        tag("approval-exec"),
        (
            Screen((APPROVAL_PROMPT,)),
            Snap("waiting", "waiting", "approval"),
            KeysUntil(("Escape",), APPROVAL_PROMPT, gone=True),
            Screen(("You canceled the request", "Conversation interrupted")),
            Settled(),
            Snap("idle", "idle"),
        ),
    ),
    # Inside a writable workspace Codex applies edits without asking; a
    # read-only sandbox makes every edit ask.
    _approval(
        "tui-approval-patch",
        "approval-patch",
        EDIT_PROMPT,
        "edit",
        files=((sc.PATCH_FILE, sc.PATCH_BODY + "\n"),),
        args=READ_ONLY,
    ),
    _approval(
        "tui-approval-patch-80x24",
        "approval-patch",
        EDIT_PROMPT,
        "edit",
        width=80,
        height=24,
        args=READ_ONLY,
    ),
    Capture(
        "tui-ask-user",
        "tui",
        None,
        (
            Screen(("Ask Codex to do anything",)),
            KeysUntil(("BTab",), "Plan mode"),
            Paste(tag("ask-user")),
            Screen((QUESTION_PROMPT, sc.QUESTION_TEXT, "enter to submit answer")),
            Snap("waiting", "waiting", "question"),
            KeysUntil(("Enter",), QUESTION_PROMPT, gone=True),
            Screen((sc.QUESTION_DONE, TURN_DONE)),
            Settled(),
            Snap("idle", "idle"),
        ),
    ),
    Capture(
        "tui-slow-stream",
        "tui",
        tag("slow-stream"),
        (
            Screen(("word3 ",)),
            Snap("working", "working"),
            Screen((sc.SLOW_STREAM_DONE, TURN_DONE)),
            Settled(),
            Snap("idle", "idle"),
        ),
    ),
    Capture(
        "tui-slow-exec",
        "tui",
        tag("slow-exec"),
        (
            Matches(r"Working \(\d+s"),
            Snap("working", "working"),
            Screen((sc.SLOW_EXEC_DONE, TURN_DONE)),
            Settled(),
            Snap("idle", "idle"),
        ),
    ),
    Capture(
        "tui-http-500",
        "tui",
        tag("http-500"),
        (
            Screen((ERROR_MARK,)),
            Snap("error", "idle"),
        ),
    ),
    Capture(
        "tui-http-400",
        "tui",
        tag("http-400"),
        (
            Screen((ERROR_MARK,)),
            Snap("error", "idle"),
        ),
    ),
    Capture(
        "tui-close",
        "tui",
        tag("close"),
        (
            Screen((ERROR_MARK,)),
            Snap("error", "idle"),
        ),
    ),
    Capture(
        "tui-hang",
        "tui",
        tag("hang"),
        (
            Matches(r"Working \(\d+s"),
            Snap("working", "working"),
            Screen((ERROR_MARK,)),
            Snap("error", "idle"),
        ),
    ),
    Capture(
        "tui-hang-headers",
        "tui",
        tag("hang-headers"),
        (
            Matches(r"Working \(\d+s"),
            Snap("working", "working"),
            Matches(r"Working \((?:[6-9]|\d\d+)s"),
            Snap("silent", "working"),
        ),
    ),
    Capture(
        "tui-trust",
        "tui",
        tag("complete"),
        (
            Screen((TRUST_PROMPT, "1. Trust and continue")),
            Snap("waiting", "waiting", "trust"),
            KeysUntil(("Enter",), TRUST_PROMPT, gone=True),
            Screen((sc.COMPLETE_TEXT, TURN_DONE)),
            Settled(),
            Snap("idle", "idle"),
        ),
        git=True,
        trusted=False,
    ),
    Capture(
        "tui-exit",
        "tui",
        tag("complete"),
        (
            Screen((sc.COMPLETE_TEXT, TURN_DONE)),
            KeysUntil(("C-c",), "codex resume", every=3.0),
            Dead(0),
            Screen(("codex resume",)),
            Snap("done", "done"),
        ),
    ),
    Capture(
        "exec-complete",
        "exec",
        tag("complete"),
        (
            Dead(0),
            Snap("done", "done"),
        ),
    ),
    Capture(
        "exec-make-file",
        "exec",
        tag("make-file"),
        (
            Dead(0),
            Snap("done", "done"),
        ),
        files=((sc.MAKE_FILE_NAME, "made-by-codex\n"),),
    ),
    Capture(
        "exec-slow-exec",
        "exec",
        tag("slow-exec"),
        (
            Screen(("exec",)),
            Snap("working", "working"),
            Dead(0),
            Snap("done", "done"),
        ),
    ),
    Capture(
        "exec-http-400",
        "exec",
        tag("http-400"),
        (
            Dead(1),
            Snap("failed", "failed"),
        ),
    ),
)


def by_name(name: str) -> Capture:
    for capture in CAPTURES:
        if capture.name == name:
            return capture
    raise KeyError(name)


def argv_for(capture: Capture, env: CodexEnv, workdir: Path) -> list[str]:
    if capture.mode == "exec":
        assert capture.prompt is not None
        return env.exec_argv(workdir, capture.prompt, *capture.args)
    return env.tui_argv(capture.prompt, *capture.args)


Saver = Callable[[Snap, CodexPane], None]


def play(capture: Capture, pane: CodexPane, save: Saver | None = None) -> list[str]:
    """Walk ``capture``'s steps on ``pane``; returns the snapped state names."""
    snapped: list[str] = []
    for step in capture.steps:
        if isinstance(step, Screen):
            for text in step.texts:
                pane.wait_screen(text, step.timeout)
        elif isinstance(step, Matches):
            pane.wait_match(step.pattern, step.timeout)
        elif isinstance(step, Dead):
            status = pane.wait_dead(step.timeout)
            assert status == step.status, f"exit status {status}, expected {step.status}"
        elif isinstance(step, Keys):
            pane.keys(*step.keys)
        elif isinstance(step, Settled):
            settle(pane, step.timeout)
        elif isinstance(step, KeysUntil):
            press_until(pane, step)
        elif isinstance(step, Paste):
            pane.paste(step.text)
        elif isinstance(step, Snap):
            if save is not None:
                save(step, pane)
            snapped.append(step.name)
    return snapped


def settle(pane: CodexPane, timeout: float) -> None:
    last = [""]

    def settled() -> bool:
        title = pane.title()
        busy = "Action Required" in title or any("\u2800" <= ch <= "\u28ff" for ch in title)
        screen = pane.screen()
        same = screen == last[0]
        last[0] = screen
        return same and not busy

    wait_until(settled, timeout, interval=0.3, what="the pane to settle")


def press_until(pane: CodexPane, step: KeysUntil) -> None:
    deadline = time.monotonic() + step.timeout
    while not step.done(pane.screen()):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"pressing {step.keys} never got {step.text!r} "
                f"{'off' if step.gone else 'on'} screen"
            )
        pane.keys(*step.keys)
        try:
            wait_until(lambda: step.done(pane.screen()), step.every, what=step.text)
        except AssertionError:
            continue


def snapshot(pane: CodexPane, snap: Snap, capture: Capture) -> dict[str, object]:
    """What is saved of a pane in a state (the screen goes to its own file)."""
    return {
        "capture": capture.name,
        "state_name": snap.name,
        "expect": {"state": snap.state, "reason": snap.reason},
        "mode": capture.mode,
        "pane_title": pane.title(),
        "width": capture.width,
        "height": capture.height,
        "pane_dead": pane.dead(),
        "exit_status": pane.exit_status() if pane.dead() else None,
        "cursor": [int(pane.fmt("#{cursor_x}") or 0), int(pane.fmt("#{cursor_y}") or 0)],
        "raw_bytes": len(pane.raw()),
    }


def fixture_dir(capture: Capture, version: str = CODEX_VERSION) -> Path:
    return fixtures_dir(version) / capture.name


def load_fixture(
    capture: str, state: str, version: str = CODEX_VERSION
) -> tuple[str, dict[str, object], bytes]:
    """Screen text, metadata and raw bytes (up to the snapshot) of a saved state."""
    base = fixtures_dir(version) / capture
    meta = json.loads((base / f"{state}.json").read_text(encoding="utf-8"))
    screen = (base / f"{state}.screen.txt").read_text(encoding="utf-8")
    raw = (base / "raw.log").read_bytes()[: int(meta["raw_bytes"])]
    return screen, meta, raw
