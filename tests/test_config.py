"""The config file: defaults, strict validation, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmux_codex.core import config
from tmux_codex.core.errors import ConfigError


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    cfg = config.load(tmp_path / "none.toml")
    assert cfg == config.Config()
    assert cfg.codex.mode == "exec" and cfg.monitor.stall_after == 300.0
    assert "--no-daemon" in cfg.codex.tui_args


def test_values_are_read_and_converted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[codex]\nmode = "tui"\nexec_args = ["--x"]\n[monitor]\nstall_after = "90s"\n'
        'poke_after = 30\n[policy]\napprove = "allowlist"\nallow_commands = ["^ls"]\n'
        '[tmux]\nsession = "agents"\n'
    )
    cfg = config.load(path)
    assert cfg.codex.mode == "tui" and cfg.codex.exec_args == ("--x",)
    assert cfg.monitor.stall_after == 90.0 and cfg.monitor.poke_after == 30.0
    assert cfg.policy.allow_commands == ("^ls",) and cfg.tmux.session == "agents"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[codex\n", "line 1"),
        ('[codex]\nmode = "exec"\nmode = "tui"\n', "line 3"),
        ("[nope]\n", "unknown section [nope]"),
        ('[codex]\nmood = "x"\n', "unknown key 'mood' in [codex]"),
        ('[codex]\nmode = "both"\n', "[codex] mode must be one of exec, tui"),
        ('[monitor]\nstall_after = "soon"\n', "[monitor] stall_after must be a duration"),
        ("[notify]\nbell = 1\n", "[notify] bell must be true or false"),
        ('[codex]\nexec_args = "--x"\n', "[codex] exec_args must be a list of strings"),
        ('[policy]\ndeny_commands = ["("]\n', "is not a valid regex"),
        ("[policy]\nmax_resumes = -1\n", "max_resumes must be a whole number"),
        ("codex = 3\n", "codex must be a table"),
        ("[monitor]\nstall_after = nan\n", "[monitor] stall_after must be a finite duration"),
        ('[tmux]\nsession = ""\n', "[tmux] session must be a tmux session name"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("value", "seconds"), [("5m", 300), ("30s", 30), ("1h", 3600), ("250ms", 0.25), (12, 12)]
)
def test_durations(value: object, seconds: float) -> None:
    assert config.parse_duration(value) == seconds


def test_defaults_render_as_valid_toml(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text(config.defaults_as_toml())
    assert config.load(path) == config.Config()
