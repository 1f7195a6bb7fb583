"""Correctness of rnnlab's Triton backend on the GPU: outputs, final states and every gradient against float64.

For every benchmark configuration (B, T, H) of `layers_gpu.py` (I = H; --quick, --long and
--deepbench select as there) and every cell variant (LSTM with and without proj_size=H//2, GRU
with reset_after True and False, RNN with tanh and relu), 1 and 2 layers, bidirectional too at
the smaller configurations, with and without ragged `lengths=`, this script runs
`backend="triton"` in float32 (TF32 off), bfloat16 and float16, and compares with
`backend="reference"` run in float64 on the same device:

- the tensors compared: the output, the final state (h_n, and c_n for the LSTM), and the
  gradients of the input, of the initial state and of every parameter;
- the loss differentiated is Σ output·G + Σ h_n·G_h (+ Σ c_n·G_c), with random weights G, in
  float64, so every output element and the final state reach every gradient with its own weight;
- weights, inputs, initial states, G and the lengths are random; weights and values are rounded to
  numbers that bfloat16, float16 and float32 all hold exactly, so one float64 reference computed on
  those same numbers serves all dtypes and the error measured is the backend's alone;
- error per tensor: ||got - ref|| / ||ref||; a comparison fails if any tensor's error exceeds both
  the dtype's tolerance (fp32: 1e-4, bf16 and fp16: 2e-2) and twice the error of the reference
  backend run in that same dtype (what rounding to the dtype alone costs: at tiny sizes a 16-bit
  gradient that sums a few cancelling terms misses 2e-2 on any path), is NaN, or if the backend raises.

Prints one line per comparison with every tensor's error, then a summary table. Exit status: 0
when all pass, 1 when any fails, 2 when there is no CUDA device (unless --cpu-smoke, which runs
(B,T,H) = (2,3,16) on the CPU through Triton's interpreter to check this script's plumbing).

With --cudnn, backend="native" (cuDNN) is compared the same way where it runs, never failing the
check: its errors say how far a production kernel lands from float64 in the same dtype.

Run from the repository root:
    .venv/bin/python benchmarks/check_triton_gpu.py [--quick] [--long] [--deepbench] [--cells lstm]
        [--dtypes fp32] [--cudnn] [--out FILE]
    TRITON_INTERPRET=1 .venv/bin/python benchmarks/check_triton_gpu.py --cpu-smoke
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchinfo import emit  # noqa: E402
from layers_gpu import (DTYPES, add_selection_arguments, as_hx, describe, environment_lines,  # noqa: E402
                        free_memory, load_rnnlab, master_layer, prepare_device, random_exact, relative_error,
                        select_configs, state_shapes)

TOLERANCES = {"fp32": 1e-4, "bf16": 2e-2, "fp16": 2e-2}
# (cell, label, constructor options given H); proj_size=None stands for H // 2
VARIANTS = [
    ("lstm", "LSTM", {}),
    ("lstm", "LSTM proj", {"proj_size": None}),
    ("gru", "GRU reset_after", {"reset_after": True}),
    ("gru", "GRU reset_before", {"reset_after": False}),
    ("rnn", "RNN tanh", {"nonlinearity": "tanh"}),
    ("rnn", "RNN relu", {"nonlinearity": "relu"}),
]
BIDIRECTIONAL_MAX_WORK = 16 * 100 * 512  # bidirectional too where B*T*H is at most this ("a few" configurations)


def cases(configs, cells):
    """(config, cell, label, options, ragged) for every comparison to run, cheapest dimension last."""
    for config in configs:
        batch, steps, hidden = config
        directions = (False, True) if batch * steps * hidden <= BIDIRECTIONAL_MAX_WORK else (False,)
        for cell, label, options in VARIANTS:
            if cell not in cells:
                continue
            options = {k: (hidden // 2 if k == "proj_size" else v) for k, v in options.items()}
            for num_layers in (1, 2):
                for bidirectional in directions:
                    for ragged in (False, True):
                        yield config, cell, label, dict(options, num_layers=num_layers, bidirectional=bidirectional), ragged


def ragged_lengths(batch: int, steps: int) -> torch.Tensor:
    """Random lengths in [1, T], one of them T (when B > 1) and one 0 (when B >= 4); B = 1 gets 2T/3."""
    lengths = torch.randint(1, steps + 1, (batch,), dtype=torch.int64)
    lengths[0] = steps if batch > 1 else max(1, 2 * steps // 3)
    if batch >= 4:
        lengths[-1] = 0
    return lengths


def run(layer, xs, states, lengths, weights) -> dict[str, torch.Tensor]:
    """Output, final state and the gradients of Σ output·G + Σ state·G_state w.r.t. input, initial state
    and parameters, for `layer` on leaves in its own dtype; gradients of tensors in the layer's dtype."""
    xs, states = xs.detach().requires_grad_(), [s.detach().requires_grad_() for s in states]
    output, final = layer(xs, as_hx(states), lengths=lengths)
    final = tuple(final) if isinstance(final, tuple) else (final,)
    loss = sum((t.double() * w).sum() for t, w in zip((output, *final), weights))
    names = [name for name, _ in layer.named_parameters()]
    grads = torch.autograd.grad(loss, [xs, *states, *layer.parameters()])
    result = {"output": output, "h_n": final[0]}
    if len(final) == 2:
        result["c_n"] = final[1]
    result.update(zip(["d_input", "d_h0", "d_c0"][: 1 + len(states)] + [f"d_{n}" for n in names], grads))
    return {name: tensor.detach() for name, tensor in result.items()}


