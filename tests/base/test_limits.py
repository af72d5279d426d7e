"""limits: ranges in words, parsing typed text, checking values, argparse's one-line errors."""

import argparse
import math

import pytest

from musinterp_app.base import limits
from musinterp_app.base.limits import OptionError, Range


def test_a_range_describes_itself_in_words():
    assert limits.ALPHA.describe() == "0 … 1"
    assert Range(0.0, 600.0, "s", above_low=True).describe() == ("more than 0 and at most 600 s")


@pytest.mark.parametrize(
    ("text", "allowed", "words"),
    [
        ("abc", limits.ALPHA, "'abc' is not a number (allowed: 0 … 1)"),
        ("1.5", limits.ALPHA, "1.5 is outside the allowed range (0 … 1)"),
        ("nan", limits.ALPHA, "nan is not a number"),
        ("2.5", limits.ITERATIONS, "'2.5' is not a whole number"),
        ("0", Range(0.0, 1.0, above_low=True), "is outside the allowed range"),
    ],
)
def test_parsing_refuses_with_the_text_as_typed_and_the_range(text, allowed, words):
    with pytest.raises(OptionError, match=words.replace("(", r"\(").replace(")", r"\)")):
        allowed.parse(text)


def test_parsed_and_checked_values_come_back_typed():
    assert limits.ITERATIONS.parse(" 32 ") == 32 and isinstance(limits.ITERATIONS.parse("3"), int)
    assert limits.ALPHA.check(0.25, "--alpha") == 0.25
    with pytest.raises(OptionError, match="--alpha: inf is not a number"):
        limits.ALPHA.check(math.inf, "--alpha")


def test_the_parser_reports_a_bad_value_in_one_line(capsys):
    parser = limits.OneLineParser(prog="tool")
    parser.add_argument("--alpha", type=limits.bounded(limits.ALPHA))
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["--alpha", "7"])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--alpha" in lines[0] and "0 … 1" in lines[0]
    assert isinstance(parser, argparse.ArgumentParser)
