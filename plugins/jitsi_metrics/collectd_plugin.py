"""collectd front end: the module collectd's python plugin imports (collectd/jitsi.conf).

Each ``<Bridge "meet1">`` of the ``<Module>`` block is polled at every interval and its
statistics dispatched as ``host/jitsi-meet1/gauge-conferences``,
``host/jitsi-meet1/derive-total_bytes_sent`` and so on. ``collectd`` is imported only when
collectd loads this module (last lines), so tests can hand ``CollectdPlugin`` a fake.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .catalogue import ARRAY, BY_KEY, SCRAPE_DURATION, STRING, UP
from .collectd_config import MAX_NAME, UNSAFE, PluginConfig, parse_config
from .config import ConfigError
from .health import NOTICE, BridgeHealth, Event
from .logtext import MAX_LINE, loggable
from .runtime import Runtime
from .samples import COUNTER, Family, Number, Sample

PLUGIN = "jitsi"
LOG_PREFIX = "jitsi plugin: "  # collectd's log has no plugin column; every line starts with this
DERIVE_RANGE = (-(2 ** 63), 2 ** 63 - 1)  # collectd's derive_t is a signed 64-bit integer


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
    elif metric is None:
        # A series of another source (/metrics, Jicofo): histogram part and label values
        # keep each one apart, e.g. conferences_by_size_bucket-2.0. The bridge label, if
        # any, is the plugin instance already.
        values = [value for name, value in sample.labels if name != "bridge"]
        instance = "-".join([family.key + sample.suffix] + values)
    kind = "derive" if family.type == COUNTER else "gauge"
    return kind, UNSAFE.sub("_", instance)[:MAX_NAME], sample.value


class ReadFailed(Exception):
    cause = "bug"


class CollectdPlugin:
    """Registered callbacks plus their state; ``collectd`` is the real module or a fake."""

    def __init__(self, collectd: Any) -> None:
        self.collectd = collectd
        self.config: Optional[PluginConfig] = None
        self.broken = False
        self.runtime: Optional[Runtime] = None
        # Values collectd cannot take, per bridge: news when they start and when they end,
        # through the same health events as the bridges themselves.
        self.rejected: Dict[str, BridgeHealth] = {}
        self.reading = BridgeHealth("")  # bugs of the read callback itself

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
            self.collectd.error(f"{LOG_PREFIX}configuration error: {loggable(str(exc), MAX_LINE)}; "
                                "no bridge will be read until it is fixed")

    def init(self) -> None:
        if self.broken:
            return
        if self.config is None:
            self.collectd.error(f'{LOG_PREFIX}no <Module "jitsi_metrics.collectd_plugin"> block; '
                                "no bridge will be read")
            return
        # Created here: collectd allows threads only from init on.
        self.runtime = Runtime(self.config.bridges, named=True, report=self.log)
        self.rejected = {b.name: BridgeHealth(b.name) for b in self.config.bridges}
        interval = {} if self.config.interval is None else {"interval": self.config.interval}
        self.collectd.register_read(self.read, name=PLUGIN, **interval)

    def log(self, bridge: str, event: Event) -> None:
        # A bridge that is down is a warning for collectd, not an error of this plugin.
        write = self.collectd.notice if event.level == NOTICE else self.collectd.warning
        write(LOG_PREFIX + loggable(event.message, MAX_LINE))

    def read(self, data: Any = None) -> None:
        """Never raises: an exception would make collectd suspend the whole plugin."""
        if self.runtime is None:
            return
        try:
            results = self.runtime.poll()
        except Exception as exc:  # a bug, not a bridge failure; keep collectd reading
            for event in self.reading.update(ReadFailed(f"polling failed: {loggable(repr(exc))}")):
                self.log("", event)  # log() adds LOG_PREFIX
            return
        if self.reading.update(None):  # news of a good read is only ever the recovery the error line promised
            self.log("", Event(NOTICE, "polling works again"))
        for result in results:
            try:
                skipped = (self.dispatch(result.bridge, f, s) for f in result.families for s in f.samples)
                problems = list(dict.fromkeys(p for p in skipped if p))
            except Exception as exc:  # a bug in dispatching this bridge's values
                problems = [f'Bridge "{result.bridge}": {loggable(repr(exc))}; rest of this read skipped']
            for event in self.rejected[result.bridge].update(None, problems):
                self.log(result.bridge, event)

    def dispatch(self, bridge: str, family: Family, sample: Sample) -> Optional[str]:
        """The only code that builds collectd.Values; returns why a value was skipped."""
        kind, instance, value = value_spec(family, sample)
        where = f'Bridge "{bridge}": value "{loggable(instance)}"'
        if kind == "derive" and not DERIVE_RANGE[0] <= value <= DERIVE_RANGE[1]:
            return f"{where} is outside collectd's signed 64-bit derive range; value skipped while it stays so"
        try:
            self.collectd.Values(
                plugin=PLUGIN, plugin_instance=bridge, type=kind, type_instance=instance, values=[value]
            ).dispatch()
        except (OverflowError, ValueError, TypeError, RuntimeError) as exc:
            return f"{where} rejected by collectd ({loggable(str(exc))}); value skipped while it is"
        return None

    def shutdown(self) -> None:
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None


def _register_with_collectd() -> None:
    try:
        import collectd  # exists only inside collectd's embedded interpreter (or a test's fake)
    except ImportError:
        return
    # A folder named collectd on sys.path (this repository's snippets, when Python runs
    # from the checkout) imports as an empty namespace package: not collectd.
    if hasattr(collectd, "register_config"):
        CollectdPlugin(collectd).register()


__all__: List[str] = ["CollectdPlugin", "PluginConfig", "parse_config", "value_spec"]

_register_with_collectd()
