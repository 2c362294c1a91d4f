"""One answer of a known source -> points: the single dispatch point over every source. Pure.

``map_answer(JVB_METRICS, answer)`` parses the text or JSON form and maps it; the front
ends call this with what probe.py (or their own fetch) got, and the source detect.py
recognised or the user configured.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List

from . import catalogue_jicofo, catalogue_jvb_metrics
from .detect import JICOFO_METRICS, JICOFO_STATS, JVB_COLIBRI, JVB_METRICS, Answer
from .exposition import MAX_SERIES, Exposition, ExpositionError, TooManySeries, from_json, parse_text
from .jicofo_map import map_jicofo_metrics, map_jicofo_stats
from .jvb_metrics_map import map_jvb_metrics
from .samples import Labels
from .source_result import SourceMapped, SourceProblem, first_of_each_series, points

# What /metrics is asked for: the 0.0.4 text, which every JVB and Jicofo era serves and
# which one parser reads; without an Accept header JVB answers HTTP 500.
METRICS_ACCEPT = "text/plain; version=0.0.4"
JSON_ACCEPT = "application/json"


class SourceError(ValueError):
    """An answer that cannot be read as the source it should be; the message says why."""


def accept_header(source_or_path: str) -> str:
    return METRICS_ACCEPT if source_or_path.endswith("metrics") else JSON_ACCEPT


def exposition(answer: Answer, namespaces: tuple) -> Exposition:  # type: ignore[type-arg]
    """The text or JSON form of a /metrics answer."""
    body = answer.body
    try:
        if "json" in answer.content_type.lower() or body.lstrip()[:1] == b"{":
            return from_json(_json_object(body))
        return parse_text(body.decode("utf-8", "replace"), namespaces)
    except ExpositionError as exc:
        raise SourceError(f"the /metrics text is malformed at {exc}") from None
    except TooManySeries as exc:
        raise SourceError(f"the answer has {exc}; bridge skipped") from None


def _json_object(body: bytes) -> Any:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise SourceError(f"not JSON: {exc}") from None
    except RecursionError:  # json's C parser gives up on deep nesting this way
        raise SourceError("JSON that nests too deeply to be statistics") from None
    if not isinstance(data, dict):
        raise SourceError("JSON that is not an object")
    return data


def _checked(mapped: SourceMapped) -> SourceMapped:
    """One value per series, and no more series than MAX_SERIES (Jicofo /stats lists and
    objects are as long as the component makes them)."""
    if len(mapped.samples) > MAX_SERIES:
        raise SourceError(f"the answer has {TooManySeries()}; bridge skipped")
    return first_of_each_series(mapped)


def map_object(source: str, data: Dict[str, Any], labels: Labels = ()) -> SourceMapped:
    """Points of a JSON answer already parsed (a JSON /metrics form or Jicofo /stats)."""
    return _checked(_map_object(source, data, labels))


def _map_object(source: str, data: Dict[str, Any], labels: Labels) -> SourceMapped:
    if source == JICOFO_STATS:
        return map_jicofo_stats(data, labels)
    try:
        if source == JICOFO_METRICS:
            return map_jicofo_metrics(from_json(data), labels)
        if source == JVB_METRICS:
            return map_jvb_metrics(from_json(data), labels)
    except TooManySeries as exc:
        raise SourceError(f"the answer has {exc}; bridge skipped") from None
    raise SourceError(f"no JSON object mapping for source {source!r}")


def map_answer(source: str, answer: Answer, labels: Labels = ()) -> SourceMapped:
    """Samples of one answer; raises SourceError when it cannot be read at all."""
    return _checked(_map_answer(source, answer, labels))


def _map_answer(source: str, answer: Answer, labels: Labels) -> SourceMapped:
    if source == JVB_METRICS:
        return map_jvb_metrics(exposition(answer, catalogue_jvb_metrics.NAMESPACES), labels)
    if source == JICOFO_METRICS:
        return map_jicofo_metrics(exposition(answer, catalogue_jicofo.NAMESPACES), labels)
    if source == JICOFO_STATS:
        return map_jicofo_stats(_json_object(answer.body), labels)
    if source == JVB_COLIBRI:
        from .mapping import map_payload

        mapped = map_payload(_json_object(answer.body), labels)
        problems: List[SourceProblem] = [SourceProblem(p.key, p.expected, p.got) for p in mapped.problems]
        notes = ["the bridge answered {} (statistics disabled)"] if mapped.empty else []
        return SourceMapped(points(mapped.families), problems, notes)
    raise SourceError(f"unknown source {source!r}")
