"""Read catalog YAML into plain data while remembering where every value came from.

PyYAML's own loaders forget positions and silently keep the last of two duplicate keys;
a catalog error must name `file:line:col`, and a duplicate key is an error. So we compose
the node tree ourselves and construct values node by node. Floats become `Decimal`
straight from their source text (a price never passes through binary floating point),
and `${VAR}` / `${VAR:-default}` in a value is replaced from the environment snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from calcifer.errors import Problem

__all__ = ["JsonPath", "SourceDocument", "format_path", "read_document"]

JsonPath = tuple[str | int, ...]

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(slots=True)
class SourceDocument:
    """One YAML file as plain data, with the position of every key and value."""

    file: str
    data: Any
    value_marks: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    broken: set[JsonPath] = field(default_factory=set)
    """Entries (`("models", name)`), sections (`("models",)`) or the whole file (`()`) that
    cannot be built because of a problem already reported."""
    environment_values: dict[str, str] = field(default_factory=dict)
    """Each value taken from the environment → the `${VAR}` it came from; a problem names
    the variable, never its value (which may be a key)."""

    def problem(self, path: JsonPath, message: str, *, at_key: bool = False) -> Problem:
        """A problem located at `path` (its key when `at_key`), or its nearest known parent."""
        marks = self.key_marks if at_key else self.value_marks
        probe = path
        while probe and probe not in marks and probe not in self.value_marks:
            probe = probe[:-1]
        line, column = marks.get(probe) or self.value_marks.get(probe, (1, 1))
        return Problem(self.file, line, column, format_path(path), self._without_environment_values(message))

    def _without_environment_values(self, message: str) -> str:
        # Longest first, so that a value containing another is replaced whole. A short value
        # (`60`) is replaced only where it is quoted: bare, it could be part of any number.
        for value in sorted(self.environment_values, key=len, reverse=True):
            reference = self.environment_values[value]
            message = message.replace(repr(value), reference)
            if len(value) >= 4:
                message = message.replace(repr(value)[1:-1], reference)
        return message


def format_path(path: JsonPath) -> str:
    """`("models", "gpt-4o", "aliases", 0)` → `models.gpt-4o.aliases[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


class _Constructor(yaml.constructor.SafeConstructor):
    """Scalars only; floats keep their decimal text."""

    def construct_yaml_float(self, node: ScalarNode) -> Any:
        text = str(self.construct_scalar(node)).replace("_", "")
        try:
            return Decimal(text)
        except InvalidOperation:  # .inf / .nan: let the schema reject them as non-finite
            return super().construct_yaml_float(node)

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        # Dates stay text: an unquoted `api_version: 2024-10-21` is a version string, not a date.
        return str(self.construct_scalar(node))


_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)  # type: ignore[type-var]
_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)  # type: ignore[type-var]


def read_document(file: str, text: str, environ: Mapping[str, str]) -> SourceDocument:
    """Parse one file; syntax errors and duplicate keys become problems, not exceptions."""
    document = SourceDocument(file=file, data=None)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        document.problems.append(Problem(file, line, column, "(yaml)", str(exc.problem or exc)))
        return document
    if root is not None:
        document.data = _Builder(document, environ).build(root, ())
    return document


class _Builder:
    def __init__(self, document: SourceDocument, environ: Mapping[str, str]) -> None:
        self._document = document
        self._environ = environ
        self._constructor = _Constructor()
        self._resolver = yaml.resolver.Resolver()

    def build(self, node: Node, path: JsonPath) -> Any:
        self._document.value_marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: JsonPath) -> dict[str, Any]:
        self._constructor.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._constructor.construct_object(key_node)
            key_path = (*path, str(key))
            mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if str(key) in result:
                first_line = self._document.key_marks[key_path][0]
                self._document.key_marks.setdefault(key_path, mark)
                self._document.problems.append(
                    Problem(
                        self._document.file,
                        *mark,
                        format_path(key_path),
                        f"duplicate key '{key}' (first defined on line {first_line})",
                    )
                )
                continue
            self._document.key_marks[key_path] = mark
            result[str(key)] = self.build(value_node, key_path)
        return result

    def _scalar(self, node: ScalarNode, path: JsonPath) -> Any:
        if "${" in node.value:
            node = self._interpolate(node, path)
        return self._constructor.construct_object(node)

    def _interpolate(self, node: ScalarNode, path: JsonPath) -> ScalarNode:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = self._environ.get(name, "")
            if value:
                self._document.environment_values[value] = f"${{{name}}}"
                return value
            if default is not None:
                return default
            self._document.problems.append(
                self._document.problem(path, f"environment variable {name} is not set and has no default")
            )
            return ""

        value = _ENV_REFERENCE.sub(substitute, node.value)
        # A plain (unquoted) scalar takes the type its new text implies: `${TIMEOUT:-60}` is a number.
        tag = node.tag
        if node.style is None:
            tag = self._resolver.resolve(ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        return ScalarNode(tag, value, node.start_mark, node.end_mark, node.style)
