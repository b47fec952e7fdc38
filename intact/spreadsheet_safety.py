"""Keep downloaded CSV/XLSX cells from running as formulas when a researcher opens them.

A text cell starting with = + - @ tab or carriage return can be run as a formula by Excel or
LibreOffice. OWASP's advice: prefix such text with a single quote. Numbers are left as numbers.
"""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """The value, with text that could start a formula prefixed by a single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
