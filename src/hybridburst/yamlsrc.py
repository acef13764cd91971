"""Load YAML while remembering the line of every value, so errors can say `file:line`.

The one YAML loader for what people write (specs, private inventories, rates). It refuses what
a config file never needs and an attacker would use: bytes that are not UTF-8, aliases (``*a``:
a 1 KB "billion laughs" file would expand to gigabytes), nesting deeper than ``MAX_DEPTH``,
and keys that are not plain strings (``? [a, b]``, ``1:``, ``null:``, ``<<:``). Each is an
``InputError`` naming file and line. The file is parsed once: the data is built from the
composed node tree whose lines are indexed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

PathKey = tuple[str | int, ...]
MAX_DEPTH = 64  # levels of mappings and sequences; a spec needs 4
MAX_BYTES = 1024 * 1024  # a spec of 5,000 hosts is about 100 KB; PyYAML is slow on huge lines
STR_TAG = "tag:yaml.org,2002:str"


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


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting while it composes."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.source = source
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            raise InputError(self.source, line, f"alias *{event.anchor} is not allowed: "
                             "write the value out (YAML aliases can expand a small file enormously)")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InputError(self.source, line, f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1


def _index(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], source: str) -> None:
    """Record the line of every value under ``node``; refuse odd and duplicate keys."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(source, line, "a key must be a plain string, not a "
                                 + ("list" if isinstance(key_node, yaml.SequenceNode) else "mapping"))
            if key_node.tag != STR_TAG:
                what = key_node.tag.rsplit(":", 1)[-1]
                raise InputError(source, line, f"key {key_node.value!r} is not a string but "
                                 f"{what} (quote it; merge keys << are not allowed)")
            key = key_node.value
            if key in seen:
                raise InputError(source, line, f"duplicate key {key!r}")
            seen.add(key)
            lines[(*path, key)] = line
            _index(value_node, (*path, key), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, source)


def load(path: Path) -> SourcedDocument:
    """Parse one YAML document from ``path``; every problem becomes a `file:line` error."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(source, None, f"cannot read: {exc.strerror}") from exc
    if len(raw) > MAX_BYTES:
        raise InputError(source, None, f"larger than {MAX_BYTES // 1024} KiB: not a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(source, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} on this "
                         "line): save the file as UTF-8") from exc
    return loads(text, source)


def loads(text: str, source: str) -> SourcedDocument:
    try:
        loader = _Loader(text, source)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise InputError(source, line, f"not valid YAML: control character "
                         f"#x{exc.character:02x} is not allowed") from exc
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError(source, 1, "the file is empty")
        lines: dict[PathKey, int] = {}
        _index(node, (), lines, source)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(source, line, f"not valid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise InputError(source, None, f"not valid YAML: {exc}") from exc
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. !!timestamp 2026-13-45
        raise InputError(source, None, f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return SourcedDocument(source, data, lines)
