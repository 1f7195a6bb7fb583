"""The one exception type for problems in user data (files, columns, cells, spans)."""


class DataError(ValueError):
    """A problem with data: a missing file or column, a bad cell, a series too short.

    The message is one line that names the thing (file path, column, line number) and the value
    found, so a user can fix the file without reading rnnlab's source. It subclasses ValueError so
    that code catching bad arguments in general also catches bad data.
    """
