"""roles/baseline: defaults, argument_specs and README list the same variables, same defaults.

Regenerate the README's variable table after changing the role's variables:
    .venv/bin/python tests/roles/test_baseline_readme.py --write
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "baseline"
BEGIN = "<!-- BEGIN VARIABLES (generated from meta/argument_specs.yml) -->"
END = "<!-- END VARIABLES -->"


def load() -> tuple[dict, dict]:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    return defaults, specs["argument_specs"]["main"]["options"]


def _cell(text: str) -> str:
    text = re.sub(r"\b[CO]\(([^()]*(?:\([^()]*\)[^()]*)*)\)", r"`\1`", text)
    return text.replace("|", "\\|").replace("\n", " ")


def _default(value: object) -> str:
    if isinstance(value, (dict, list)) and len(json.dumps(value)) > 60:
        return "see `defaults/main.yml`"
    return "`" + _cell(json.dumps(value) if not isinstance(value, str) else repr(value)[1:-1]) + "`"


def render_table() -> str:
    _, options = load()
    lines = [BEGIN, "", "| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for name, option in options.items():
        kind = option["type"] + (f" of {option['elements']}" if "elements" in option else "")
        lines.append(
            f"| `{name}` | {kind} | {_default(option.get('default'))} | {_cell(option['description'])} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def readme_section(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def test_every_default_is_specified_and_every_spec_has_a_default():
    defaults, options = load()
    assert set(defaults) == set(options)
    for name, option in options.items():
        assert "default" in option, name
        assert option["default"] == defaults[name], name
        assert option.get("description"), name


def test_variables_are_prefixed():
    defaults, _ = load()
    assert all(name.startswith("baseline_") for name in defaults)
    private = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    assert all(name.startswith("_baseline_") for name in private)


def test_every_area_has_a_toggle_and_a_tag():
    defaults, _ = load()
    main = (ROLE / "tasks" / "main.yml").read_text()
    areas = [name[len("baseline_"):-len("_enabled")] for name in defaults
             if name.endswith("_enabled") and name.count("_") == 2]
    assert len(areas) == 11
    for area in areas:
        if area == "preflight":
            continue
        assert f"when: baseline_{area}_enabled | bool" in main, area
        assert f"baseline_{area}]" in main or f"baseline_{area}," in main, area


def test_readme_lists_every_variable_with_its_default():
    readme = (ROLE / "README.md").read_text()
    assert readme_section(readme) == render_table(), (
        "README.md is out of date: run .venv/bin/python tests/roles/test_baseline_readme.py --write"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        path = ROLE / "README.md"
        text = path.read_text()
        path.write_text(text.replace(readme_section(text), render_table()))
    else:
        print(render_table())
