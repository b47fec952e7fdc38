"""Formula injection in downloads is neutralised; numbers stay numbers."""

import pytest

from intact.spreadsheet_safety import neutralise


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("x")'])
def test_formula_like_text_is_quoted(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["bar3.jpg", "P001", "", -412, 3.5, True, None])
def test_other_values_are_untouched(value):
    assert neutralise(value) == value
