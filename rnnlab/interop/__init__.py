"""Conversions between rnnlab and other libraries' modules and weights."""

from rnnlab.interop.keras import from_keras, to_keras  # imports keras only when called
from rnnlab.interop.torch import from_torch, to_torch

__all__ = ["from_keras", "from_torch", "to_keras", "to_torch"]
