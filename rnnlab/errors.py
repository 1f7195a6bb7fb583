"""The exception types rnnlab's layers and cells raise where torch.nn raises another: both at once.

torch.nn raises `RuntimeError` for a tensor of the wrong size (an input with other features than
`input_size`, a hidden state of another shape) and `ValueError` for an input whose dtype is not
the weights'; rnnlab's messages name the argument and the value received, and its types are
subclasses of both its own historical type and torch's, so `except RuntimeError` (as code
written for torch.nn has) and `except ValueError` both catch a shape error.
"""

from __future__ import annotations

__all__ = ["DtypeError", "ShapeError"]


class ShapeError(ValueError, RuntimeError):
    """A tensor of the wrong shape or size: torch.nn's `RuntimeError`, rnnlab's `ValueError`."""


class DtypeError(TypeError, ValueError):
    """A tensor whose dtype is not the one the layer needs: torch.nn's `ValueError`, rnnlab's `TypeError`."""
