"""The command group loads commands lazily: its table is complete, and it behaves as if eager."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

import tmux_codex.cli
from tmux_codex.cli import act, admin, fleet, reading
from tmux_codex.cli.main import LAZY_COMMANDS, LazyGroup, cli, load_command
from tmux_codex.cli.start import start


def eager_commands() -> dict[str, click.Command]:
    """Every command, registered as the group once did: each module's own, and ``ls``."""
    commands = (start, *fleet.COMMANDS, *reading.COMMANDS, *act.COMMANDS, *admin.COMMANDS)
    found: dict[str, click.Command] = {}
    for command in commands:
        assert command.name is not None
        found[command.name] = command
    found["ls"] = reading.list_cmd
    return found


def eager_group() -> click.Group:
    """The group with every command imported and added up front."""
    return click.Group(
        cli.name,
        commands=eager_commands(),
        params=cli.params,
        help=cli.help,
        context_settings=cli.context_settings,
    )


def test_the_table_names_every_command() -> None:
    eager = eager_commands()
    assert set(LAZY_COMMANDS) == set(eager)
    for name, target in LAZY_COMMANDS.items():
        loaded = load_command(target)
        assert loaded is eager[name], name
        assert loaded.callback is eager[name].callback, name


def test_every_command_a_cli_module_defines_is_registered() -> None:
    """A command defined in a cli module but left out of its COMMANDS would be unreachable."""
    registered = {id(command) for command in eager_commands().values()}
    for info in pkgutil.iter_modules(tmux_codex.cli.__path__):
        module = importlib.import_module(f"tmux_codex.cli.{info.name}")
        for attribute, value in vars(module).items():
            if isinstance(value, click.Command) and value is not cli:
                assert id(value) in registered, f"tmux_codex.cli.{info.name}:{attribute}"


def test_a_table_entry_must_name_a_command() -> None:
    with pytest.raises(TypeError, match="not a click command"):
        load_command("tmux_codex.cli.main:LAZY_COMMANDS")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        [],
        ["--version"],
        ["frob"],
        ["lis"],
        ["--frob"],
        ["ls", "--help"],
        ["list", "--help"],
        ["tmux-setup", "--help"],
        ["wait", "--for", "bogus", "--help"],
    ],
)
def test_the_lazy_group_answers_as_the_eager_one(args: list[str]) -> None:
    runner = CliRunner()
    lazy = runner.invoke(cli, args, prog_name="tmux-codex")
    eager = runner.invoke(eager_group(), args, prog_name="tmux-codex")
    assert (lazy.exit_code, lazy.output) == (eager.exit_code, eager.output)


def test_an_unknown_command_is_named_with_close_ones() -> None:
    result = CliRunner().invoke(cli, ["lis"], prog_name="tmux-codex")
    assert result.exit_code == 2
    assert "No such command 'lis'." in result.output
    if hasattr(click.exceptions, "NoSuchCommand"):  # click >= 8.4 suggests names
        assert "'list', 'ls'" in result.output


def test_help_lists_every_name_once_in_order() -> None:
    result = CliRunner().invoke(cli, ["--help"], prog_name="tmux-codex")
    listed = result.output.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == sorted(LAZY_COMMANDS)


@pytest.mark.parametrize("incomplete", ["", "l", "s", "t", "fr"])
def test_command_names_complete_as_before(incomplete: str) -> None:
    def completions(group: click.Group) -> list[tuple[str, str | None]]:
        complete = ShellComplete(group, {}, "tmux-codex", "_TMUX_CODEX_COMPLETE")
        return [(item.value, item.help) for item in complete.get_completions([], incomplete)]

    assert completions(cli) == completions(eager_group())


def test_commands_added_by_hand_still_work() -> None:
    @click.command("extra")
    def extra() -> None:
        click.echo("extra ran")

    group = LazyGroup("g", lazy_commands={"ls": "tmux_codex.cli.reading:list_cmd"})
    group.add_command(extra)
    ctx = click.Context(group)
    assert group.list_commands(ctx) == ["extra", "ls"]
    assert group.get_command(ctx, "ls") is reading.list_cmd
    assert group.get_command(ctx, "nope") is None
    assert CliRunner().invoke(group, ["extra"]).output == "extra ran\n"


def _run_child(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = {
        **os.environ,
        "TMUX_CODEX_HOME": str(home),
        "TMUX_CODEX_SOCKET": f"tcx-lazy-{os.getpid()}",
        "TMUX_CODEX_CONFIG": str(tmp_path / "no-config.toml"),
    }
    for var in ("TMUX", "TMUX_PANE", "TMUX_CODEX_DEBUG"):
        env.pop(var, None)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_list_imports_no_other_command_module(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from tmux_codex.cli.main import main\n"
        "try:\n    main(['list', '--json'])\n"
        "except SystemExit as exc:\n    status = exc.code\n"
        "cli = sorted(m for m in sys.modules if m.startswith('tmux_codex.cli'))\n"
        "print('MODULES', json.dumps({'status': status, 'cli': cli}), file=sys.stderr)\n"
    )
    proc = _run_child(code, tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    assert len(lines) == 1, proc.stderr
    seen: dict[str, Any] = json.loads(lines[0].removeprefix("MODULES "))
    assert seen["status"] == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    assert "tmux_codex.cli.reading" in seen["cli"]
    for other in ("act", "admin", "fleet", "start"):
        assert f"tmux_codex.cli.{other}" not in seen["cli"]


def test_the_version_imports_no_command_module(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from tmux_codex.cli.main import main\n"
        "try:\n    main(['--version'])\n"
        "except SystemExit:\n    pass\n"
        "print('MODULES', *sorted(m for m in sys.modules if m.startswith('tmux_codex.cli')))\n"
    )
    proc = _run_child(code, tmp_path)
    assert proc.stdout.splitlines()[-1] == "MODULES tmux_codex.cli tmux_codex.cli.main", proc
