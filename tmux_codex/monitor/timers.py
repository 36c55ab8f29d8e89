"""Timers: what is due when, for time-based states only. Pure; the clock is an argument.

:func:`next_due` says how long the loop may sleep (worked out anew each turn:
timers come and go). :func:`due` says what is due at a moment, as one
:class:`Due`: looks planned by the look stage, stalls (``stall_after`` of no
progress while ``working``), pokes (a TUI still ``stalled`` after
``poke_after``: one Enter per stall) and planned automatic resumes
(``max_resumes``, after their backoff). ``kill_after`` is due for the tasks
:func:`kill_candidates` names; the policy (the decide stage) says whether
their time has come.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

from tmux_codex.core.config import Config
from tmux_codex.core.models import FINAL_STATES
from tmux_codex.monitor.track import Track


@dataclass
class Due:
    """What is due now, by task id (each list in the order of the tracks)."""

    looks: set[int] = field(default_factory=set)  # look at them (the look stage)
    stalls: list[int] = field(default_factory=list)  # working, silent for stall_after
    pokes: list[int] = field(default_factory=list)  # stalled TUIs, silent for poke_after
    resumes: list[int] = field(default_factory=list)  # automatic resumes whose backoff ended


def due_times(track: Track, config: Config) -> list[float]:
    """When something is due for this task (monotonic seconds; possibly none)."""
    times = [] if track.look_due is None else [track.look_due]
    monitor = config.monitor
    if track.state == "working" and monitor.stall_after > 0:
        times.append(track.progress_at + monitor.stall_after)
    if (
        track.state == "stalled"
        and track.mode == "tui"
        and not track.poked
        and monitor.poke_after > 0
    ):
        times.append(track.progress_at + max(monitor.poke_after, monitor.stall_after))
    kill_after = config.policy.kill_after
    if track.state == "stalled" and kill_after > 0 and not track.killing:
        times.append(track.progress_at + max(kill_after, monitor.stall_after))
    if (
        track.looping_since is not None
        and track.state in ("working", "stalled")
        and kill_after > 0
        and not track.killing
    ):
        times.append(track.looping_since + kill_after)
    return times


def next_due(
    tracks: Mapping[int, Track],
    acting: Collection[int],
    resume_due: Mapping[int, float],
    config: Config,
) -> float | None:
    """When the next timer is due; None: nothing is (sleep until an event)."""
    best = min(resume_due.values(), default=math.inf)
    stall_after = config.monitor.stall_after
    for task_id, track in tracks.items():
        if task_id in acting:
            continue  # a policy action is under way: its end wakes the loop
        if track.state == "working" and track.look_due is None and track.looping_since is None:
            # The common case, kept cheap: 50 busy tasks, a turn per 10 ms.
            if stall_after > 0 and track.progress_at + stall_after < best:
                best = track.progress_at + stall_after
        elif track.state not in FINAL_STATES or track.look_due is not None:
            best = min(best, *due_times(track, config), math.inf)
    return None if best == math.inf else best


def due(
    tracks: Mapping[int, Track], resume_due: Mapping[int, float], clock: float, config: Config
) -> Due:
    """What is due at ``clock`` (looks, stalls, pokes, resumes)."""
    monitor = config.monitor
    found = Due()
    for task_id, track in tracks.items():
        if track.look_due is not None and track.look_due <= clock:
            found.looks.add(task_id)
        silent = clock - track.progress_at
        if track.state == "working" and 0 < monitor.stall_after <= silent:
            found.stalls.append(task_id)
        elif (
            track.state == "stalled"
            and track.mode == "tui"
            and not track.poked
            and monitor.poke_after > 0
            and max(monitor.poke_after, monitor.stall_after) <= silent
        ):
            found.pokes.append(task_id)
    found.resumes = [task_id for task_id, at in resume_due.items() if at <= clock]
    return found


def looping(track: Track) -> bool:
    """Whether the loop guard's last loop goes on (``kill_after`` counts from its start)."""
    return track.looping_since is not None and track.state in ("working", "stalled")


def kill_candidates(tracks: Mapping[int, Track]) -> Iterator[int]:
    """The tasks ``kill_after`` may be due for: stalled or looping, no kill under way yet.

    Lazy: each is named after the one before was dealt with.
    """
    for task_id, track in tracks.items():
        if (track.state == "stalled" or looping(track)) and not track.killing:
            yield task_id
