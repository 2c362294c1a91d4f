"""A strict parser of the Prometheus text format 0.0.4, for round-trip tests.

Stricter than prometheus_client's parser, which accepts duplicate TYPE lines, unknown
escapes and a missing final newline: each of those is an error here, as in promtool.
"""
from __future__ import annotations

import math
import re
from typing import Dict, List, NamedTuple, Tuple

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ParsedSample(NamedTuple):
    name: str
    labels: Tuple[Tuple[str, str], ...]
    value: float


class Family(NamedTuple):
    help: str
    type: str
    samples: List[ParsedSample]


def _unescape(text: str, allowed: Dict[str, str]) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in allowed:
                raise ValueError(f"invalid escape in {text!r}")
            out.append(allowed[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _value(text: str) -> float:
    special = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}
    if text in special:
        return special[text]
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(f"bad value {text!r}")
    return float(text)


def _labels(text: str) -> Tuple[Tuple[str, str], ...]:
    labels, i = [], 0
    while i < len(text):
        match = LABEL.match(text, i)
        if not match or text[match.end():match.end() + 2] != '="':
            raise ValueError(f"bad label at {text[i:]!r}")
        j = match.end() + 2
        raw = []
        while text[j] != '"':
            if text[j] == "\n":
                raise ValueError("newline in label value")
            raw.append(text[j:j + 2] if text[j] == "\\" else text[j])
            j += 2 if text[j] == "\\" else 1
        labels.append((match.group(), _unescape("".join(raw), {"\\": "\\", '"': '"', "n": "\n"})))
        i = j + 1
        if i < len(text):
            if text[i] != ",":
                raise ValueError(f"expected , at {text[i:]!r}")
            i += 1
    return tuple(labels)


def parse(text: str) -> Dict[str, Family]:
    if text and not text.endswith("\n"):
        raise ValueError("missing final newline")
    families: Dict[str, Family] = {}
    helps: Dict[str, str] = {}
    closed = set()
    current = None
    # Only \n ends a line in the text format; str.splitlines would also split label
    # values at \r, \x85 or \u2028, which the format allows unescaped.
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            if name in helps:
                raise ValueError(f"second HELP for {name}")
            helps[name] = _unescape(doc, {"\\": "\\", "n": "\n"})
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            if name in families or kind not in TYPES:
                raise ValueError(f"bad or second TYPE line {line!r}")
            if current is not None:
                closed.add(current)
            families[name] = Family(helps.get(name, ""), kind, [])
            current = name
            continue
        if line.startswith("#") or not line:
            raise ValueError(f"unexpected line {line!r}")
        match = NAME.match(line)
        if not match:
            raise ValueError(f"bad sample line {line!r}")
        name = match.group()
        rest = line[match.end():]
        labels: Tuple[Tuple[str, str], ...] = ()
        if rest.startswith("{"):
            end = rest.rindex("}")
            labels = _labels(rest[1:end])
            rest = rest[end + 1:]
        if not rest.startswith(" ") or " " in rest[1:]:
            raise ValueError(f"bad value part in {line!r} (timestamps are not expected)")
        if name != current or name in closed:
            raise ValueError(f"sample {name} outside its family block")
        families[name].samples.append(ParsedSample(name, labels, _value(rest[1:])))
    return families
