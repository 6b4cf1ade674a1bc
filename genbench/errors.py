"""The one exception type that means "the user asked for something invalid"."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GenbenchError(Exception):
    """Bad input from the user: the CLI prints the message on one line and exits with code 2."""


def unknown_choice(what: str, given: str, valid: Iterable[str]) -> GenbenchError:
    """An error for a name that is not among `valid`, listing the choices and the closest match."""
    valid = sorted(valid)
    close = difflib.get_close_matches(given, valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return GenbenchError(f"unknown {what} '{given}'{hint}; valid: {', '.join(valid)}")
