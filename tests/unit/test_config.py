"""Settings registry: precedence, typed parsing, fail-fast errors naming key and source."""

import os
import stat

import pytest

from core.config import REGISTRY, ConfigError, example_ini, load_settings, write_config
from tests.support import PROJECT_ROOT

SECRET = "s" * 40


def write(path, text):
    path.write_text(text)
    return str(path)


def test_defaults_without_any_file():
    settings = load_settings(environ={"UXWIZZ_CONFIG": "/nonexistent/config.ini"})
    assert settings["server.port"] == 8080 and settings["server.host"] == "127.0.0.1"
    assert settings["security.secret_key"] is None  # no default secret, ever
    assert not settings.installed and settings.source("server.port") == "default"


def test_precedence_defaults_ini_env_cli(tmp_path):
    path = write(tmp_path / "config.ini", "[server]\nport = 9000\nhost = 0.0.0.0\nthreads = 4\n")
    env = {"UXWIZZ_CONFIG": path, "UXWIZZ_SERVER_PORT": "9100", "UXWIZZ_SERVER_THREADS": "6"}
    settings = load_settings(environ=env, cli={"server.port": "9200", "server.host": None})
    assert settings["server.port"] == 9200 and settings.source("server.port") == "command line"
    assert settings["server.threads"] == 6 and settings.source("server.threads") == "environment UXWIZZ_SERVER_THREADS"
    assert settings["server.host"] == "0.0.0.0" and settings.source("server.host").endswith("[server] host")
    assert settings["server.data_dir"] == "data" and settings.source("server.data_dir") == "default"


def test_explicit_config_path_beats_environment(tmp_path):
    first = write(tmp_path / "a.ini", "[server]\nport = 1111\n")
    second = write(tmp_path / "b.ini", "[server]\nport = 2222\n")
    assert load_settings(first, environ={"UXWIZZ_CONFIG": second})["server.port"] == 1111
    assert load_settings(environ={"UXWIZZ_CONFIG": second})["server.port"] == 2222


@pytest.mark.parametrize("text,expected", [
    ("[server]\nport = eighty\n", "server.port (from {path} [server] port): 'eighty' is not a whole number"),
    ("[server]\nport = 70000\n", "server.port (from {path} [server] port): 70000 is above 65535"),
    ("[server]\nprot = 80\n", "{path}: unknown setting [server] prot"),
    ("[scheduler]\nenabled = maybe\n", "scheduler.enabled (from {path} [scheduler] enabled): 'maybe' is not a yes/no value"),
    ("[logging]\nlevel = loud\n", "logging.level (from {path} [logging] level): 'loud' is not one of debug, info, warning, error"),
    ("[security]\nsecret_key = short\n", "security.secret_key (from {path} [security] secret_key): must be at least 32 characters"),
    ("[database]\nurl = postgres://x/y\n[security]\nsecret_key = " + SECRET + "\n", "database.url (from {path} [database] url): must start with"),
    ("[database]\nurl = sqlite:///x.db\n", "security.secret_key is not set but database.url is"),
    ("[server]\ntrusted_proxies = 10.0.0.0/8, nonsense\n", "'nonsense' is not an IP address or CIDR range"),
    ("not an ini file", "cannot be read"),
])
def test_bad_values_fail_fast_naming_key_and_source(tmp_path, text, expected):
    path = write(tmp_path / "config.ini", text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert expected.format(path=path) in str(info.value)


def test_env_errors_name_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"server.port \(from environment UXWIZZ_SERVER_PORT\)"):
        load_settings(environ={"UXWIZZ_CONFIG": str(tmp_path / "none.ini"), "UXWIZZ_SERVER_PORT": "x"})


def test_missing_explicit_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "missing.ini"), environ={})


def test_lists_and_installed_flag(tmp_path):
    path = write(tmp_path / "config.ini",
                 f"[server]\ntrusted_proxies = 10.0.0.1, 192.168.0.0/16\n[database]\nurl = sqlite:///db.sqlite\n"
                 f"[security]\nsecret_key = {SECRET}\n")
    settings = load_settings(path, environ={})
    assert settings["server.trusted_proxies"] == ("10.0.0.1", "192.168.0.0/16")
    assert settings.installed and settings.data_dir == os.path.join(str(tmp_path), "data")


def test_write_config_is_atomic_private_and_round_trips(tmp_path):
    path = str(tmp_path / "sub" / "config.ini")
    write_config(path, {"database.url": "sqlite:///data/x.db", "security.secret_key": SECRET, "server.port": 9001})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p for p in os.listdir(tmp_path / "sub") if p.endswith(".tmp")] == []
    settings = load_settings(path, environ={})
    assert settings["server.port"] == 9001 and settings["security.secret_key"] == SECRET


def test_every_setting_has_help_and_a_unique_env_name():
    assert all(spec.help for spec in REGISTRY)
    assert len({spec.env for spec in REGISTRY}) == len(REGISTRY)


def test_committed_example_ini_matches_the_registry():
    with open(os.path.join(PROJECT_ROOT, "config.example.ini"), encoding="utf-8") as handle:
        assert handle.read() == example_ini(), "run: python uxwizz.py config example > config.example.ini"


def test_example_ini_parses_and_mentions_every_setting(tmp_path):
    text = example_ini()
    for spec in REGISTRY:
        assert f";{spec.key} =" in text and spec.env in text
    uncommented = "\n".join(line[1:] if line.startswith(";") and "=" in line and not line.startswith("; ") else line
                            for line in text.splitlines())
    path = write(tmp_path / "config.ini", uncommented.replace("secret_key =", "secret_key = " + SECRET)
                 .replace("url =", "url = sqlite:///x.db"))
    assert load_settings(path, environ={})["server.port"] == 8080


def test_every_setting_is_documented_in_docs_configuration():
    with open(os.path.join(PROJECT_ROOT, "docs", "configuration.md"), encoding="utf-8") as handle:
        text = handle.read()
    missing = [spec.name for spec in REGISTRY if f"`{spec.name}`" not in text or spec.env not in text]
    assert missing == [], f"add these settings to docs/configuration.md: {missing}"
