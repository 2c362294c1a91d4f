"""A fake of the ``collectd`` module that collectd's python plugin gives its scripts.

It behaves like Debian's collectd-core 5.12 where the plugin depends on it; each
behaviour below was checked against the real daemon (a probe module run under
``collectd -f``):

- ``Values(...)`` takes only collectd's keywords (another one is a TypeError);
  ``dispatch(**overrides)`` checks the type against types.db
  (``TypeError: Dataset X not found``), the number of values
  (``RuntimeError: type X needs N values, got M``), and converts each value as the
  C code does: GAUGE with ``float()``, DERIVE with ``int()`` into a signed 64-bit range
  (NaN is a ValueError, infinity and 2**64-1 an OverflowError), COUNTER/ABSOLUTE into
  an unsigned one. An empty plugin becomes "python"; names keep 127 characters.
- types.db is parsed from /usr/share/collectd/types.db when it exists, else from the
  embedded copy of the lines this project uses (copied from Debian's 5.12 file); the
  ``types_db_source`` attribute says which one was used.
- ``parse_config_text`` reads collectd's config syntax into ``Config`` nodes the way
  collectd hands them to Python: unquoted numbers become floats (hex too), unquoted
  true/yes/on and false/no/off become booleans, everything else a string.

Each test gets a fresh module from ``new_collectd()``; it records dispatched values
(``dispatched``), log lines (``logs``) and registered callbacks (``callbacks``).
"""
from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

TYPES_DB = Path("/usr/share/collectd/types.db")
DS_TYPE_COUNTER, DS_TYPE_GAUGE, DS_TYPE_DERIVE, DS_TYPE_ABSOLUTE = 0, 1, 2, 3
_DS_TYPES = {"COUNTER": DS_TYPE_COUNTER, "GAUGE": DS_TYPE_GAUGE, "DERIVE": DS_TYPE_DERIVE, "ABSOLUTE": DS_TYPE_ABSOLUTE}
MAX_NAME = 127  # DATA_MAX_NAME_LEN (128) minus the terminating NUL

# Used only where collectd is not installed: these lines of Debian 5.12's types.db.
EMBEDDED_TYPES_DB = """\
absolute                value:ABSOLUTE:0:U
bitrate                 value:GAUGE:0:4294967295
count                   value:GAUGE:0:U
counter                 value:COUNTER:U:U
derive                  value:DERIVE:0:U
duration                seconds:GAUGE:0:U
gauge                   value:GAUGE:U:U
if_octets               rx:DERIVE:0:U, tx:DERIVE:0:U
latency                 value:GAUGE:0:U
packets                 value:DERIVE:0:U
percent                 value:GAUGE:0:100.1
response_time           value:GAUGE:0:U
threads                 value:GAUGE:0:U
total_bytes             value:DERIVE:0:U
"""

DataSource = Tuple[str, int, float, float]