def check_case(rnnlab, case, dtype_names, device, seed: int, with_cudnn: bool) -> list[dict]:
    """One record per (dtype, backend) for one case: each tensor's relative error, or the exception."""
    (batch, steps, hidden), cell, label, options, ragged = case
    torch.manual_seed(seed)
    master = master_layer(rnnlab, cell, hidden, hidden, device, **options)
    xs = random_exact((steps, batch, hidden), device)
    states = [random_exact(shape, device) for shape in state_shapes(master, batch)]
    lengths = ragged_lengths(batch, steps).to(device) if ragged else None
    output_size = (2 if options["bidirectional"] else 1) * (options.get("proj_size") or hidden)
    weights = [random_exact((steps, batch, output_size), device)] + [random_exact(s.shape, device) for s in states]
    reference = run(master, xs, states, lengths, weights)
    records = []
    for dtype_name in dtype_names:
        floor = _same_dtype_reference_errors(master, xs, states, lengths, weights, reference, DTYPES[dtype_name])
        for backend in ("triton", "native") if with_cudnn else ("triton",):
            record = dict(case=case, dtype=dtype_name, backend=backend, errors={}, failure=None, floor=floor)
            try:
                layer = copy.deepcopy(master).to(DTYPES[dtype_name])
                layer.backend = backend
                got = run(layer, xs.to(DTYPES[dtype_name]), [s.to(DTYPES[dtype_name]) for s in states], lengths, weights)
                if set(got) != set(reference):
                    raise ValueError(f"tensors {sorted(got)} where the reference has {sorted(reference)}")
                record["errors"] = {name: relative_error(got[name], reference[name]) for name in reference}
            except Exception as error:
                record["failure"] = describe(error)
                free_memory(device)
            records.append(record)
    return records


def _same_dtype_reference_errors(master, xs, states, lengths, weights, reference, dtype) -> dict[str, float]:
    """Each tensor's error of backend="reference" run in `dtype`: the rounding the dtype itself costs."""
    layer = copy.deepcopy(master).to(dtype)
    layer.backend = "reference"
    got = run(layer, xs.to(dtype), [s.to(dtype) for s in states], lengths, weights)
    return {name: relative_error(got[name], reference[name]) for name in reference}


def passed(record) -> bool:
    tolerance = TOLERANCES[record["dtype"]]
    return record["failure"] is None and all(e <= max(tolerance, 2 * record["floor"].get(name, 0.0))
                                             for name, e in record["errors"].items())  # NaN fails


def case_name(case) -> str:
    (batch, steps, hidden), _, label, options, ragged = case
    return (f"{label} L{options['num_layers']}{' bi' if options['bidirectional'] else ''}"
            f"{' ragged' if ragged else ''} ({batch},{steps},{hidden})")


