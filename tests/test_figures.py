"""Tables a person reads."""

import pytest

from mol.figures import markdown_table, signed_interval


def test_a_markdown_table_has_a_rule_and_one_line_per_row():
    lines = markdown_table(["a", "b"], [["1", "2"], ["3", "4"]])
    assert lines == ["| a | b |", "| --- | --- |", "| 1 | 2 |", "| 3 | 4 |"]
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table(["a", "b"], [["1"]])


def test_a_difference_is_signed_and_its_interval_given_where_there_is_one():
    assert signed_interval(0.1234, (-0.01, 0.2)) == "+0.123 [-0.010, +0.200]"
    assert signed_interval(-0.5, None) == "-0.500" and signed_interval(None, None) == "—"
