"""Conversions between rnnlab and other libraries' modules and weights."""

from rnnlab.interop.torch import from_torch, to_torch

__all__ = ["from_torch", "to_torch"]