def record_line(record) -> str:
    where = f"{case_name(record['case'])} {record['dtype']} {record['backend']}"
    if record["failure"] is not None:
        return f"{'ERROR' if record['backend'] == 'triton' else 'error'} {where}: {record['failure']}"
    worst = max(record["errors"], key=lambda n: math.inf if math.isnan(record["errors"][n]) else record["errors"][n])
    verdict = ("PASS" if passed(record) else "FAIL") if record["backend"] == "triton" else "info"
    return (f"{verdict} {where}: max {record['errors'][worst]:.1e} ({worst}), tolerance {TOLERANCES[record['dtype']]:g}\n    "
            + ", ".join(f"{name} {error:.1e}" for name, error in record["errors"].items()))


def summary(records: list[dict]) -> list[str]:
    """Per (variant, dtype): comparisons, failures, the largest error and where; cuDNN's largest for scale."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        groups.setdefault((record["case"][2], record["dtype"]), []).append(record)
    with_cudnn = any(r["backend"] == "native" for r in records)
    columns = ["variant", "dtype", "tolerance", "compared", "failed", "of which errors", "max error", "where"]
    columns += ["cuDNN max error"] if with_cudnn else []
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for (label, dtype_name), group in groups.items():
        mine = [r for r in group if r["backend"] == "triton"]
        measured = [(e, name, r) for r in mine if r["failure"] is None for name, e in r["errors"].items()]
        worst = max(measured, key=lambda m: math.inf if math.isnan(m[0]) else m[0], default=None)
        cells = [label, dtype_name, f"{TOLERANCES[dtype_name]:g}", str(len(mine)),
                 str(sum(not passed(r) for r in mine)), str(sum(r["failure"] is not None for r in mine)),
                 f"{worst[0]:.1e}" if worst else "—",
                 f"{worst[1]} in {case_name(worst[2]['case'])}" if worst else "—"]
        if with_cudnn:
            theirs = [e for r in group if r["backend"] == "native" and r["failure"] is None for e in r["errors"].values()]
            cells.append(f"{max(theirs):.1e}" if theirs else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Checks rnnlab's Triton backend on the GPU against float64: outputs, "
                                                 "final states and all gradients, per tensor.")
    add_selection_arguments(parser, "comma-separated among lstm,gru,rnn (default: all, at every configuration)")
    parser.add_argument("--cudnn", action="store_true",
                        help="also compare backend='native' (cuDNN) with float64, for scale; it never fails the check")
    args = parser.parse_args(argv)
    device = prepare_device(args, "check_triton_gpu.py")
    if device is None:
        return 2
    rnnlab = load_rnnlab(args.cpu_smoke)

    clock = time.perf_counter()
    records = []
    for index, case in enumerate(cases(select_configs(args), args.cells)):
        try:
            new = check_case(rnnlab, case, args.dtypes, device, args.seed + index, args.cudnn)
        except Exception as error:  # the float64 reference itself failed: no comparison possible, a failure
            free_memory(device)
            new = [dict(case=case, dtype=d, backend="triton", errors={}, failure="reference: " + describe(error))
                   for d in args.dtypes]
        for record in new:
            print(f"[{time.perf_counter() - clock:6.1f} s] " + record_line(record), flush=True)
        records += new

    mine = [r for r in records if r["backend"] == "triton"]
    failures = [r for r in mine if not passed(r)]
    report = environment_lines(device, "rnnlab Triton backend vs float64 reference, GPU", args.cpu_smoke) + [
        f"- {len(mine)} comparisons (seed {args.seed}), {time.perf_counter() - clock:.0f} s; tolerances on "
        "||got - ref|| / ||ref|| per tensor: " + ", ".join(f"{d} {TOLERANCES[d]:g}" for d in args.dtypes),
        "",
    ] + summary(records) + ["", "## Failures", ""] + ([f"- {record_line(r).splitlines()[0]}" for r in failures] or ["none"])
    report += ["", f"{'FAIL' if failures else 'PASS'}: {len(mine) - len(failures)} of {len(mine)} comparisons within tolerance"]
    emit("\n".join(report) + "\n", args.out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
