"""The exception for bad user input (and how to point at the rows that caused it), and for unusable sampler draws."""

from __future__ import annotations

from collections.abc import Sequence

MAX_ROWS_SHOWN = 5


class InputError(ValueError):
    """Bad input: the message names the file, column and rows, and says what to do.

    The command-line interface turns this into a one-paragraph message and exit code 2.
    """


class SamplingError(RuntimeError):
    """A sampler gave draws that cannot be summarised: a NaN draw (an interrupted or failed chain).

    Nothing is ever summarised from such draws; the command-line interface reports it in one line with exit code 1.
    """


def describe_rows(rows: Sequence[object]) -> str:
    """Describe the first few offending rows, and how many more there are.

    Parameters
    ----------
    rows
        Row labels (file row numbers, or ids), in file order.

    Returns
    -------
    str
        For example ``"rows 3, 7, 9 and 2 more"``.
    """
    shown = ", ".join(str(row) for row in rows[:MAX_ROWS_SHOWN])
    extra = len(rows) - MAX_ROWS_SHOWN
    noun = "row" if len(rows) == 1 else "rows"
    return f"{noun} {shown}" + (f" and {extra} more" if extra > 0 else "")
