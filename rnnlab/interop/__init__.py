"""Conversions between rnnlab and other libraries' modules and weights."""

from rnnlab.interop.keras import from_keras, to_keras  # imports keras only when called
from rnnlab.interop.quantize import Int8Weight, quantize_dynamic
from rnnlab.interop.torch import from_torch, to_torch

__all__ = ["Int8Weight", "from_keras", "from_torch", "quantize_dynamic", "to_keras", "to_torch"]
