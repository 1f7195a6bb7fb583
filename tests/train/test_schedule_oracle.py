"""`build_scheduler`'s learning rates against torch's own schedulers, step by step.

rnnlab's schedules are a closed-form factor of the step inside a `LambdaLR` (the factor's formula
is rnnlab's; `LambdaLR` only multiplies it onto each group's initial lr), so torch's purpose-built
schedulers are an independent oracle: they compute the same curves recursively, one step from the
last, and `SequentialLR` switches from the warm-up to the main curve at the milestone.

    warm-up (s + 1) / w, s < w      LinearLR(start_factor=1/w, end_factor=1, total_iters=w - 1)
    constant                        the warm-up alone (LinearLR stays at end_factor), or no scheduler
    cosine (1 + cos(π p)) / 2       CosineAnnealingLR(T_max=total - w, eta_min=0)
    step 0.5 ** floor(3 p)          MultiStepLR(milestones=[⌈D/3⌉, ⌈2D/3⌉], gamma=0.5), D = total - w
    linear 1 - p                    LinearLR(start_factor=1, end_factor=0, total_iters=total - w)

The lr is compared (relative 1e-12) at every step 0..total: the one each optimizer step uses and the
one left after the last. torch is rnnlab's own dependency, so nothing here is skipped.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.optim import lr_scheduler

from rnnlab.train import build_scheduler

LEARNING_RATES = (0.1, 3e-4)  # two parameter groups: the factor scales each group's own lr


def optimizer():
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in LEARNING_RATES]
    return torch.optim.SGD(groups, lr=1.0)


def torch_scheduler(opt, name, total_steps, warmup_steps):
    """torch's schedulers composed to the curve `build_scheduler` documents, or None for a constant lr."""
    remaining = total_steps - warmup_steps
    main = {
        None: None,
        "constant": None,
        "cosine": lambda: lr_scheduler.CosineAnnealingLR(opt, T_max=remaining, eta_min=0.0),
        "step": lambda: lr_scheduler.MultiStepLR(opt, milestones=[-(-remaining // 3), -(-2 * remaining // 3)],
                                                 gamma=0.5),
        "linear": lambda: lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=remaining),
    }[name]
    if warmup_steps == 0:
        return main() if main else None
    # w = 1: a warm-up step at factor 1 (LinearLR from 1 to 1), which still delays the main curve by one step
    warmup = lr_scheduler.LinearLR(opt, start_factor=1 / warmup_steps, end_factor=1.0,
                                   total_iters=max(warmup_steps - 1, 1))
    if main is None:
        return warmup
    return lr_scheduler.SequentialLR(opt, [warmup, main()], milestones=[warmup_steps])


def learning_rates(opt, scheduler, steps):
    """The lr of each group at steps 0..steps: before each optimizer step, then after the last."""
    rates = [[group["lr"] for group in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        if scheduler is not None:
            scheduler.step()
        rates.append([group["lr"] for group in opt.param_groups])
    return rates


SETTINGS = [(300, 0), (300, 1), (300, 2), (300, 45), (299, 10), (257, 256), (7, 0), (8, 3), (2, 1)]


@pytest.mark.parametrize("total_steps, warmup_steps", SETTINGS)
@pytest.mark.parametrize("name", [None, "constant", "cosine", "step", "linear"])
def test_schedule_equals_torchs_schedulers_at_every_step(name, total_steps, warmup_steps):
    ours_optimizer, theirs_optimizer = optimizer(), optimizer()
    ours = learning_rates(ours_optimizer, build_scheduler(ours_optimizer, name, total_steps, warmup_steps), total_steps)
    theirs = learning_rates(theirs_optimizer, torch_scheduler(theirs_optimizer, name, total_steps, warmup_steps),
                            total_steps)
    for step, (mine, expected) in enumerate(zip(ours, theirs)):
        for lr, reference in zip(mine, expected):
            assert math.isclose(lr, reference, rel_tol=1e-12, abs_tol=0.0), (step, mine, expected)
    # the curves end where the docstring says: 0 for cosine and linear, a quarter for step, the peak for constant
    assert ours[-1][0] == pytest.approx(LEARNING_RATES[0] * {None: 1.0, "constant": 1.0, "cosine": 0.0, "step": 0.25,
                                                             "linear": 0.0}[name], abs=1e-15)

