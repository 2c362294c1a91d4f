"""collectd front end: the module collectd's python plugin imports (collectd/jitsi.conf).

Each ``<Bridge "meet1">`` of the ``<Module>`` block is polled at every interval and its
statistics dispatched as ``host/jitsi-meet1/gauge-conferences``,
``host/jitsi-meet1/derive-total_bytes_sent`` and so on. ``collectd`` is imported only when
collectd loads this module (last lines), so tests can hand ``CollectdPlugin`` a fake.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

from .catalogue import ARRAY, BY_KEY, SCRAPE_DURATION, STRING, UP
from .config import (
    BridgeOptions, ConfigError, bridge_options, check_max_bytes, check_timeout, check_unique_names, check_url,
    read_secret_file,
)
from .health import ERROR, WARNING, BridgeHealth
from .poll import Poller, PollResult
from .samples import COUNTER, Family, Number, Sample

PLUGIN = "jitsi"
PREFIX = "jitsi plugin: "
# collectd keeps 127 characters of each identifier part; "/" separates the parts.
MAX_NAME = 127
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:@+,=-]")
DERIVE_RANGE = (-(2 ** 63), 2 ** 63 - 1)  # collectd's derive_t is a signed 64-bit integer
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


def _bridge(block: Any) -> BridgeOptions:
    if len(block.values) != 1 or not isinstance(block.values[0], str) or not block.values[0]:
        raise ConfigError(f'Bridge block needs one quoted name, e.g. <Bridge "meet1">, got {tuple(block.values)!r}')
    name = block.values[0]
    where = f'Bridge "{name}" '
    if _UNSAFE.search(name) or len(name) > MAX_NAME:
        raise ConfigError(f"{where}name {name!r} may only use A-Z a-z 0-9 _ . : @ + , = - (it becomes the plugin instance)")
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


def value_spec(family: Family, sample: Sample) -> Tuple[str, str, Number]:
    """(type, type instance, value) of one sample, e.g. ("gauge", "conference_sizes-3", 2).

    Strings (version, region, release, relay_id) become 1-valued gauges named after the
    string, collectd's nearest thing to a Prometheus ``_info`` metric.
    """
    if family.name == UP.name:
        return "gauge", "up", sample.value
    if family.name == SCRAPE_DURATION.name:
        return "duration", "poll", sample.value
    metric = BY_KEY.get(family.key)
    instance = family.key
    if metric is not None and metric.kind in (ARRAY, STRING):
        instance = f"{family.key}-{sample.labels[-1][1]}"  # the index or the string
    kind = "derive" if family.type == COUNTER else "gauge"
    return kind, _UNSAFE.sub("_", instance)[:MAX_NAME], sample.value


class CollectdPlugin:
    """Registered callbacks plus their state; ``collectd`` is the real module or a fake."""

    def __init__(self, collectd: Any) -> None:
        self.collectd = collectd
        self.config: Optional[PluginConfig] = None
        self.broken = False
        self.poller: Optional[Poller] = None
        self.health: Dict[str, BridgeHealth] = {}
        self.reported: Set[Tuple[str, str]] = set()  # (bridge, key) skipped values, logged once

    def register(self) -> None:
        self.collectd.register_config(self.configure)
        self.collectd.register_init(self.init)
        self.collectd.register_shutdown(self.shutdown)

    def configure(self, root: Any) -> None:
        try:
            if self.config is not None:
                raise ConfigError("a second <Module> block; put every <Bridge> into one block")
            self.config = parse_config(root)
        except ConfigError as exc:
            self.broken = True
            self.collectd.error(f"{PREFIX}configuration error: {exc}; no bridge will be read until it is fixed")

    def init(self) -> None:
        if self.broken:
            return
        if self.config is None:
            self.collectd.error(f'{PREFIX}no <Module "jitsi_metrics.collectd_plugin"> block; no bridge will be read')
            return
        # Created here: collectd allows threads only from init on.
        self.poller = Poller(self.config.bridges, named=True)
        self.health = {b.name: BridgeHealth(b.name) for b in self.config.bridges}
        interval = {} if self.config.interval is None else {"interval": self.config.interval}
        self.collectd.register_read(self.read, name=PLUGIN, **interval)

    def read(self, data: Any = None) -> None:
        """Never raises: an exception would make collectd suspend the whole plugin."""
        if self.poller is None:
            return
        try:
            results = self.poller.poll()
        except Exception as exc:  # a bug, not a bridge failure; keep collectd reading
            self._once("", repr(exc), f"{PREFIX}polling failed: {exc!r}; retrying at the next interval")
            return
        for result in results:
            try:
                self._log_health(result)
                for family in result.families:
                    for sample in family.samples:
                        self.dispatch(result.bridge, family, sample)
            except Exception as exc:
                self._once(result.bridge, repr(exc), f'{PREFIX}Bridge "{result.bridge}": {exc!r}; rest of this read skipped')

    def dispatch(self, bridge: str, family: Family, sample: Sample) -> None:
        """The only code that builds collectd.Values."""
        kind, instance, value = value_spec(family, sample)
        if kind == "derive" and not DERIVE_RANGE[0] <= value <= DERIVE_RANGE[1]:
            self._once(bridge, family.key, f'{PREFIX}Bridge "{bridge}": key "{family.key}" is {value!r}, outside '
                       "collectd's signed 64-bit derive range; value skipped while it stays so (reported once)")
            return
        try:
            self.collectd.Values(
                plugin=PLUGIN, plugin_instance=bridge, type=kind, type_instance=instance, values=[value]
            ).dispatch()
        except (OverflowError, ValueError, TypeError, RuntimeError) as exc:
            self._once(bridge, family.key, f'{PREFIX}Bridge "{bridge}": key "{family.key}" value {value!r} '
                       f"rejected by collectd ({exc}); value skipped (reported once)")

    def _log_health(self, result: PollResult) -> None:
        for level, line in self.health[result.bridge].update(result):
            # A bridge that is down is a warning for collectd, not an error of this plugin.
            log = self.collectd.warning if level in (ERROR, WARNING) else self.collectd.notice
            log(PREFIX + line)

    def _once(self, bridge: str, what: str, message: str) -> None:
        if (bridge, what) not in self.reported:
            self.reported.add((bridge, what))
            self.collectd.warning(message)

    def shutdown(self) -> None:
        if self.poller is not None:
            self.poller.close()
            self.poller = None


def _register_with_collectd() -> None:
    try:
        import collectd  # exists only inside collectd's embedded interpreter (or a test's fake)
    except ImportError:
        return
    # A folder named collectd on sys.path (this repository's snippets, when Python runs
    # from the checkout) imports as an empty namespace package: not collectd.
    if hasattr(collectd, "register_config"):
        CollectdPlugin(collectd).register()


_register_with_collectd()
