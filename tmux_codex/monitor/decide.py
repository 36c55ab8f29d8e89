"""Decide: what the policies (:mod:`tmux_codex.policy.rules`) say to do, as :data:`Action` s.

No I/O: the loop hands in a task as the store has it (and, for a lost or
failed task, the :class:`ResumeFacts` the act stage gathered); the act stage
carries the actions out. The one thing decide remembers, in the
:class:`Book`, is the prompt it last decided on for each waiting task, so a
prompt is decided once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tmux_codex.core.config import PolicyConfig
from tmux_codex.core.models import Task
from tmux_codex.monitor.timers import looping
from tmux_codex.monitor.track import Track
from tmux_codex.policy.rules import on_prompt, resume_delay, should_kill


@dataclass(frozen=True)
class Answer:
    """Answer the prompt ``prompt`` with ``choice`` (``trust_workdir``, the allowlist)."""

    task_id: int
    choice: str
    rule: str
    prompt: str | None


@dataclass(frozen=True)
class Note:
    """Record that a policy leaves a prompt to a person, and why (an event ``by: policy``)."""

    task_id: int
    text: str


@dataclass(frozen=True)
class Kill:
    """``kill_after``: kill the task."""

    task_id: int
    why: str


@dataclass(frozen=True)
class Resume:
    """``max_resumes``: resume the task's Codex session now."""

    task_id: int


@dataclass(frozen=True)
class PlanResume:
    """``max_resumes``: resume the task after ``delay`` seconds (its backoff)."""

    task_id: int
    delay: float
    name: str


#: What decide gives the act stage. Answer, Kill and Resume wait for tmux or Codex:
#: a worker carries them out, one at a time per task.
Action = Answer | Note | Kill | Resume | PlanResume


@dataclass
class Book:
    """What the policies' side remembers between turns."""

    acting: set[int] = field(default_factory=set)  # an action is under way (its worker clears it)
    decided: dict[int, str | None] = field(default_factory=dict)  # the prompt last decided on
    resume_due: dict[int, float] = field(default_factory=dict)  # planned resumes (monotonic)


@dataclass(frozen=True)
class ResumeFacts:
    """What ``max_resumes`` needs to know of a lost or failed task beyond the task itself."""

    resumes: int  # automatic resumes made so far
    tmux_up: bool  # its tmux server runs (resuming into a dead server would loop)


def wants_resume_facts(task: Task, book: Book) -> bool:
    """Whether to gather :class:`ResumeFacts` for this task: lost or failed, nothing planned."""
    return (
        task.state in ("lost", "failed")
        and task.id not in book.resume_due
        and task.id not in book.acting
    )


def on_state(
    task: Task, config: PolicyConfig, book: Book, facts: ResumeFacts | None = None
) -> list[Action]:
    """What the policies say of a task that just changed state (or whose action ended)."""
    actions: list[Action] = []
    if facts is not None and wants_resume_facts(task, book):
        delay = resume_delay(task, config, facts.resumes, facts.tmux_up)
        if delay is not None:
            actions.append(PlanResume(task.id, delay, task.name))
    if task.state != "waiting":
        book.decided.pop(task.id, None)
        return actions
    if task.id in book.acting or book.decided.get(task.id) == task.prompt_text:
        return actions
    decision = on_prompt(task, config, hooks=task.hooks)
    if decision is None:
        return actions
    book.decided[task.id] = task.prompt_text
    if decision.choice is None:
        actions.append(Note(task.id, f"{decision.detail} ({decision.rule})\n{task.prompt_text}"))
    else:
        actions.append(Answer(task.id, decision.choice, decision.rule, task.prompt_text))
    return actions


def kill(task: Task, track: Track, clock: float, config: PolicyConfig) -> Kill | None:
    """``kill_after``: kill a task stalled (or looping) that long? (``clock``: monotonic now)."""
    if looping(track) and track.looping_since is not None:
        decision = should_kill(task, clock - track.looping_since, config, looping=True)
    else:
        decision = should_kill(task, clock - track.progress_at, config)
    if decision is None:
        return None
    return Kill(task.id, f"{decision.detail} ({decision.rule})")
