from __future__ import annotations

import pytest

from jitsi_metrics.config import (
    ConfigError,
    bridge_options,
    check_unique_names,
    default_bridge_name,
    parse_listen,
    read_secret,
)


@pytest.mark.parametrize("url, name", [
    ("http://127.0.0.1:8080/colibri/stats", "127.0.0.1:8080"),
    ("http://meet1/colibri/stats", "meet1:80"),
    ("https://meet1.example/colibri/stats", "meet1.example:443"),
    ("http://[::1]:8080/colibri/stats", "[::1]:8080"),
])
def test_default_bridge_name(url, name):
    assert default_bridge_name(url) == name
    assert bridge_options(url).name == name


@pytest.mark.parametrize("kwargs, words", [
    ({"url": "ftp://x/y"}, "url 'ftp://x/y' is not an http"),
    ({"url": "http://:80/x"}, "with a host"),
    ({"url": "http://x:99999/"}, "invalid port"),
    ({"url": "http://x/", "timeout": "soon"}, "timeout 'soon' is not a number"),
    ({"url": "http://x/", "timeout": 0}, "must be a positive"),
    ({"url": "http://x/", "timeout": float("inf")}, "must be a positive"),
    ({"url": "http://x/", "max_bytes": "big"}, "max-bytes 'big'"),
    ({"url": "http://x/", "username": "u"}, "without a password"),
    ({"url": "http://x/", "password": "p"}, "without a username"),
    ({"url": "http://x/", "username": "u", "password": "p", "token": "t"}, "not both"),
    ({"url": "http://x/", "token": "abc\r\nX-Injected: 1"}, "bearer token holds a space, a control character"),
    ({"url": "http://x/", "token": "t\u00f6ken"}, "cannot carry; check the token's file or variable"),
    ({"url": "http://x/", "token": ""}, "bearer token holds"),
    ({"url": "http://x/", "ca_file": "/nonexistent/ca.pem"}, "CA file '/nonexistent/ca.pem'"),
    ({"url": "http://x/", "name": " "}, "name ' ' is empty"),
])
def test_bad_options_name_option_and_value(kwargs, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        bridge_options(**kwargs)


def test_options_hide_secrets_in_repr():
    options = bridge_options("http://x/", username="u", password="hunter2")
    assert "hunter2" not in repr(options)


def test_secret_from_file_and_environment(tmp_path):
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cret\nignored\n")
    assert read_secret("--password", str(secret_file), None, {}) == "s3cret"
    assert read_secret("--password", None, "JVB_PW", {"JVB_PW": "envpw"}) == "envpw"
    assert read_secret("--password", None, None, {}) is None
    with pytest.raises(ConfigError, match="unset or empty"):
        read_secret("--password", None, "JVB_PW", {})
    with pytest.raises(ConfigError, match="cannot be read"):
        read_secret("--password", str(tmp_path / "missing"), None, {})
    with pytest.raises(ConfigError, match="not both"):
        read_secret("--password", str(secret_file), "JVB_PW", {})


def test_names_must_be_unique():
    a = bridge_options("http://a:8080/colibri/stats", name="meet")
    b = bridge_options("http://b:8080/colibri/stats", name="meet")
    with pytest.raises(ConfigError, match="'meet' is used twice"):
        check_unique_names([a, b])


@pytest.mark.parametrize("text, parsed", [
    (":9888", ("", 9888)), ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:9", ("::1", 9)),
])
def test_parse_listen(text, parsed):
    assert parse_listen(text) == parsed


@pytest.mark.parametrize("text", ["9888", "host:", "host:http", "h:70000"])
def test_parse_listen_rejects(text):
    with pytest.raises(ConfigError, match="is not host:port"):
        parse_listen(text)
