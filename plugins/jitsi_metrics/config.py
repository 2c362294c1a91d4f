"""Bridge options shared by every front end, checked when they are built.

argv, the environment, a collectd block or a file all end up as a frozen
``BridgeOptions``; a bad value raises ``ConfigError`` naming the option and the value,
before any poll runs.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Tuple
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_URL = "http://localhost:8080/colibri/stats"
# Bridges polled at once: 500 bridges answering in 100 ms each take 8 rounds of 64.
DEFAULT_CONCURRENCY = 64


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names option and value."""


@dataclass(frozen=True)
class BridgeOptions:
    url: str
    name: str
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    token: Optional[str] = field(default=None, repr=False)
    ca_file: Optional[str] = None
    verify_tls: bool = True


def default_bridge_name(url: str) -> str:
    """host:port of the URL, the ``bridge`` label when none is given."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def redact_url(url: str) -> str:
    """``url`` fit to be shown: a password in it becomes ``***``
    (``http://jvb:s3cret@meet1/x`` -> ``http://jvb:***@meet1/x``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    shown = f"{user}:***" if has_password else user
    return urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))


def split_credentials(url: str) -> Tuple[str, Optional[str], Optional[str]]:
    """(URL without userinfo, user name, password) of ``http://user:password@host/...``,
    percent-decoded; (url, None, None) when the URL carries none."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    bare = urlunsplit(parts._replace(netloc=hostport))
    return bare, unquote(user) or None, unquote(password) if has_password else None


def check_url(url: str, option: str = "url") -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError(f"{option} {redact_url(url)!r} cannot be parsed as a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{option} {redact_url(url)!r} is not an http:// or https:// URL with a host")
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise ConfigError(f"{option} {redact_url(url)!r} has an invalid port") from None
    return url


def check_timeout(value: object, option: str = "timeout") -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{option} {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{option} {value!r} must be a positive number of seconds")
    return seconds


def check_max_bytes(value: object, option: str = "max-bytes") -> int:
    try:
        size: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(f"{option} {value!r} is not a whole number of bytes") from None
    if size <= 0:
        raise ConfigError(f"{option} {value!r} must be positive")
    return size


def read_secret_file(path: str, option: str) -> str:
    """The first line of a secret file; ``option`` names the setting in errors."""
    try:
        with open(path, encoding="utf-8") as handle:
            secret = handle.readline().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{option} {path!r} cannot be read: {exc.strerror}") from None
    if not secret:
        raise ConfigError(f"{option} {path!r} is empty")
    return secret


def read_secret(
    option: str, path: Optional[str], env_var: Optional[str], environ: Mapping[str, str]
) -> Optional[str]:
    """A secret from ``<option>-file`` (first line) or ``<option>-env``, never from argv."""
    if path and env_var:
        raise ConfigError(f"{option}: give a file or an environment variable, not both")
    if path:
        return read_secret_file(path, f"{option}-file")
    if env_var:
        secret = environ.get(env_var, "")
        if not secret:
            raise ConfigError(f"{option}-env {env_var!r} names an unset or empty environment variable")
        return secret
    return None


def bridge_options(
    url: str,
    name: Optional[str] = None,
    timeout: object = DEFAULT_TIMEOUT,
    max_bytes: object = DEFAULT_MAX_BYTES,
    username: Optional[str] = None,
    password: Optional[str] = None,
    token: Optional[str] = None,
    ca_file: Optional[str] = None,
    verify_tls: bool = True,
) -> BridgeOptions:
    check_url(url)
    # Credentials in the URL move to the options, so the URL can be shown anywhere.
    url, url_user, url_password = split_credentials(url)
    if url_user is not None or url_password is not None:
        if username or token is not None or (url_password is not None and password is not None):
            raise ConfigError("credentials are given both in the URL and as options; give them once")
        # A user name in the URL may take its password from a file or the environment.
        username, password = url_user, url_password if url_password is not None else password
    if password is not None and not username:
        raise ConfigError("a password was given without a username")
    if username and password is None:
        raise ConfigError(f"username {username!r} was given without a password")
    if token is not None and username:
        raise ConfigError("give basic auth (username/password) or a bearer token, not both")
    if token is not None and not _TOKEN.fullmatch(token):
        # Never echoed: it is a secret. A newline in it would end the header.
        raise ConfigError("the bearer token holds a space, a control character or a non-ASCII character, "
                          "which an Authorization header cannot carry; check the token's file or variable")
    if ca_file is not None:
        if not os.path.isfile(ca_file):
            raise ConfigError(f"CA file {ca_file!r} is not a readable file")
        if not verify_tls:
            raise ConfigError("a CA file and the TLS verification opt-out contradict each other")
    if name is not None and not name.strip():
        raise ConfigError(f"name {name!r} is empty")
    return BridgeOptions(
        url=url,
        name=name if name is not None else default_bridge_name(url),
        timeout=check_timeout(timeout),
        max_bytes=check_max_bytes(max_bytes),
        username=username or None,
        password=password,
        token=token,
        ca_file=ca_file,
        verify_tls=verify_tls,
    )


# What a bearer token may hold (RFC 6750's b64token, a little wider): visible ASCII.
_TOKEN = re.compile(r"[\x21-\x7e]+")


def check_unique_names(bridges: Sequence[BridgeOptions]) -> Tuple[BridgeOptions, ...]:
    seen = set()
    for bridge in bridges:
        if bridge.name in seen:
            raise ConfigError(
                f"bridge name {bridge.name!r} is used twice; give each bridge its own name"
            )
        seen.add(bridge.name)
    return tuple(bridges)


def parse_listen(value: str, option: str = "listen") -> Tuple[str, int]:
    """``host:port``, ``[::1]:port`` or ``:port`` (all interfaces) -> (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{option} {value!r} is not host:port (e.g. 127.0.0.1:9888 or :9888)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


# Go's time.ParseDuration units, which Telegraf's own durations use ("10s", "1m30s", "500ms").
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)"


def parse_duration(text: str, option: str = "--interval") -> float:
    """Seconds from a Telegraf-style duration ("10s", "1m", "500ms", "1h30m") or plain seconds."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", value):
        seconds = float(value)
    elif re.fullmatch(f"(?:{_PART})+", value):
        seconds = sum(float(n) * _UNITS[u] for n, u in re.findall(_PART, value))
    else:
        raise ConfigError(f"{option} {text!r} is not a duration like 10s, 1m, 500ms or a number of seconds")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{option} {text!r} must be longer than zero")
    return seconds
