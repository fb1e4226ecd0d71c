"""config.toml: the shipped file is valid; bad keys, types and URLs give one clear line each."""
from __future__ import annotations

from pathlib import Path

import pytest

from iocwall.wall.config import ConfigError, load, load_config

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid_and_matches_defaults() -> None:
    config = load(REPO / "config.toml", env={})
    assert config.server.port == 8080 and config.bus.backend == "memory"
    assert config.auth.admin_password == "" and config.auth.session_secret == ""


def test_no_file_means_defaults() -> None:
    assert load(None, env={}).server.host == "127.0.0.1"


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nhost = "127.0.0.1"\nprot = 80\n')
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    lines = str(err.value).splitlines()
    assert len(lines) == 1
    assert f"{path}:3" in lines[0] and "server.prot" in lines[0] and "unknown key" in lines[0]


def test_wrong_type_names_key_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = "eighty"\n')
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    line = str(err.value)
    assert "\n" not in line and f"{path}:2" in line and "server.port" in line
    assert "'eighty'" in line and "integer" in line


def test_out_of_range_and_bad_enum(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 70000\n[bus]\nbackend = "kafka"\n')
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert "server.port" in lines[0] and f"{path}:2" in lines[0]
    assert "bus.backend" in lines[1] and f"{path}:4" in lines[1] and "memory" in lines[1]


def test_bad_camera_url_is_one_line_without_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, '[[cameras]]\nid = "cam-1"\nname = "Quầy 1"\n'
                           'main_url = "rtsp://user:secret@10.0.0.1:99999/stream"\n')
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    line = str(err.value)
    assert "\n" not in line and "main_url" in line and f"{path}:4" in line
    assert "secret" not in line and "port" in line
    path = write(tmp_path, '[[cameras]]\nid = "cam-1"\nname = "Quầy 1"\nmain_url = "ftp://a/b"\n')
    with pytest.raises(ConfigError, match="unsupported scheme"):
        load(path, env={})


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[server\n"), env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.toml", env={})


def test_environment_overrides_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\nadmin_password = "from-file"\n')
    config = load(path, env={"IOCWALL_ADMIN_PASSWORD": "from-env-123",
                             "IOCWALL_SESSION_SECRET": "s" * 40})
    assert config.auth.admin_password == "from-env-123"
    assert config.auth.session_secret == "s" * 40
    assert load(path, env={}).auth.admin_password == "from-file"


def test_secret_values_are_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\nadmin_password = 12345678\n')
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert "12345678" not in str(err.value) and "auth.admin_password" in str(err.value)


def test_load_config_takes_the_command_lines_overrides_as_plain_arguments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[server]\nhost = "10.0.0.1"\nport = 9000\ndata_dir = "d"\n')
    kept = load_config(path, env={})
    assert (kept.server.host, kept.server.port, kept.server.data_dir) == ("10.0.0.1", 9000, "d")
    over = load_config(path, host="0.0.0.0", port=0, data_dir="e", env={})
    assert (over.server.host, over.server.port, over.server.data_dir) == ("0.0.0.0", 0, "e")
    # no path: ./config.toml when there is one, else the built-in defaults
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}).server.port == 9000
    (tmp_path / "config.toml").unlink()
    assert load_config(env={}).server.port == 8080


def test_cluster_lease_renewal_must_fit_twice_in_its_lifetime(tmp_path: Path) -> None:
    config = load(None, env={})
    assert (config.cluster.lease_ttl_s, config.cluster.lease_renew_s) == (4.0, 1.0)
    path = write(tmp_path, '[server]\nport = 8080\n[cluster]\nlease_ttl_s = 2\n'
                 'lease_renew_s = 1\n')
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    line = str(err.value)
    assert len(line.splitlines()) == 1 and f"{path}:3" in line
    assert "lease_renew_s (1) must be under lease_ttl_s / 2 (1)" in line
    ok = write(tmp_path, '[cluster]\nlease_ttl_s = 3\nlease_renew_s = 1\n'
               'controller_url = "https://10.0.0.11:8443"\n')
    assert load(ok, env={}).cluster.controller_url == "https://10.0.0.11:8443"
    bad = write(tmp_path, '[cluster]\ncontroller_url = "10.0.0.11:8080"\n')
    with pytest.raises(ConfigError, match="cluster.controller_url.*http"):
        load(bad, env={})
