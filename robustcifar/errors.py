"""The one exception for a mistake the user can fix (an unknown model or profile name, options that
do not fit together, a key file that cannot be read): the command-line tools print its message on
one line and exit non-zero. Anything else that escapes them is a bug and keeps its traceback."""

from __future__ import annotations


class UsageError(ValueError):
    pass
