"""The one exception type for problems in user data (files, columns, cells, spans), and `line_at`
for the line numbers its messages name."""

import re

_LINE_END = re.compile(rb"\r\n|\r|\n")


class DataError(ValueError):
    """A problem with data: a missing file or column, a bad cell, a series too short.

    The message is one line that names the thing (file path, column, line number) and the value
    found, so a user can fix the file without reading rnnlab's source. It subclasses ValueError so
    that code catching bad arguments in general also catches bad data.
    """


def line_at(data: bytes, offset: int) -> int:
    """The line (1 for the first) of `data` that byte `offset` is on, as the user's editor counts lines.

    A line ends at \\n, \\r\\n or a lone \\r (the line ends every reader of rnnlab takes), so a file
    saved with CR line ends names the same line as its LF copy.
    """
    return len(_LINE_END.findall(data, 0, offset)) + 1
