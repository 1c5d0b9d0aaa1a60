"""shoal.conf: defaults, search order, overrides and errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.cli.config import RunConfig, config_paths, load_config
from shoal.errors import ConfigError
from shoal.hosts.base import UNSET


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shoal.conf"
    path.write_text(text)
    return path


def test_defaults_match_clush() -> None:
    config = RunConfig()
    # connect_timeout: not set, so the ssh config's ConnectTimeout applies, else 10 s
    assert (config.fanout, config.connect_timeout, config.command_timeout) == (64, UNSET, None)
    assert config.color == "auto"
    assert config.transport == "ssh"


def test_all_keys_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, """
[Main]
fanout: 128
connect_timeout: 3.5
command_timeout: 0
color: never
ssh_user: admin
ssh_options: -oPort=2222 -F /etc/ssh_config
node_groups: /etc/shoal/groups.conf
transport: openssh
verbosity: 2
node_count: no
maxrc: yes
fd_max: 4096
""")
    config = load_config(path)
    assert config == RunConfig(
        fanout=128, connect_timeout=3.5, command_timeout=None, color="never",
        ssh_user="admin", ssh_options="-oPort=2222 -F /etc/ssh_config",
        node_groups="/etc/shoal/groups.conf", transport="openssh", verbosity=2,
        node_count=False, maxrc=True, fd_max=4096, source=str(path),
    )


def test_command_line_wins_and_none_means_not_given(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[Main]\nfanout: 8\nssh_user: bob\n"))
    merged = config.replace(fanout=256, ssh_user=None)
    assert merged.fanout == 256
    assert merged.ssh_user == "bob"


def test_search_order_prefers_xdg_over_etc(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_paths() == [tmp_path / "shoal" / "shoal.conf", Path("/etc/shoal/shoal.conf"),
                              tmp_path / "clustershell" / "clush.conf",
                              Path.home() / ".local/etc/clustershell/clush.conf",
                              Path("/etc/clustershell/clush.conf")]
    (tmp_path / "shoal").mkdir()
    (tmp_path / "shoal" / "shoal.conf").write_text("[Main]\nfanout: 7\n")
    assert load_config().fanout == 7


def test_no_file_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    if Path("/etc/shoal/shoal.conf").exists():
        pytest.fail("/etc/shoal/shoal.conf exists on this machine; the test needs it absent")
    assert load_config() == RunConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[Main]\nfanout: 8\nfanuot: 9\n", 'line 3: unknown key "fanuot"',
                     id="unknown-key"),
        pytest.param("[Main]\n\nfanout: lots\n", 'line 3: fanout "lots": not a whole number',
                     id="bad-int"),
        pytest.param("[Main]\nfanout: 0\n", 'line 2: fanout "0": must be 1 or more',
                     id="zero-fanout"),
        pytest.param("[Main]\ncolor: pink\n", 'line 2: color "pink": must be one of',
                     id="bad-color"),
        pytest.param("[Main]\ncommand_timeout: -1\n", "line 2: command_timeout", id="neg"),
        pytest.param("[Main]\nmaxrc: perhaps\n", 'line 2: maxrc "perhaps": must be yes or no',
                     id="bad-bool"),
        pytest.param("[Main]\ntransport: telnet\n", "line 2: transport", id="bad-transport"),
        pytest.param("[Main]\njust words\n", "line 2: not a key: value line", id="syntax"),
        pytest.param("fanout: 3\n", "line 1:", id="no-section"),
        pytest.param("[Main]\n[Other]\n", 'line 2: unknown section "[Other]"', id="section"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path} ")
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.conf")