def parse_types_db(text: str) -> Dict[str, List[DataSource]]:
    types_db: Dict[str, List[DataSource]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, spec = line.partition(" ")
        sources = []
        for ds in spec.replace(",", " ").split():
            ds_name, ds_type, low, high = ds.split(":")
            sources.append((ds_name, _DS_TYPES[ds_type], float("nan") if low == "U" else float(low),
                            float("nan") if high == "U" else float(high)))
        types_db[name] = sources
    return types_db


if TYPES_DB.is_file():
    TYPES = parse_types_db(TYPES_DB.read_text(encoding="utf-8"))
    TYPES_SOURCE = str(TYPES_DB)
else:
    TYPES = parse_types_db(EMBEDDED_TYPES_DB)
    TYPES_SOURCE = "embedded copy of Debian 5.12 types.db lines"


class Dispatched(NamedTuple):
    host: str
    plugin: str
    plugin_instance: str
    type: str
    type_instance: str
    values: Tuple[Any, ...]

    @property
    def identifier(self) -> str:
        """``host/plugin-instance/type-instance``, as csv and unixsock print it."""
        plugin = f"{self.plugin}-{self.plugin_instance}" if self.plugin_instance else self.plugin
        kind = f"{self.type}-{self.type_instance}" if self.type_instance else self.type
        return f"{self.host}/{plugin}/{kind}"


def _convert(ds_type: int, value: Any) -> Any:
    if ds_type == DS_TYPE_GAUGE:
        return float(value)
    number = int(value)  # NaN: ValueError, infinity: OverflowError, like PyNumber_Long
    low, high = (-(2 ** 63), 2 ** 63 - 1) if ds_type == DS_TYPE_DERIVE else (0, 2 ** 64 - 1)
    if not low <= number <= high:
        raise OverflowError("int too big to convert")
    return number


class Config:
    """One node of the config tree: ``key``, ``values`` (a tuple), ``children``, ``parent``."""

    def __init__(self, key: str, values: Sequence[Any] = (), children: Sequence["Config"] = (),
                 parent: Optional["Config"] = None) -> None:
        self.key = key
        self.values = tuple(values)
        self.children = tuple(children)
        self.parent = parent

    def __repr__(self) -> str:
        return f"Config({self.key!r}, {self.values!r}, {len(self.children)} children)"


_HEX = re.compile(r"[+-]?0[xX][0-9a-fA-F]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")
_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _config_value(token: str, quoted: bool) -> Any:
    if quoted:
        return token
    if _HEX.fullmatch(token):
        return float(int(token, 16))
    if _DECIMAL.fullmatch(token):
        return float(token)
    return _BOOLEANS.get(token.lower(), token)


_TOKEN = re.compile(r'"((?:\\.|[^"\\])*)"|(#.*)|([^\s"#]+)')


def _tokens(line: str) -> List[Tuple[str, bool]]:
    """(text, quoted) per token; a # outside quotes starts a comment."""
    out: List[Tuple[str, bool]] = []
    for match in _TOKEN.finditer(line):
        quoted, comment, bare = match.groups()
        if comment is not None:
            break
        if quoted is not None:
            out.append((re.sub(r"\\(.)", r"\1", quoted), True))
        else:
            out.append((bare, False))
    return out


def parse_config_text(text: str) -> Config:
    """collectd.conf text -> a root Config whose children are the top-level entries."""
    root = Config("")
    stack: List[Tuple[Config, List[Config]]] = [(root, [])]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            node, children = stack.pop()
            if node.key.lower() != line[2:-1].strip().lower():
                raise SyntaxError(f"line {number}: {line} closes <{node.key}>")
            node.children = tuple(children)
            continue
        opening = line.startswith("<")
        tokens = _tokens(line[1:line.rindex(">")] if opening else line)
        if not opening and len(tokens) < 2:
            raise SyntaxError(f"line {number}: {line!r} has no value (collectd: unexpected EOL)")
        node = Config(tokens[0][0], [_config_value(t, q) for t, q in tokens[1:]], parent=stack[-1][0])
        stack[-1][1].append(node)
        if opening:
            stack.append((node, []))
    if len(stack) != 1:
        raise SyntaxError(f"<{stack[-1][0].key}> is never closed")
    root.children = tuple(stack[0][1])
    return root


def new_collectd() -> types.ModuleType:
    """A fresh fake ``collectd`` module."""
    module = types.ModuleType("collectd")
    dispatched: List[Dispatched] = []
    logs: List[Tuple[str, str]] = []
    callbacks: Dict[str, List[Tuple[Callable[..., Any], Dict[str, Any]]]] = {}

    class Values:
        _FIELDS = ("type", "values", "plugin_instance", "type_instance", "plugin", "host", "time", "interval", "meta")

        def __init__(self, **kwargs: Any) -> None:
            self.type = self.plugin_instance = self.type_instance = self.plugin = self.host = ""
            self.values: Sequence[Any] = []
            self.time = self.interval = 0.0
            self.meta: Dict[str, Any] = {}
            self._set(kwargs)

        def _set(self, kwargs: Dict[str, Any]) -> None:
            for key, value in kwargs.items():
                if key not in self._FIELDS:
                    raise TypeError(f"{key!r} is an invalid keyword argument for this function")
                setattr(self, key, value)

        def dispatch(self, **overrides: Any) -> None:
            """Overrides apply to this call only, as in collectd (the object keeps its fields)."""
            v = Values(**{f: getattr(self, f) for f in self._FIELDS})
            v._set(overrides)
            sources = TYPES.get(v.type)
            if sources is None:
                raise TypeError(f"Dataset {v.type} not found")
            if len(v.values) != len(sources):
                raise RuntimeError(f"type {v.type} needs {len(sources)} values, got {len(v.values)}")
            converted = tuple(_convert(ds[1], value) for ds, value in zip(sources, v.values))
            dispatched.append(Dispatched(
                (v.host or "localhost")[:MAX_NAME], (v.plugin or "python")[:MAX_NAME],
                v.plugin_instance[:MAX_NAME], v.type, v.type_instance[:MAX_NAME], converted,
            ))

    def _register(kind: str) -> Callable[..., str]:
        def register(callback: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
            if args:
                kwargs["interval"] = args[0]
            callbacks.setdefault(kind, []).append((callback, kwargs))
            return f"python.{kwargs.get('name', callback.__module__)}"
        return register

    def _log(level: str) -> Callable[[str], None]:
        def log(message: str) -> None:
            if not isinstance(message, str):
                raise TypeError("argument must be str")
            logs.append((level, message))
        return log

    def get_dataset(type_name: str) -> List[DataSource]:
        if type_name not in TYPES:
            raise TypeError(f"Dataset {type_name} not found")
        return list(TYPES[type_name])

    module.__dict__.update(
        Values=Values, Config=Config, CollectdError=type("CollectdError", (Exception,), {}),
        get_dataset=get_dataset, dispatched=dispatched, logs=logs, callbacks=callbacks,
        types_db_source=TYPES_SOURCE,
        DS_TYPE_COUNTER=DS_TYPE_COUNTER, DS_TYPE_GAUGE=DS_TYPE_GAUGE,
        DS_TYPE_DERIVE=DS_TYPE_DERIVE, DS_TYPE_ABSOLUTE=DS_TYPE_ABSOLUTE,
    )
    for kind in ("config", "init", "read", "write", "flush", "log", "notification", "shutdown"):
        setattr(module, f"register_{kind}", _register(kind))
    for level in ("error", "warning", "notice", "info", "debug"):
        setattr(module, level, _log(level))
    return module
