"""The one reader of every JSON file the app is given: sidecars, pad paths, curves, summaries.

A JSON file from a user may be anything: huge, nested thousands of levels deep
(Python's parser then dies of recursion), valid JSON of the wrong shape, or a
number where a text was expected. :func:`load` refuses the first kinds at once
(limits :data:`MAX_BYTES` and :data:`MAX_DEPTH`); the :class:`Node` it returns
gives typed access in which every refusal names the file, the key path
(``blend.path[3][1]``) and what was expected, with the value found quoted short.

Standard library and the shared base only: every layer may import this module.
"""

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from musinterp_app.base import files
from musinterp_app.base.limits import OptionError, Range

MAX_BYTES = 1 << 20  # a sidecar or a curve of a ten-minute performance is tens of kB
MAX_DEPTH = 64  # the app's own files nest four levels
MAX_QUOTED_CHARS = 60  # of a refused value, in a message


class JsonInputError(ValueError):
    """A JSON file that cannot be used; ``str(error)`` names the file, where in it, and
    what was expected, in one line."""

    def __init__(self, path: str | os.PathLike, where: str, problem: str) -> None:
        self.path, self.where, self.problem = Path(path), where, problem
        super().__init__(f"{path}: {where + ': ' if where else ''}{problem}")


def shorten(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for quoting in a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(value: Any) -> str:
    """What a JSON value is, in words, quoted short: ``a text "abc"``, ``a list of 3 items``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {shorten(repr(value))}"
    if isinstance(value, str):
        return f"the text {shorten(json.dumps(value, ensure_ascii=False))}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' * (len(value) != 1)}"
    return f"an object with {len(value)} key{'s' * (len(value) != 1)}"


def _depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text (outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def load(path: str | os.PathLike) -> "Node":
    """The document in ``path``; :class:`JsonInputError` when it cannot be read, is larger
    than :data:`MAX_BYTES`, not UTF-8, not JSON, or nests deeper than :data:`MAX_DEPTH`."""
    try:
        text = files.read_text(path, max_bytes=MAX_BYTES)
    except UnicodeDecodeError:
        raise JsonInputError(path, "", "is not UTF-8 text, so not a JSON file") from None
    except (OSError, ValueError) as error:  # ValueError: e.g. a NUL in the path
        if not isinstance(error, files.TooLargeError):
            why = files.reason(error) if isinstance(error, OSError) else str(error)
            raise JsonInputError(path, "", f"cannot be read ({why})") from None
        raise JsonInputError(
            path, "", f"is larger than {MAX_BYTES // 1024} KiB: not a file musinterp wrote"
        ) from None
    if _depth(text) > MAX_DEPTH:
        raise JsonInputError(
            path, "", f"nests deeper than {MAX_DEPTH} levels: not a file musinterp wrote"
        )
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise JsonInputError(
            path, "", f"is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except ValueError as error:  # NaN or Infinity
        raise JsonInputError(path, "", f"is not valid JSON ({error})") from None
    return Node(value, Path(path))


@dataclass(frozen=True)
class Node:
    """One value of a loaded document, with where it is (``""`` for the whole document)."""

    value: Any
    path: Path
    where: str = ""

    def fail(self, expected: str) -> NoReturn:
        """Refuse this value: ``JsonInputError`` saying what was expected and what was found."""
        raise JsonInputError(
            self.path, self.where, f"expected {expected}, found {describe(self.value)}"
        )

    def _child(self, key: str | int, value: Any) -> "Node":
        where = f"{self.where}[{key}]" if isinstance(key, int) else f"{self.where}.{key}"
        return Node(value, self.path, where.lstrip("."))

    def entries(self) -> dict[str, "Node"]:
        """An object's values by key."""
        if not isinstance(self.value, dict):
            self.fail("an object ({…})")
        return {key: self._child(key, value) for key, value in self.value.items()}

    def get(self, key: str) -> "Node | None":
        """An object's value at ``key``, or ``None`` where it has none."""
        return self.entries().get(key)

    def __getitem__(self, key: str) -> "Node":
        """An object's value at ``key``; refused, naming the key, when it is missing."""
        found = self.get(key)
        if found is None:
            raise JsonInputError(self.path, self._child(key, None).where, "is missing")
        return found

    def items(self) -> list["Node"]:
        """A list's items."""
        if not isinstance(self.value, list):
            self.fail("a list ([…])")
        return [self._child(index, value) for index, value in enumerate(self.value)]

    def number(self, allowed: Range | None = None) -> float:
        """A finite number (within ``allowed``)."""
        expected = f"a number in {allowed.describe()}" if allowed else "a finite number"
        return self._number(allowed, expected)

    def integer(self, allowed: Range) -> int:
        """A whole number within ``allowed``."""
        expected = f"a whole number in {allowed.describe()}"
        if isinstance(self.value, float) and not self.value.is_integer():
            self.fail(expected)
        return int(self._number(allowed, expected))

    def _number(self, allowed: Range | None, expected: str) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            self.fail(expected)
        try:
            finite = math.isfinite(self.value)
        except OverflowError:  # an integer of hundreds of digits
            finite = False
        if not finite:
            self.fail(expected)
        if allowed is None:
            return float(self.value)
        try:
            return allowed.check(self.value, self.where)
        except OptionError:
            self.fail(expected)

    def text(self, *, max_chars: int = 4096) -> str:
        """A text of at most ``max_chars`` characters."""
        if not isinstance(self.value, str):
            self.fail("a text")
        if len(self.value) > max_chars:
            self.fail(f"a text of at most {max_chars} characters")
        return self.value

    def choice(self, allowed: Iterable[str]) -> str:
        """One of the texts in ``allowed``."""
        allowed = tuple(allowed)
        if self.value not in allowed:
            self.fail("one of " + ", ".join(json.dumps(a) for a in allowed))
        return self.value

    def flag(self) -> bool:
        """``true`` or ``false``."""
        if not isinstance(self.value, bool):
            self.fail("true or false")
        return self.value

    def points(
        self, allowed: Range | tuple[Range, ...], *, size: int = 2
    ) -> tuple[tuple[float, ...], ...]:
        """A list of ``[x, y]`` points (``size`` numbers each, every one within ``allowed``,
        or each within its own range when ``allowed`` is a tuple of ``size`` ranges)."""
        ranges = allowed if isinstance(allowed, tuple) else (allowed,) * size
        points = []
        for item in self.items():
            numbers = item.items()
            if len(numbers) != size:
                item.fail(f"a point of {size} numbers")
            points.append(tuple(n.number(r) for n, r in zip(numbers, ranges, strict=True)))
        return tuple(points)
