"""What the fuzz suites share (test modules cannot import each other: --import-mode=importlib)."""

from __future__ import annotations

import pytest


def json_paths(value, path=()):
    """Every path into a JSON value, its root (()) included: tuples of keys and indices."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_paths(item, (*path, index))


@pytest.fixture(name="json_paths")
def json_paths_fixture():
    """`json_paths`, for the fuzz modules that edit a run's JSON files at a random place."""
    return json_paths
