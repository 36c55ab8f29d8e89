"""Every Codex version a user has: learning it, the table it gets, doctor, the test bed.

The Codex binaries here are stand-ins (a script that prints a version and
counts its runs); the real ones are tested end to end with
``TMUX_CODEX_TEST_CODEX=PATH scripts/test``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import capture_screens
from tests.codexbed import (
    TEST_CODEX,
    CodexUnavailable,
    captured_versions,
    find_or_install_codex,
)
from tmux_codex.codex import probe as codex_mod
from tmux_codex.codex.patterns import PATTERNS_0_169_0, patterns_for
from tmux_codex.codex.probe import VERSION_CACHE, installed_version
from tmux_codex.codex.version import (
    CAPTURED_VERSIONS,
    CODEX_VERSION,
    capture_status,
    parse_version,
    version_key,
)
from tmux_codex.core.store import Store
from tmux_codex.ui.doctor import FAIL, OK, WARN, check_codex


def fake_codex(folder: Path, version: str, name: str = "codex") -> Path:
    """A script that says it is ``codex-cli VERSION`` and counts its runs in ``runs``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        f"#!/bin/sh\necho run >> '{folder / 'runs'}'\necho 'codex-cli {version}'\n",
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


def runs(binary: Path) -> int:
    counter = binary.parent / "runs"
    return len(counter.read_text().splitlines()) if counter.exists() else 0


@pytest.fixture(autouse=True)
def _forget_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codex_mod, "_versions", {})


def test_every_version_doctor_calls_captured_has_captures() -> None:
    # The package's list (for doctor) claims only what the tests run on; a
    # version just captured joins it once its tests pass.
    assert set(CAPTURED_VERSIONS) <= set(captured_versions())
    assert list(CAPTURED_VERSIONS) == sorted(CAPTURED_VERSIONS, key=version_key)
    assert CODEX_VERSION in CAPTURED_VERSIONS


def test_versions_parse_and_order() -> None:
    assert parse_version("codex-cli 0.171.0\n") == "0.171.0"
    assert parse_version("codex-cli 0.172.0-alpha.3") == "0.172.0-alpha.3"
    assert parse_version("no version here") is None
    assert version_key("v0.171.0") == (0, 171, 0) > version_key("0.169.0")
    assert version_key("0.99.9") < version_key("0.100.0")


def test_capture_status() -> None:
    assert capture_status("0.169.0") == ("captured", "0.169.0")
    assert capture_status("0.171.0") == ("captured", "0.171.0")
    assert capture_status("0.180.2") == ("newer", "0.171.0")
    assert capture_status("0.100.0") == ("older", "0.169.0")
    assert capture_status("0.170.0") == ("between", "0.169.0")


def test_each_version_gets_the_newest_table_not_newer_than_it() -> None:
    for version in (*CAPTURED_VERSIONS, "0.170.0", "0.180.2", "0.100.0", None):
        assert patterns_for(version) is PATTERNS_0_169_0


def test_the_version_is_asked_once_per_binary(tmp_path: Path) -> None:
    home = tmp_path / "state"
    home.mkdir()
    binary = fake_codex(tmp_path / "bin", "0.171.0")
    assert installed_version(str(binary), home) == "0.171.0"
    assert installed_version(str(binary), home) == "0.171.0"
    assert runs(binary) == 1
    # Another process (nothing in memory) reads the state directory's cache.
    codex_mod._versions.clear()
    assert installed_version(str(binary), home) == "0.171.0"
    assert runs(binary) == 1
    assert (home / VERSION_CACHE).stat().st_mode & 0o777 == 0o600
    # Through a symlink (npm's .bin/codex): the same binary.
    link = tmp_path / "link-codex"
    link.symlink_to(binary)
    assert installed_version(str(link), home) == "0.171.0"
    assert runs(binary) == 1
    # Reinstalled, another version: asked again.
    fake_codex(tmp_path / "bin", "0.172.0-alpha.1")
    assert installed_version(str(binary), home) == "0.172.0-alpha.1"
    assert runs(binary) == 2


def test_a_binary_that_does_not_say_has_no_version(tmp_path: Path) -> None:
    mute = tmp_path / "codex"
    mute.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    mute.chmod(0o755)
    assert installed_version(str(mute), tmp_path) is None
    assert installed_version(str(tmp_path / "missing"), tmp_path) is None
    assert not (tmp_path / VERSION_CACHE).exists()


def test_old_stores_gain_the_version_column(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    task = store.add_task(
        {
            "state": "starting",
            "mode": "tui",
            "workdir": str(tmp_path),
            "argv": [],
            "log_path": str(tmp_path / "1.log"),
            "codex_version": "0.171.0",
        },
        None,
        "t",
    )
    assert task.codex_version == "0.171.0"
    assert "codex_version" not in task.to_dict()  # not part of the JSON contract


# -- doctor -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "status", "says"),
    [
        ("0.171.0", OK, "codex 0.171.0: captured and tested"),
        ("0.169.0", OK, "codex 0.169.0: captured and tested"),
        (
            "0.180.2",
            WARN,
            "codex 0.180.2 is newer than any capture: states were right up to 0.171.0; "
            "capture it with scripts/capture-screens --codex ",
        ),
        ("0.100.0", WARN, "codex 0.100.0 is older than any capture"),
        ("0.170.0", WARN, "codex 0.170.0 was not captured: read as 0.169.0"),
    ],
)
def test_doctor_on_each_kind_of_version(
    tmp_path: Path, version: str, status: str, says: str
) -> None:
    binary = fake_codex(tmp_path, version)
    check = check_codex(str(binary))
    assert check.status == status
    assert check.detail.startswith(says), check.detail
    assert "downgrade" not in check.detail and "install 'npm" not in check.detail
    if status == WARN:
        assert f"scripts/capture-screens --codex {binary}" in check.detail


def test_doctor_without_codex(tmp_path: Path) -> None:
    assert check_codex(str(tmp_path / "no-such-codex")).status == FAIL


# -- the test bed -------------------------------------------------------------------


def test_the_test_bed_takes_a_captured_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = fake_codex(tmp_path, "0.171.0")
    monkeypatch.setenv(TEST_CODEX, str(binary))
    assert find_or_install_codex() == binary


def test_the_test_bed_refuses_a_version_with_no_captures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = fake_codex(tmp_path, "0.180.2")
    monkeypatch.setenv(TEST_CODEX, str(binary))
    with pytest.raises(CodexUnavailable) as caught:
        find_or_install_codex()
    message = str(caught.value)
    assert "is codex 0.180.2, which has no captured screens" in message
    assert f"scripts/capture-screens --codex {binary}" in message
    assert "captured: 0.169.0, 0.171.0" in message
    monkeypatch.setenv(TEST_CODEX, str(tmp_path / "missing"))
    with pytest.raises(CodexUnavailable, match="does not exist"):
        find_or_install_codex()


def test_capture_screens_names_what_it_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert capture_screens.main(["--codex", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert capture_screens.main(["--codex", "no-such-codex-command"]) == 1
    assert "not a file or a command on PATH" in capsys.readouterr().err
    assert capture_screens.main(["--codex", str(tmp_path / "x"), "no-such-capture"]) == 2


def test_capture_screens_resolves_a_command_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = fake_codex(tmp_path / "bin", "0.171.0", name="codex-next")
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")
    assert capture_screens.codex_to_capture("codex-next") == binary
    assert capture_screens.codex_to_capture(str(binary)) == binary
