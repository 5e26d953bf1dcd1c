"""The emulator's read deadlines and shutdown bound: from flags over TOML over defaults, refused when not usable."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from dms_rocketmq_emulator._cli import build_parser, settings_from_args
from dms_rocketmq_emulator._config import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_SHUTDOWN_TIMEOUT,
    ConfigError,
    Settings,
)


def test_defaults_flags_and_toml(tmp_path: Path) -> None:
    """No setting gives the defaults; the TOML file sets them; a flag wins over the file."""
    parser = build_parser()
    settings = settings_from_args(parser.parse_args(["--memory"]))
    assert (settings.header_timeout, settings.body_timeout, settings.shutdown_timeout) == (
        DEFAULT_HEADER_TIMEOUT,
        DEFAULT_BODY_TIMEOUT,
        DEFAULT_SHUTDOWN_TIMEOUT,
    )
    config = tmp_path / "emulator.toml"
    config.write_text("header_timeout = 2\nbody_timeout = 3.5\nshutdown_timeout = 4\n")
    settings = settings_from_args(parser.parse_args(["--memory", "--config", str(config), "--body-timeout", "7"]))
    assert (settings.header_timeout, settings.body_timeout, settings.shutdown_timeout) == (2.0, 7.0, 4.0)


@pytest.mark.parametrize("seconds", [0.0, -1.0, math.nan, math.inf, 86401.0])
@pytest.mark.parametrize("name", ["header_timeout", "body_timeout", "shutdown_timeout"])
def test_unusable_deadlines_are_refused_naming_the_flag(name: str, seconds: float) -> None:
    """Zero, negative, NaN, infinite or over-a-day deadlines are a ConfigError naming the setting."""
    with pytest.raises(ConfigError, match=name.replace("_", "-")):
        Settings(data_dir=None, **{name: seconds}).validate()


def test_a_timeout_of_the_wrong_type_in_toml_is_refused(tmp_path: Path) -> None:
    """A string where seconds are expected is refused naming the key."""
    config = tmp_path / "emulator.toml"
    config.write_text('header_timeout = "soon"\n')
    with pytest.raises(ConfigError, match="header_timeout"):
        settings_from_args(build_parser().parse_args(["--config", str(config)]))
