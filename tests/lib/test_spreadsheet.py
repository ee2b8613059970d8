"""CSV that a spreadsheet opens without running anything, and that reads back unchanged."""

from __future__ import annotations

import csv
import io

import pytest

from segadmin.lib.spreadsheet import csv_lines, neutralise, restore

RISKY = ["=1+1", "+1", "-5", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")']
HARMLESS = ["plain", "5", "", "a=b", " =x", "é"]


@pytest.mark.parametrize("value", RISKY)
def test_a_cell_a_spreadsheet_would_run_gets_a_quote_in_front(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_other_text_is_written_as_it_is(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("value", [5, -5, 1.5, None, True])
def test_values_that_are_not_text_are_untouched(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("value", [*RISKY, *HARMLESS, "'=x", "'", "''", "'plain"])
def test_restore_gives_back_exactly_what_was_neutralised(value):
    assert restore(neutralise(value)) == value


def test_csv_lines_write_every_row_neutralised():
    text = "".join(csv_lines([["a", "b"], ["=cmd", -1], ["-1", "ok"]]))
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["'=cmd", "-1"], ["'-1", "ok"]]
