"""The one error type a user sees: bad input they can fix, printed as one line with exit status 2.

Raised anywhere in the library (a missing file, a bad option value, a device that is not there);
the command-line entry point (:func:`shared.cli.main`) turns it into ``<prog>: error: <message>``
on stderr, never a traceback. Python callers catch it like any exception.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input the user can fix: printed as one line, exit status 2."""
