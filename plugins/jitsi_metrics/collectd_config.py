"""The collectd ``<Module "jitsi_metrics.collectd_plugin">`` block as bridge options.

A pure function of collectd's ``Config`` tree (tested with a tiny fake tree): keys
match case-insensitively, as in every collectd plugin, and a bad value raises
``ConfigError`` naming the option and the value.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from .config import (
    BridgeOptions,
    ConfigError,
    bridge_options,
    check_max_bytes,
    check_timeout,
    check_unique_names,
    check_url,
    read_secret_file,
)

# collectd keeps 127 characters of each identifier part; "/" separates the parts.
MAX_NAME = 127
UNSAFE = re.compile(r"[^A-Za-z0-9_.:@+,=-]")
_KNOWN = ("URL", "Timeout", "MaxBytes", "Username", "PasswordFile", "TokenFile", "CAFile", "VerifyTLS")
_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


class PluginConfig(NamedTuple):
    bridges: Tuple[BridgeOptions, ...]
    interval: Optional[float]  # None: collectd's global Interval


def _value(node: Any, where: str) -> Any:
    if len(node.values) != 1:
        raise ConfigError(f"{where}{node.key} needs exactly one value, got {len(node.values)}: {tuple(node.values)!r}")
    return node.values[0]


def _text(node: Any, where: str) -> str:
    value = _value(node, where)
    if not isinstance(value, str) or not value:
        raise ConfigError(f'{where}{node.key} {value!r} must be a non-empty quoted string')
    return value


def _boolean(node: Any, where: str) -> bool:
    value = _value(node, where)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOLEANS:
        return _BOOLEANS[value.lower()]
    raise ConfigError(f"{where}{node.key} {value!r} must be true or false")


def _secret_file(node: Any, where: str) -> str:
    """First line of the file: secrets stay out of collectd.conf, which many can read."""
    return read_secret_file(_text(node, where), f"{where}{node.key}")


def _ca_file(node: Any, where: str) -> str:
    path = _text(node, where)
    if not os.path.isfile(path):
        raise ConfigError(f"{where}{node.key} {path!r} is not a readable file")
    return path


# collectd option (lower case) -> (bridge_options argument, reader)
_BRIDGE_OPTIONS: Dict[str, Tuple[str, Callable[[Any, str], Any]]] = {
    "url": ("url", lambda n, w: check_url(_text(n, w), f"{w}URL")),
    "timeout": ("timeout", lambda n, w: check_timeout(_value(n, w), f"{w}Timeout")),
    "maxbytes": ("max_bytes", lambda n, w: check_max_bytes(_value(n, w), f"{w}MaxBytes")),
    "username": ("username", _text),
    "passwordfile": ("password", _secret_file),
    "tokenfile": ("token", _secret_file),
    "cafile": ("ca_file", _ca_file),
    "verifytls": ("verify_tls", _boolean),
}


def is_instance_name(name: str) -> bool:
    """Whether ``name`` may name a bridge: it becomes collectd's plugin instance, which
    collectd limits in length and which must not need quoting in an identifier."""
    return 0 < len(name) <= MAX_NAME and not UNSAFE.search(name)


def instance_name_rule(name: str) -> str:
    """Why ``name`` cannot name a bridge, worded once for the plugin and the config generator."""
    return f"name {name!r} may only use A-Z a-z 0-9 _ . : @ + , = - (up to {MAX_NAME} characters)"


def _bridge(block: Any) -> BridgeOptions:
    if len(block.values) != 1 or not isinstance(block.values[0], str) or not block.values[0]:
        raise ConfigError(f'Bridge block needs one quoted name, e.g. <Bridge "meet1">, got {tuple(block.values)!r}')
    name = block.values[0]
    where = f'Bridge "{name}" '
    if not is_instance_name(name):
        raise ConfigError(f"{where}{instance_name_rule(name)}: it becomes the plugin instance")
    kwargs: Dict[str, Any] = {"name": name}
    for child in block.children:
        if child.key.lower() not in _BRIDGE_OPTIONS:
            raise ConfigError(f"{where}has unknown option {child.key!r}; known: {', '.join(_KNOWN)}")
        argument, read = _BRIDGE_OPTIONS[child.key.lower()]
        if argument in kwargs:
            raise ConfigError(f"{where}sets {child.key} twice")
        kwargs[argument] = read(child, where)
    if "url" not in kwargs:
        raise ConfigError(f'{where}has no URL, e.g. URL "http://localhost:8080/colibri/stats"')
    try:
        return bridge_options(**kwargs)
    except ConfigError as exc:  # checks across options, e.g. Username without PasswordFile
        raise ConfigError(f"{where}{exc}") from None


def parse_config(root: Any) -> PluginConfig:
    """The ``<Module>`` block as bridge options; a ConfigError names option and value."""
    bridges: List[BridgeOptions] = []
    interval: Optional[float] = None
    for child in root.children:
        key = child.key.lower()
        if key == "bridge":
            bridges.append(_bridge(child))
        elif key == "interval":
            interval = check_timeout(_value(child, ""), "Interval")
        else:
            raise ConfigError(f"unknown option {child.key!r}; known: Interval and <Bridge> blocks")
    if not bridges:
        raise ConfigError('no <Bridge "name"> block; add one per videobridge')
    return PluginConfig(check_unique_names(bridges), interval)
