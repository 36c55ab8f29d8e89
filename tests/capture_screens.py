"""Save the real Codex's screens, titles and raw bytes for every capture.

Run as ``scripts/capture-screens [--codex PATH] [NAME...]``: the Codex at PATH
(or ``TMUX_CODEX_TEST_CODEX``; by default the pinned one), whatever its version.
Writes ``tests/fixtures/codex-<version>/<capture>/`` (the version is what
``PATH --version`` says): ``<state>.screen.txt`` (the visible pane, as
``capture-pane -p`` gives it), ``<state>.json`` (pane title, size, cursor, exit
status, the state a classifier must report, and how many bytes of ``raw.log``
had arrived), and ``raw.log`` (every byte the pane printed, from ``pipe-pane``).
Re-run it after a Codex upgrade and read ``git diff``; for a new version, run
the tests on it (``TMUX_CODEX_TEST_CODEX=PATH scripts/test``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import libtmux

from tests.captures import CAPTURES, Capture, Snap, argv_for, play, snapshot
from tests.codexbed import (
    TEST_CODEX,
    CodexEnv,
    CodexPane,
    CodexUnavailable,
    binary_version,
    find_or_install_codex,
    fixtures_dir,
    run_in_pane,
)
from tmux_codex.codex.version import CAPTURED_VERSIONS
from tmux_codex.sim import FakeModelServer

#: Where the captured runs happen (Codex shows its workdir, so it is in the screens).
SCRATCH = Path(tempfile.gettempdir()) / "tmux-codex-capture"
#: What the saved fixtures say instead: no directory of the machine that made
#: them. Same length as SCRATCH here, so raw logs render as they were drawn.
PLACEHOLDER = "/src/tmux-codex-capture"


def _stand_in(real: str, placeholder: str) -> str:
    return placeholder if len(placeholder) == len(real) else "/" + "x" * (len(real) - 1)


def neutral_bytes(raw: bytes) -> bytes:
    """``raw`` naming no directory of this machine, every stand-in as long as what it replaces.

    The scratch directory becomes PLACEHOLDER; the temporary directory itself, which
    Codex names in its warnings and sandbox lines (``temporary dir "…"``,
    ``[workdir, …, $TMPDIR]``), becomes PLACEHOLDER's parent.
    """
    scratch = str(SCRATCH)
    raw = raw.replace(os.fsencode(scratch), _stand_in(scratch, PLACEHOLDER).encode())
    tmp = os.fsencode(SCRATCH.parent)
    tmp_stand_in = _stand_in(str(SCRATCH.parent), str(Path(PLACEHOLDER).parent)).encode()
    return re.sub(rb'(?<=["` ])' + re.escape(tmp) + rb'(?=["`,])', tmp_stand_in, raw)


def neutral(text: str) -> str:
    """``text`` naming no directory of this machine (see :func:`neutral_bytes`)."""
    return neutral_bytes(text.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")


def capture_one(capture: Capture, codex: Path, out: Path) -> list[str]:
    run_dir = SCRATCH / capture.name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    server = libtmux.Server(socket_name=f"tmux-codex-capture-{os.getpid()}")
    with FakeModelServer(0, request_log=run_dir / "requests.jsonl") as model:
        env = CodexEnv(
            binary=codex, home=run_dir / "codex-home", base_url=model.base_url, root=run_dir
        )
        workdir = env.workdir("project", git=capture.git, trusted=capture.trusted)
        session = server.new_session(session_name="capture", x=capture.width, y=capture.height)
        try:
            pane = run_in_pane(
                session,
                argv_for(capture, env, workdir),
                env={**env.env, "PATH": os.environ["PATH"]},
                cwd=workdir,
                raw_log=run_dir / "raw.log",
                width=capture.width,
                height=capture.height,
                stdin_devnull=capture.mode == "exec",
            )

            def save(snap: Snap, p: CodexPane) -> None:
                screen = "\n".join(p.pane.cmd("capture-pane", "-p").stdout) + "\n"
                (out / f"{snap.name}.screen.txt").write_text(neutral(screen), encoding="utf-8")
                meta = snapshot(p, snap, capture)
                (out / f"{snap.name}.json").write_text(
                    neutral(json.dumps(meta, indent=2, ensure_ascii=False)) + "\n",
                    encoding="utf-8",
                )

            states = play(capture, pane, save)
            raw = (run_dir / "raw.log").read_bytes()
            (out / "raw.log").write_bytes(neutral_bytes(raw))
        finally:
            server.kill()
    return states


def codex_to_capture(chosen: str | None) -> Path:
    """The Codex to capture: ``chosen`` (a path or a command on PATH), or the pinned one."""
    if not chosen:
        return find_or_install_codex()
    found = shutil.which(chosen) if os.sep not in chosen else chosen
    if found is None:
        raise CodexUnavailable(f"{chosen!r} is not a file or a command on PATH")
    return Path(found).absolute()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="capture-screens", description=__doc__)
    parser.add_argument(
        "--codex",
        metavar="PATH",
        default=os.environ.get(TEST_CODEX),
        help=f"the Codex binary to capture (default: ${TEST_CODEX}, else the pinned one)",
    )
    parser.add_argument("names", nargs="*", help="captures to run (default: all)")
    args = parser.parse_args(argv)
    known = {c.name: c for c in CAPTURES}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(
            f"capture-screens: unknown capture(s): {', '.join(unknown)}; known: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    try:
        codex = codex_to_capture(args.codex)
        version = binary_version(codex)
    except CodexUnavailable as exc:
        print(f"capture-screens: {exc}", file=sys.stderr)
        return 1
    out = fixtures_dir(version)
    print(f"capturing codex {version} ({codex}) into {os.path.relpath(out)}/")
    failed = 0
    for capture in [known[n] for n in args.names] or list(CAPTURES):
        try:
            states = capture_one(capture, codex, out / capture.name)
            print(f"{capture.name}: {', '.join(states)}")
        except AssertionError as exc:
            failed += 1
            print(f"{capture.name}: FAILED: {exc}", file=sys.stderr)
    if not failed and version not in CAPTURED_VERSIONS:
        print(
            f"next: read the captures, run the tests on it ({TEST_CODEX}={codex} scripts/test), "
            f'then add "{version}" to CAPTURED_VERSIONS in tmux_codex/codex/version.py'
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
