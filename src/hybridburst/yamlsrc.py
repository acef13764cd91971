"""Load YAML while remembering the line of every value, so errors can say `file:line`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

PathKey = tuple[str | int, ...]


@dataclass
class SourcedDocument:
    """A parsed YAML document and the line (1-based) where each value starts."""

    source: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def error(self, path: PathKey, problem: str) -> InputError:
        return InputError(self.source, self.line_of(path), problem)


def _index(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], source: str) -> None:
    """Record the line of every value under ``node``; refuse duplicate keys."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise InputError(source, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _index(value_node, (*path, key), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, source)


def load(path: Path) -> SourcedDocument:
    """Parse one YAML document from ``path``; syntax errors become `file:line` errors."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(source, None, f"cannot read: {exc.strerror}") from exc
    return loads(text, source)


def loads(text: str, source: str) -> SourcedDocument:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(source, line, f"not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise InputError(source, None, f"not valid YAML: {exc}") from exc
    if node is None:
        raise InputError(source, 1, "the file is empty")
    lines: dict[PathKey, int] = {}
    _index(node, (), lines, source)
    data = yaml.safe_load(text)
    return SourcedDocument(source, data, lines)
