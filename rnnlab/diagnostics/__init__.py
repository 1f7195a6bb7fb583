"""Looking inside recurrent networks: gate recording and gradient flow through time."""

from rnnlab.diagnostics.gradients import GradientFlow, gradient_flow, growth_per_step
from rnnlab.diagnostics.recording import Call, Recording, record

__all__ = ["Call", "GradientFlow", "Recording", "gradient_flow", "growth_per_step", "record"]
