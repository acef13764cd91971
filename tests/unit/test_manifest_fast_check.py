"""The manifest's compiled schema check never accepts what jsonschema refuses.

manifest.check asks jsonschema only when the compiled check (plain closures built from
SCHEMA) says a document is invalid: if the closures let a bad document through, no error
would be reported at all. Every value of a good manifest is replaced, one at a time, by
values of other types and shapes, and keys are removed and added; for each result the
compiled check's verdict must equal jsonschema's."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from hybridburst import manifest
from tests.unit.test_manifest_journal import DOC

REPLACEMENTS: list[Any] = [None, True, 0, -1, 1.5, 3.0, "", "x", "10.0.0.300", "10.0.0.1\n",
                           "2026-11-10T20:00:00+00:00", "/srv", [], ["x"], {}, {"x": 1}]


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*prefix, i))


def variants() -> Iterator[dict[str, Any]]:
    doc = copy.deepcopy(DOC)
    doc["hosts"][0]["gateway"] = "10.201.0.1"
    doc["private_ssh"] = dict(doc["ssh"])
    for path in list(paths(doc))[1:]:
        for value in REPLACEMENTS:
            changed = copy.deepcopy(doc)
            node = changed
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            yield changed
        if isinstance(path[-1], str):
            removed = copy.deepcopy(doc)
            node = removed
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
            yield removed
            added = copy.deepcopy(doc)
            node = added
            for key in path[:-1]:
                node = node[key]
            node[f"{path[-1]}_unknown"] = "x"
            yield added


def test_the_compiled_check_agrees_with_jsonschema_on_every_variant() -> None:
    checked = refused = 0
    for doc in variants():
        valid = manifest._VALIDATOR.is_valid(doc)
        assert manifest._FAST(doc) == valid, doc
        checked += 1
        refused += not valid
    assert checked > 500 and refused > 300, (checked, refused)
