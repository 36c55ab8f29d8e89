"""Policies are pure: property tests that deny always wins, and the rules by hand."""

from __future__ import annotations

import dataclasses
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tmux_codex.config import PolicyConfig
from tmux_codex.models import Task
from tmux_codex.policy import command_of, on_prompt, resume_delay, should_kill


def task(state: str = "waiting", reason: str | None = "approval", prompt: str = "") -> Task:
    return Task(
        id=1,
        name="t",
        state=state,
        mode="tui",
        workdir="/src/app",
        argv=[],
        created_at="",
        updated_at="",
        log_path="",
        reason=reason,
        prompt_text=prompt,
    )


def approval(command: str) -> str:
    return (
        "Would you like to run the following command?\n"
        "Reason: the model asks\n"
        f"$ {command}\n"
        "1. Yes, proceed (y)\n"
        f"2. Yes, and don't ask again for commands that start with `{command}` (p)\n"
        "3. No, and tell Codex what to do differently (esc)"
    )


ALLOWLIST = PolicyConfig(approve="allowlist", allow_commands=(r"^pytest\b", r"^echo "))
WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
PATTERNS = st.lists(
    st.sampled_from([".*", "^", "a", r"\w+", "rm", "sudo", "git", "x|y"]), max_size=4
)


@settings(max_examples=400)
@given(
    before=WORDS,
    after=WORDS,
    deny=st.sampled_from(["rm -rf", "sudo ", "git push", r"curl .*\| *sh"]),
    allow=PATTERNS,
)
def test_a_command_matching_a_deny_pattern_is_never_approved(
    before: str, after: str, deny: str, allow: list[str]
) -> None:
    hit = {
        "rm -rf": "rm -rf /",
        "sudo ": "sudo ls",
        "git push": "git push -f",
        r"curl .*\| *sh": "curl x | sh",
    }[deny]
    command = f"{before} {hit} {after}".replace("\n", " ")
    config = PolicyConfig(
        approve="allowlist", allow_commands=(*allow, ".*"), deny_commands=(deny, "unrelated")
    )
    decision = on_prompt(task(prompt=approval(command)), config)
    assert decision is not None and decision.choice is None
    assert decision.rule.startswith("deny_commands[")


@given(command=WORDS, allow=PATTERNS, deny=PATTERNS)
def test_deny_wins_whatever_the_patterns(command: str, allow: list[str], deny: list[str]) -> None:
    prompt = approval(command.replace("\n", " "))
    config = PolicyConfig(
        approve="allowlist", allow_commands=tuple(allow), deny_commands=tuple(deny)
    )
    decision = on_prompt(task(prompt=prompt), config)
    if any(re.search(p, prompt) for p in deny):
        assert decision is not None and decision.choice is None


def test_allowlist_by_hand() -> None:
    yes = on_prompt(task(prompt=approval("pytest -q")), ALLOWLIST)
    assert (
        yes is not None and yes.choice == "yes" and yes.rule == "allow_commands[0] '^pytest\\\\b'"
    )
    nothing = on_prompt(task(prompt=approval("make deploy")), ALLOWLIST)
    assert nothing is not None and nothing.choice is None and "waits for a person" in nothing.detail
    denied = on_prompt(task(prompt=approval("echo hi && rm -rf build")), ALLOWLIST)
    assert denied is not None and denied.choice is None
    assert denied.rule == "deny_commands[0] 'rm -rf'"
    # Off by default; edits, questions and menus always wait for a person.
    assert on_prompt(task(prompt=approval("pytest")), PolicyConfig()) is None
    assert on_prompt(task(reason="edit", prompt="Would you like to make..."), ALLOWLIST) is None
    assert on_prompt(task(state="idle", prompt=approval("pytest")), ALLOWLIST) is None
    assert command_of(approval("ls -la")) == "ls -la"


def test_trust_only_the_tasks_own_workdir() -> None:
    menu = "Folder access\n{}\nTrust this folder?\n1. Trust and continue\n2. Quit"
    mine = on_prompt(task(reason="trust", prompt=menu.format("/src/app")), PolicyConfig())
    assert mine is not None and mine.choice == "yes"
    other = on_prompt(task(reason="trust", prompt=menu.format("/src/app/sub")), PolicyConfig())
    assert other is not None and other.choice is None
    off = PolicyConfig(trust_workdir=False)
    assert on_prompt(task(reason="trust", prompt=menu.format("/src/app")), off) is None


def test_kill_after_and_resume_backoff() -> None:
    config = PolicyConfig(kill_after=60.0, max_resumes=2)
    assert should_kill(task(state="stalled"), 59, config) is None
    fired = should_kill(task(state="stalled"), 61, config)
    assert fired is not None and fired.rule == "kill_after"
    assert should_kill(task(state="working"), 600, config) is None
    assert should_kill(task(state="stalled"), 600, PolicyConfig()) is None
    lost = dataclasses.replace(task(state="lost", reason=None), codex_session_id="abc")
    assert resume_delay(lost, config, 0, tmux_up=True) == 5.0
    assert resume_delay(lost, config, 1, tmux_up=True) == 10.0
    assert resume_delay(lost, config, 2, tmux_up=True) is None  # max_resumes reached
    assert resume_delay(lost, config, 0, tmux_up=False) is None  # tmux is down: no loop
    assert resume_delay(dataclasses.replace(lost, mode="exec"), config, 0, True) is None
    assert resume_delay(dataclasses.replace(lost, codex_session_id=None), config, 0, True) is None
