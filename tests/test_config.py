"""Settings: defaults, file, environment, errors, and that the reference doc lists every one."""

from pathlib import Path

import pytest

from server.config import ConfigError, Settings, describe, load_settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_environment_beats_file_beats_default(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('port = 9000\nhost = "0.0.0.0"\ntrusted_proxies = ["10.0.0.1"]\n')
    s = load_settings(path, env={"INTERVIEW_PORT": "9100", "REDIS_URL": "redis://x:1/0"})
    assert (s.port, s.host, s.redis_url, s.trusted_proxies) == (9100, "0.0.0.0", "redis://x:1/0", ("10.0.0.1",))
    assert s.base_url == "http://127.0.0.1:9100"
    assert load_settings(env={}).port == Settings().port


@pytest.mark.parametrize(
    "env, name",
    [
        ({"INTERVIEW_PORT": "x"}, "port"),
        ({"INTERVIEW_TLS_SELF_SIGNED": "maybe"}, "tls_self_signed"),
        ({"INTERVIEW_LOG_FORMAT": "xml"}, "log_format"),
        ({"INTERVIEW_TLS_CERT": "/a.pem"}, "tls_key"),
    ],
)
def test_bad_values_name_the_setting(env, name):
    with pytest.raises(ConfigError, match=name):
        load_settings(env=env)


def test_cookie_secure_is_auto_unless_set():
    assert load_settings(env={}).cookie_secure is None
    assert load_settings(env={"INTERVIEW_COOKIE_SECURE": "true"}).cookie_secure is True


def test_every_setting_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for name, env, _ in describe():
        assert f"| `{name}` | `{env}`" in text, name
