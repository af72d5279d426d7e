"""What the app accepts: the allowed range of every numeric option, in one table,
and how much memory an excerpt may take.

The command lines use a :class:`Range` as an option's ``type=`` (through
:func:`bounded`), so argparse names the option in its one-line error (see
:class:`OneLineParser`); the engine and the window call :meth:`Range.check` with
the option's name. A new option takes two lines: a range here, and
``_number(parser, "--flag", limits.NAME, default, help)`` in ``cli/parser.py`` (or
``type=limits.bounded(limits.NAME)`` in any other parser).

Stdlib only, so every layer may import it.
"""

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn


class OptionError(ValueError):
    """A value outside its option's range; ``str(error)`` names the option, the value
    and the allowed range, for a person."""


@dataclass(frozen=True)
class Range:
    """The values an option takes: ``low … high`` (both included unless ``above_low``)."""

    low: float
    high: float
    unit: str = ""  # "s", "Hz", "ms" or "" (a count, a fraction)
    integer: bool = False
    above_low: bool = False  # ``low`` itself is refused (a length must be more than 0)

    def describe(self) -> str:
        """The range in words, e.g. ``"0 … 1"`` or ``"more than 0 and at most 600 s"``."""
        unit = f" {self.unit}" if self.unit else ""
        low, high = (f"{v:d}" if self.integer else f"{v:g}" for v in (self.low, self.high))
        if self.above_low:
            return f"more than {low} and at most {high}{unit}"
        return f"{low} … {high}{unit}"

    def parse(self, text: str) -> float | int:
        """``text`` as a number in range; ``OptionError`` (without the option's name) if not.
        The message quotes ``text`` as it was typed."""
        try:
            value = int(text) if self.integer else float(text)
        except ValueError:
            kind = "a whole number" if self.integer else "a number"
            raise OptionError(f"{text!r} is not {kind} (allowed: {self.describe()})") from None
        return self._in_range(value, text.strip())

    def check(self, value: float, name: str) -> float | int:
        """``value`` if it is in range; otherwise ``OptionError`` naming ``name``."""
        try:
            return self._in_range(value, f"{value:g}")
        except OptionError as error:
            raise OptionError(f"{name}: {error}") from None

    def _in_range(self, value: float, shown: str) -> float | int:
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(f"{shown} is not a number (allowed: {self.describe()})")
        if self.integer and value != int(value):
            raise OptionError(f"{shown} is not a whole number (allowed: {self.describe()})")
        below = value <= self.low if self.above_low else value < self.low
        if below or value > self.high:
            unit = f" {self.unit}" if self.unit else ""
            raise OptionError(f"{shown}{unit} is outside the allowed range ({self.describe()})")
        return int(value) if self.integer else float(value)


MIN_EXCERPT_S = 0.5
MAX_EXCERPT_S = 600.0  # ten minutes: memory grows with the excerpt (see EXCERPT_BYTES_PER_S)
MAX_START_S = 24 * 3600.0  # a start later than a day into a file is a typo

ALPHA = Range(0.0, 1.0)  # 0 = all A, 1 = all B
CURVE_S = Range(0.0, MAX_EXCERPT_S, "s")  # a performance curve's times: ten minutes at most
PAD = Range(0.0, 1.0)  # x or y on the four-corner pad (A at 0, 0; D at 1, 1)
TEMPO_BPM = Range(20.0, 400.0, "BPM")  # a tempo given by hand instead of the estimate
START_S = Range(0.0, MAX_START_S, "s")
EXCERPT_S = Range(MIN_EXCERPT_S, MAX_EXCERPT_S, "s")
ITERATIONS = Range(0, 500, integer=True)  # Griffin-Lim iterations
OUTPUT_RATE_HZ = Range(8000, 192_000, "Hz", integer=True)  # of an exported file
FADE_MS = Range(0.0, 10_000.0, "ms")  # at an exported file's ends
WORKERS = Range(1, 64, integer=True)  # processes of ``musinterp-train prepare``
TEMPERATURE = Range(0.0, 3.0)  # of a generation: the spread of the latent prior
SEED = Range(0, 2**32 - 1, integer=True)  # of a generation

# Peak memory while one excerpt is decoded, analysed and encoded, per second of it
# (measured: 4.5 MB/s for 10-s and 60-s excerpts, mostly the excerpt's STFT).
EXCERPT_BYTES_PER_S = 5_000_000


def available_memory_bytes() -> int | None:
    """Memory the system can give without swapping (Linux ``MemAvailable``); None if unknown."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_excerpt_memory(seconds: float, name: str = "the excerpt") -> None:
    """Refuse, before anything is allocated, an excerpt this machine has no memory for."""
    available = available_memory_bytes()
    needed = seconds * EXCERPT_BYTES_PER_S
    if available is not None and needed > available:
        fits_s = available / EXCERPT_BYTES_PER_S
        raise OptionError(
            f"{name} is {seconds:g} s long and needs about {needed / 1e9:.1f} GB of memory, "
            f"but {available / 1e9:.1f} GB is free: choose at most {fits_s:.0f} s"
        )


def bounded(allowed: Range) -> Callable[[str], float | int]:
    """An argparse ``type=``: the value as a number in ``allowed``, or argparse's error
    naming the option, the value and the range."""

    def parse(text: str) -> float | int:
        try:
            return allowed.parse(text)
        except OptionError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")
