"""The monitor's stages, each alone: on bytes, plain data and a fake clock.

No tmux, no Codex and no store: a clock here is a number handed to the
stage, so no test sleeps. The stages that write (act, the notify feed) are
in ``test_monitor_act.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tmux_codex.codex.classify import Verdict
from tmux_codex.core.config import Config, MonitorConfig, PolicyConfig
from tmux_codex.core.models import Task
from tmux_codex.monitor import decide, look, read, timers
from tmux_codex.monitor.inbox import Inbox, changes_to_items
from tmux_codex.monitor.track import Track, agrees, follow

WORKING = b"\x1b]7501;state=working:app=codex\x07"
BLOCKED = b"\x1b]7501;state=blocked:kind=permission\x07"
IDLE = b"\x1b]7501;state=idle\x07"
SESSION = "0199a2b3-c4d5-7e6f-8091-a2b3c4d5e6f7"
PROMPT = "Would you like to run the following command?\n$ pytest -q\n› 1. Yes, proceed (y)\n"


def make_task(**extra: Any) -> Task:
    stamp = "2024-01-01T00:00:00.000000Z"
    values: dict[str, Any] = dict(id=7, name="stage", state="working", mode="tui")
    values.update(workdir="/src/project", argv=["codex"], created_at=stamp, updated_at=stamp)
    return Task(**{"log_path": "/nonexistent/7.log", **values, **extra})


# -- watch → inbox: one Batch per turn ------------------------------------------------------


def test_changes_become_queue_items() -> None:
    changes = [
        (0, "3.log", False),  # a log grew
        (0, "4.log", True),  # tmux closed it: the pane went away
        (1, "5", False),  # a wake file
        (0, "notes.txt", False),  # not a log
        (1, "x5", False),  # not a task
        (-1, "", False),  # the kernel dropped events
    ]
    assert changes_to_items(changes) == [
        ("log", 3),
        ("log", 4),
        ("closed", 4),
        ("wake", 5),
        ("all", 0),
    ]


def test_a_batch_takes_everything_queued_and_ends_at_stop() -> None:
    inbox = Inbox()
    inbox.on_changes([(0, "1.log", False), (0, "1.log", False), (1, "2", False)])
    inbox.on_changes([(0, "6.log", True)])  # its writer closed it: look, and do not vouch
    inbox.put("exited", 3)
    inbox.put("policy", 4)
    inbox.put("all")
    inbox.put("stop")
    inbox.put("log", 9)
    batch = inbox.take(0)
    assert batch.logs == {1, 6}
    assert batch.wakes == {2, 3, 4, 6}
    assert batch.exited == {3} and batch.again == {4} and batch.closed == {6}
    assert batch.everything
    after = inbox.take(0)  # what followed the stop is still there
    assert after.logs == {9}
    empty = inbox.take(0)
    assert not (empty.logs or empty.wakes or empty.everything)


# -- read: new bytes → a Reading ------------------------------------------------------------


def test_read_log_reads_on_from_where_it_stopped(tmp_path: Path) -> None:
    log = tmp_path / "1.log"
    log.write_bytes(b"first ")
    track = Track(state="working", mode="exec")
    try:
        assert read.read_log(str(log), track) == b"first "
        assert read.read_log(str(log), track) == b""
        with log.open("ab") as fh:
            fh.write(b"second")
        assert read.read_log(str(log), track) == b"second"
        log.write_bytes(b"new")  # shorter: never done by tmux-codex; read from the start
        assert read.read_log(str(log), track) == b"new"
        with log.open("ab") as fh:
            fh.write(b"0123456789")
        assert read.read_log(str(log), track, limit=4) == b"6789"  # a burst past the limit
        assert track.offset == 13
    finally:
        track.close()
    assert read.read_log(str(tmp_path / "missing.log"), Track("working", "exec")) == b""


def test_an_escape_cut_by_a_read_is_found_once_whole() -> None:
    task = make_task(state="working")
    track = Track(state="working", mode="tui", announced="working:app=codex")
    first = read.read(task, track, b"text " + BLOCKED[:9], 10.0)
    assert first.escapes == () and not first.unsettled
    second = read.read(task, track, BLOCKED[9:], 10.1)
    assert second.escapes == ("blocked:kind=permission",)
    assert second.announced == "blocked:kind=permission"
    # The store says working, Codex says blocked: look.
    assert second.unsettled and second.look
    # Found once: the carried bytes do not bring it again.
    assert read.read(task, track, b"more", 10.2).escapes == ()


def test_an_announcement_the_store_agrees_with_needs_no_look() -> None:
    task = make_task(state="working")
    track = Track(state="working", mode="tui", progress_at=10.0)
    reading = read.read(task, track, WORKING, 10.1)
    assert reading.announced == "working:app=codex"
    assert not reading.unsettled and not reading.look
    assert agrees("idle", "starting") and not agrees("idle", "working")


def test_a_busy_task_is_weighed_once_a_second_and_a_repaint_is_no_progress() -> None:
    task = make_task(state="working", mode="exec")
    track = Track(state="working", mode="exec", progress_at=100.0)
    # Within a second of the last progress: kept for later, not weighed yet.
    early = read.read(task, track, b"compiling module alpha\r\n", 100.5)
    assert not early.progressed and track.progress_at == 100.0
    later = read.read(task, track, b"compiling module beta\r\n", 101.0)
    assert later.progressed and track.progress_at == 101.0
    # The same words again (a repaint, a client attaching): the stall clock stays.
    again = read.read(task, track, b"compiling module alpha\r\ncompiling module beta\r\n", 103.0)
    assert not again.progressed and track.progress_at == 101.0
    assert not again.look  # a working exec task printing is never looked at


def test_a_stalled_task_that_draws_something_new_is_looked_at() -> None:
    task = make_task(state="stalled", mode="exec")
    track = Track(state="stalled", mode="exec", progress_at=0.0, poked=True)
    reading = read.read(task, track, b"finally: the answer\r\n", 400.0)
    assert reading.progressed and reading.unstalled and reading.look
    assert track.progress_at == 400.0 and not track.poked


def test_a_prompt_that_draws_something_new_is_looked_at() -> None:
    """The next prompt of a turn comes with no state escape (Codex stays "blocked"):
    what it draws is new, so the monitor looks; a repaint of the same prompt is not."""
    task = make_task(state="waiting", reason="approval")
    track = Track(state="waiting", mode="tui", announced="blocked:kind=permission")
    first = b"Would you like to run the following command?\r\n$ touch PWNED_A\r\n"
    assert read.read(task, track, first, 10.0).look
    assert not read.read(task, track, first, 11.0).look  # drawn again: nothing new
    second = first.replace(b"PWNED_A", b"PWNED_B")
    assert read.read(task, track, second, 12.0).look


def test_a_starting_task_is_looked_at_on_each_write() -> None:
    task = make_task(state="starting")
    track = Track(state="starting", mode="tui")
    assert read.read(task, track, b"\x1b[2J", 1.0).look
    assert read.read(task, track, b"\x1b[H", 1.01).look


def test_exec_header_gives_the_session_id() -> None:
    task = make_task(state="working", mode="exec")
    track = Track(state="working", mode="exec")
    assert read.read(task, track, b"OpenAI Codex v0.1\r\n", 1.0).session is None
    header = f"workdir: /w\r\nsession id: {SESSION}\r\n".encode()
    assert read.read(task, track, header, 2.0).session == SESSION
    known = make_task(state="working", mode="exec", codex_session_id=SESSION)
    assert read.read(known, Track("working", "exec"), header, 3.0).session is None


def test_a_tui_looks_for_its_rollout_when_a_turn_begins_then_ever_less_often() -> None:
    task = make_task(state="working")
    track = Track(state="working", mode="tui")
    assert not read.read(task, track, b"drawing", 1.0).find_rollout  # no turn yet
    assert read.read(task, track, WORKING, 10.0).find_rollout  # a turn began: at once
    assert track.session_at == 11.0
    assert not read.read(task, track, b"x", 10.5).find_rollout
    assert read.read(task, track, b"y", 11.0).find_rollout
    assert track.session_at == 13.0  # 1, 2, 4 … seconds apart
    pauses: list[float] = []
    while track.session_at is not None and len(pauses) < 30:
        at = track.session_at
        read.read(task, track, b"z", at)
        pauses.append((track.session_at or at) - at)
    assert pauses[:5] == [4.0, 8.0, 16.0, 30.0, 30.0]  # at most 30 s apart
    assert track.session_at is None and track.session_tries == read.SESSION_TRIES


LOOP_STEP = b"$ make check\r\n  make: *** [check] Error 1\r\n"


def test_the_loop_guard_on_a_working_tasks_lines() -> None:
    track = Track(state="working", mode="exec")
    loops = read.loop_guard(track, LOOP_STEP * 6, 5.0, working=True)
    assert [loop.detail for loop in loops] == [
        "looping: the same 2-line block 4 times in a row: $ make check"
    ]
    assert track.looping_since == 5.0
    assert read.loop_guard(Track("waiting", "tui"), LOOP_STEP * 6, 5.0, working=False) == []


def test_read_hands_whole_lines_to_the_loop_guard_once_a_second() -> None:
    task = make_task(state="working", mode="exec")
    track = Track(state="working", mode="exec")
    first = read.read(task, track, LOOP_STEP * 6 + b"$ make ch", 1.0)
    assert len(first.loops) == 1 and bytes(track.pending) == b"$ make ch"
    assert read.read(task, track, b"eck\r\n", 1.5).loops == []  # within the second: waits
    assert bytes(track.pending) == b"$ make check\r\n"


def test_what_a_task_printed_before_it_ended_still_counts() -> None:
    track = Track(state="working", mode="exec")
    track.pending += LOOP_STEP * 5
    track.state = "done"  # the loop reads the end; the state it was live in decides
    assert len(read.read_final(track, LOOP_STEP, 9.0)) == 1
    assert not track.pending


def test_catch_up_remembers_what_was_drawn_before_the_restart(tmp_path: Path) -> None:
    log = tmp_path / "7.log"
    log.write_bytes(b"old words on the screen " + IDLE + b" and what came after")
    task = make_task(state="idle", log_path=str(log))
    track = read.catch_up(task, offset=len(b"old words on the screen ") + len(IDLE), clock=50.0)
    assert track.announced == "idle" and track.progress_at == 50.0
    assert track.offset == 24 + len(IDLE)
    # A repaint of what it drew before is no progress.
    assert not track.seen.weigh(b"old words on the screen")


def test_a_resumed_task_gets_a_new_track_that_reads_on() -> None:
    old = Track(state="failed", mode="tui", offset=500, looping_since=3.0, attempt=1)
    same = make_task(state="working", attempt=1)
    assert follow(same, old, 9.0) is old
    resumed = follow(make_task(state="starting", attempt=2), old, 9.0)
    assert resumed is not old and resumed.offset == 500 and resumed.attempt == 2
    assert resumed.looping_since is None and resumed.progress_at == 9.0
    fresh = follow(make_task(state="starting", attempt=1), None, 9.0)
    assert fresh.offset == 0 and fresh.live_state == "starting"


# -- look: when to look, what to hold, when to look again ----------------------------------


def test_at_most_one_look_per_debounce_unless_woken() -> None:
    track = Track(state="working", mode="tui", last_look=10.0)
    assert not look.now_or_later(track, 10.01, woken=False)
    assert track.look_due == 10.0 + look.DEBOUNCE  # the burst ends with a last look
    assert look.now_or_later(track, 10.01, woken=True)
    assert look.now_or_later(track, 10.0 + look.DEBOUNCE, woken=False)


def test_a_prompt_of_no_known_kind_is_held_until_it_stays_up() -> None:
    task = make_task(state="working")
    track = Track(state="working", mode="tui")
    unknown = Verdict("waiting", "unknown", "Something?")
    assert look.hold(track, task, unknown, 20.0)
    assert track.look_due == 20.0 + look.UNKNOWN_CONFIRM
    assert look.hold(track, task, unknown, 20.2)
    assert not look.hold(track, task, unknown, 20.0 + look.UNKNOWN_CONFIRM)
    assert not look.hold(track, task, Verdict("working", None, None), 21.0)
    assert track.unknown_since is None
    shown = make_task(state="waiting", reason="unknown")
    assert not look.hold(track, shown, unknown, 22.0)  # already stored: nothing to wait for


def test_a_look_that_disagrees_with_codex_is_tried_again_then_given_up() -> None:
    track = Track(state="working", mode="tui", announced="blocked:kind=permission")
    task = make_task(state="working")
    for tries in range(1, look.SETTLE_TRIES + 1):
        track.look_due = None
        look.landed(track, task, 30.0)
        assert track.unsettled and track.look_due == 30.0 + look.SETTLE_RETRY * tries
    track.look_due = None
    look.landed(track, task, 30.0)
    assert track.look_due is None  # the screen stands
    look.landed(track, make_task(state="waiting", reason="approval"), 31.0)
    assert not track.unsettled and track.settle_tries == 0


def test_a_task_whose_shim_ended_is_looked_at_until_it_is_seen_to_end() -> None:
    track = Track(state="working", mode="tui", shim_gone=True)
    look.landed(track, make_task(state="working"), 40.0)
    assert track.look_due == 40.0 + look.EXIT_RETRY
    track.look_due = None
    look.landed(track, make_task(state="failed"), 40.2)
    assert track.look_due is None and track.state == "failed"


# -- timers: what is due when ---------------------------------------------------------------


CONFIG = Config(
    monitor=MonitorConfig(stall_after=300.0, poke_after=600.0),
    policy=PolicyConfig(kill_after=900.0),
)


def test_next_due_is_the_earliest_timer() -> None:
    tracks = {
        1: Track(state="working", mode="tui", progress_at=100.0),
        2: Track(state="working", mode="tui", progress_at=50.0),
        3: Track(state="idle", mode="tui", progress_at=0.0),
        4: Track(state="done", mode="tui"),
    }
    assert timers.next_due(tracks, set(), {}, CONFIG) == 350.0
    assert timers.next_due(tracks, {2}, {}, CONFIG) == 400.0  # acting: its end wakes the loop
    assert timers.next_due(tracks, set(), {3: 20.0}, CONFIG) == 20.0  # a planned resume
    tracks[3].look_due = 5.0
    assert timers.next_due(tracks, set(), {}, CONFIG) == 5.0
    assert timers.next_due({4: tracks[4]}, set(), {}, CONFIG) is None
    off = Config(monitor=MonitorConfig(stall_after=0, poke_after=0))
    assert timers.next_due({1: tracks[1]}, set(), {}, off) is None


def test_stall_poke_and_kill_after_fall_due_in_turn() -> None:
    track = Track(state="working", mode="tui", progress_at=0.0)
    tracks = {1: track}
    assert timers.due(tracks, {}, 299.0, CONFIG).stalls == []
    assert timers.due(tracks, {}, 300.0, CONFIG).stalls == [1]
    track.state = "stalled"  # the act stage stored it
    assert timers.due_times(track, CONFIG) == [600.0, 900.0]  # poke, kill_after
    assert timers.due(tracks, {}, 599.0, CONFIG).pokes == []
    assert timers.due(tracks, {}, 600.0, CONFIG).pokes == [1]
    track.poked = True
    assert timers.due(tracks, {}, 700.0, CONFIG).pokes == []  # one poke per stall
    assert list(timers.kill_candidates(tracks)) == [1]
    track.killing = True
    assert list(timers.kill_candidates(tracks)) == []
    exec_track = Track(state="stalled", mode="exec", progress_at=0.0)
    assert timers.due({2: exec_track}, {}, 700.0, CONFIG).pokes == []  # exec reads no input


def test_looks_and_resumes_fall_due() -> None:
    tracks = {1: Track(state="waiting", mode="tui", look_due=5.0)}
    due = timers.due(tracks, {2: 8.0, 3: 4.0}, 6.0, CONFIG)
    assert due.looks == {1} and due.resumes == [3]


def test_a_loop_starts_the_kill_after_clock() -> None:
    track = Track(state="working", mode="exec", progress_at=1000.0, looping_since=100.0)
    assert timers.looping(track)
    assert 1000.0 in timers.due_times(track, CONFIG)  # looping_since + kill_after
    assert list(timers.kill_candidates({1: track})) == [1]


# -- decide: the policies, as actions ----------------------------------------------------


def test_the_trust_menu_of_the_tasks_own_workdir_is_answered_once() -> None:
    book = decide.Book()
    task = make_task(
        state="waiting", reason="trust", prompt_text="Do you trust this folder?\n/src/project"
    )
    actions = decide.on_state(task, PolicyConfig(), book)
    assert actions == [
        decide.Answer(task.id, "yes", "trust_workdir", "Do you trust this folder?\n/src/project")
    ]
    assert decide.on_state(task, PolicyConfig(), book) == []  # decided on already
    assert decide.on_state(task, PolicyConfig(trust_workdir=False), decide.Book()) == []


def test_the_allowlist_on_the_screen_and_a_note_when_it_says_no() -> None:
    allow = PolicyConfig(approve="allowlist", allow_commands=(r"^pytest\b",))
    task = make_task(state="waiting", reason="approval", prompt_text=PROMPT)
    answer = decide.on_state(task, allow, decide.Book())
    assert [type(a) for a in answer] == [decide.Answer]
    deny = PolicyConfig(approve="allowlist", allow_commands=(r"^pytest\b",), deny_commands=("-q",))
    (note,) = decide.on_state(task, deny, decide.Book())
    assert isinstance(note, decide.Note) and note.text.startswith("a deny pattern matches")
    hooked = make_task(
        state="waiting", reason="approval", prompt_text=PROMPT, hook_at="2024-01-01T00:00:00Z"
    )
    assert decide.on_state(hooked, allow, decide.Book()) == []  # the hook decided
    book = decide.Book(acting={task.id})
    assert decide.on_state(task, allow, book) == []  # an action is under way


def test_leaving_waiting_forgets_the_prompt_decided_on() -> None:
    book = decide.Book(decided={7: PROMPT})
    assert decide.on_state(make_task(state="working"), PolicyConfig(), book) == []
    assert 7 not in book.decided


def test_a_lost_tui_task_is_resumed_after_its_backoff() -> None:
    config = PolicyConfig(max_resumes=2)
    task = make_task(state="lost", codex_session_id=SESSION)
    book = decide.Book()
    assert decide.wants_resume_facts(task, book)
    facts = decide.ResumeFacts(resumes=1, tmux_up=True)
    assert decide.on_state(task, config, book, facts) == [decide.PlanResume(7, 10.0, "stage")]
    spent = decide.ResumeFacts(resumes=2, tmux_up=True)
    assert decide.on_state(task, config, book, spent) == []
    down = decide.ResumeFacts(resumes=0, tmux_up=False)
    assert decide.on_state(task, config, book, down) == []
    assert not decide.wants_resume_facts(task, decide.Book(resume_due={7: 1.0}))


def test_kill_after_on_a_stalled_and_on_a_looping_task() -> None:
    config = PolicyConfig(kill_after=900.0)
    stalled = make_task(state="stalled")
    track = Track(state="stalled", mode="tui", progress_at=100.0)
    assert decide.kill(stalled, track, 999.0, config) is None
    assert decide.kill(stalled, track, 1000.0, config) == decide.Kill(
        7, "stalled for 900s (kill_after 900s) (kill_after)"
    )
    loop = Track(state="working", mode="exec", progress_at=2000.0, looping_since=100.0)
    killed = decide.kill(make_task(state="working"), loop, 1000.0, config)
    assert killed is not None and killed.why.startswith("looping for 900s")
