"""Data for rnnlab: small real data sets bundled with the package."""

from rnnlab.data.bundled import bundled_path, load_airline

__all__ = ["bundled_path", "load_airline"]
