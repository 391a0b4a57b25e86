"""Reading YAML and JSON that people hand us: duplicate keys, aliases and deep nesting are refused.

Trial definitions, wide-table mappings and OMOP mappings are small hand-written files, so the strict
reading costs nothing, and each refusal closes a way for a file to mean something its reader cannot see:

- a duplicate key silently keeps the last value (`expression: hiv_positive` then `expression: 'false'`
  disables a rule), so it is an error naming both lines;
- aliases (`*name`) let a file of a few hundred bytes expand to gigabytes (a "billion laughs" bomb), and
  nothing in these formats needs them, so every alias is refused;
- nesting deeper than MAX_DEPTH ends in RecursionError somewhere far away (YAML 900 deep, JSON 1,000
  deep), so it is refused while reading.

Errors are `RefusedInput` (a `yaml.MarkedYAMLError`, so callers that already catch YAML errors keep
working) with the line and column of the offending node.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode

MAX_DEPTH = 64  # a trial file nests about 6 levels; 64 leaves room and stays far from the stack limit


class RefusedInput(yaml.MarkedYAMLError):
    """A YAML or JSON file uses a construct the explorer refuses (duplicate key, alias, deep nesting)."""

    def __init__(self, problem: str, mark=None):
        super().__init__(problem=problem, problem_mark=mark)
        self.line = None if mark is None else mark.line + 1
        self.column = None if mark is None else mark.column + 1

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        return where + str(self.problem)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader (pure Python, so composition can be watched) without aliases, duplicates or deep nesting."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise RefusedInput(f"YAML aliases (*{event.anchor}) are not accepted; write the value out in full",
                               event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise RefusedInput(f"nested more than {MAX_DEPTH} levels deep; no definition needs that",
                                   self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # SafeConstructor reports an unhashable key itself
                if key in first_line:
                    raise RefusedInput(f"duplicate key {key!r} (first given at line {first_line[key]}); "
                                       "keep one of them", key_node.start_mark)
                first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse YAML text strictly (see the module docstring); raises yaml.YAMLError (RefusedInput or syntax)."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise RefusedInput(f"duplicate key {key!r}; keep one of them")
        out[key] = value
    return out


def load_json(text: str) -> Any:
    """Parse JSON strictly: duplicate keys and nesting deeper than MAX_DEPTH raise RefusedInput.

    json.JSONDecodeError (a ValueError) still signals a syntax error.
    """
    if _json_depth(text) > MAX_DEPTH:
        raise RefusedInput(f"nested more than {MAX_DEPTH} levels deep; no definition needs that")
    return json.loads(text, object_pairs_hook=_no_duplicates)


def _json_depth(text: str) -> int:
    """The deepest bracket nesting outside strings, found without recursion (before json recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def nesting_depth(value: Any) -> int:
    """How deeply lists and mappings nest in an already parsed value (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest

