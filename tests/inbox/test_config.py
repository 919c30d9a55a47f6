"""Configuration: env secrets, errors naming file and key, `frontdesk config check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inbox import config as config_module
from inbox.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "frontdesk.toml"
    path.write_text(text)
    return path


def test_env_secrets_are_read_from_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[server]\nsecret_key = "env:MY_SECRET"\n[[channels]]\nname = "drop"\ntype = "spool"\ninbox_dir = "env:IN"\noutbox_dir = "/tmp/o"\n',
    )
    config = config_module.load(str(path), env={"MY_SECRET": "s" * 20, "IN": "/tmp/in"})
    assert config.server.secret_key == "s" * 20
    assert config.channels[0].inbox_dir == "/tmp/in"  # type: ignore[attr-defined]


def test_every_problem_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[server]\nsecret_key = "env:MISSING"\nlisten = "nope"\n[database]\nurl = "mysql://x"\n'
        '[[channels]]\nname = "Bad Name"\ntype = "spool"\ninbox_dir = "/a"\noutbox_dir = "/b"\n'
        '[[channels]]\nname = "fax"\ntype = "fax"\n[bogus]\nx = 1\n',
    )
    with pytest.raises(ConfigError) as caught:
        config_module.load(str(path), env={})
    text = str(caught.value)
    for expected in (
        "server.secret_key: environment variable MISSING is not set",
        "server.listen: expected HOST:PORT",
        "database.url: expected",
        "channels[0].name:",
        "channels[1].type: unknown channel type 'fax'",
        "bogus: unknown key",
    ):
        assert expected in text, expected
    assert all(line.startswith(str(path)) for line in text.splitlines())


def test_duplicate_channel_names_and_unknown_rule_team_are_rejected(tmp_path: Path) -> None:
    channel = '[[channels]]\nname = "drop"\ntype = "spool"\ninbox_dir = "/a"\noutbox_dir = "/b"\n'
    path = write(
        tmp_path,
        '[server]\nsecret_key = "0123456789abcdef"\n' + channel + channel + '[[rules]]\nname = "r"\nthen = { assign_team = "ghost" }\n',
    )
    with pytest.raises(ConfigError) as caught:
        config_module.load(str(path), env={})
    assert "the name 'drop' is used twice" in str(caught.value)
    assert "rules[0].then.assign_team: no team named 'ghost'" in str(caught.value)


def test_config_check_exits_non_zero_on_errors_and_zero_when_valid(tmp_path: Path) -> None:
    bad = write(tmp_path, "[server]\nlisten = 5\n")
    run = subprocess.run([sys.executable, "-m", "inbox.cli", "config", "check", str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1 and "server.secret_key: required key is missing" in run.stderr
    env = {"FRONTDESK_SECRET_KEY": "x" * 20, "PATH": "/usr/bin:/bin"}
    example = ROOT / "config" / "frontdesk.example.toml"
    ok = subprocess.run(
        [sys.executable, "-m", "inbox.cli", "config", "check", str(example)], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert ok.returncode == 0 and "OK" in ok.stdout


def test_daemon_refuses_to_start_on_an_invalid_config(tmp_path: Path) -> None:
    bad = write(tmp_path, '[server]\nsecret_key = "short"\n')
    run = subprocess.run(
        [sys.executable, "-m", "inbox.cli", "serve", "--config", str(bad)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert run.returncode == 2 and "server.secret_key" in run.stderr


def test_a_file_secret_is_read_from_its_own_file_and_a_missing_one_names_the_key(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("s3cret-from-a-file-0123456789\n")
    path = write(tmp_path, f'[server]\nsecret_key = "file:{secret}"\n')
    assert config_module.load(str(path), env={}).server.secret_key == "s3cret-from-a-file-0123456789"
    secret.unlink()
    with pytest.raises(ConfigError) as caught:
        config_module.load(str(path), env={})
    assert f"server.secret_key: cannot read the secret file {secret}" in str(caught.value)


def test_the_cli_finds_frontdesk_toml_in_the_working_directory_then_frontdesk_config(tmp_path: Path) -> None:
    """As the README says: --config, else $FRONTDESK_CONFIG, else ./frontdesk.toml."""
    (tmp_path / "secret").write_text("0123456789abcdef-secret")
    (tmp_path / "frontdesk.toml").write_text(f'[server]\nsecret_key = "file:{tmp_path / "secret"}"\n')
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    here = subprocess.run([sys.executable, "-m", "inbox.cli", "config", "check"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert here.returncode == 0 and "frontdesk.toml: OK" in here.stdout
    (tmp_path / "elsewhere").mkdir()
    other = write(tmp_path / "elsewhere", "[server]\nlisten = 5\n")
    named = subprocess.run(
        [sys.executable, "-m", "inbox.cli", "config", "check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "FRONTDESK_CONFIG": str(other)},
    )
    assert named.returncode == 1 and str(other) in named.stderr
