"""Per-step latency on the CPU of serving a stream one time step at a time, B = 1.

For the LSTM and the GRU and a few hidden sizes H, each implementation below advances one stream
by one step, its state carried from call to call, in inference (torch.no_grad()), float32, one
thread, one layer unless --num-layers says otherwise:

- `rnnlab.LSTM.step`: `rnnlab.LSTM.step(x, state)` / `rnnlab.GRU.step` (backend "auto": torch's fused
  one-step cell kernels);
- `rnnlab.LSTM.step, reference`: the same layer with backend="reference" (the cells' own equations);
- `nn.LSTM, T=1`: calling torch.nn.LSTM (nn.GRU) on a one-step sequence with the carried (h, c),
  what a torch user streaming with the layer writes;
- `nn.LSTM, T=1, oneDNN off`: the same inside torch.backends.mkldnn.flags(enabled=False), to show
  what oneDNN's per-call set-up costs (torch hands an LSTM on the CPU to oneDNN when it can);
- `nn.LSTMCell`: torch.nn.LSTMCell (nn.GRUCell) with the carried state.

All share identical weights (`rnnlab.from_torch`, and the cell's parameters copied from layer 0).
Before timing, every implementation streams the same 20 steps and its outputs are checked against
rnnlab's (a mismatch stops the run: the benchmark never compares different computations).

Method (shared, noisy machines: medians and ratios): a warm-up of 50 calls each; then R repeats,
the implementations interleaved (the order reversed every other repeat); in a repeat each makes
n calls, each timed with time.perf_counter, and the repeat keeps their median. Reported: the
median over repeats of that per-step time, and of the per-repeat ratio to `nn.LSTM, T=1`.

Run from the repository root:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/step_latency_cpu.py            # writes the table
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/step_latency_cpu.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from benchinfo import cpu_model, git_revision

try:
    import rnnlab
except ImportError:  # run from a checkout without an install: benchmarks/ is sys.path[0], not the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import rnnlab
from rnnlab.report.atomic import write_bytes_atomically

CELLS = {"lstm": (nn.LSTM, nn.LSTMCell), "gru": (nn.GRU, nn.GRUCell)}
HIDDEN_SIZES = (32, 128, 512)
BASELINE = "nn.{cell}, T=1"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "step_latency.md"
CHECK_STEPS, CHECK_TOL = 20, dict(rtol=1e-5, atol=1e-6)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the implementations ------------------------------------------------------------------------


class Streamer:
    """One implementation serving one stream: calling it with x (1, F) returns y (1, H).

    `onednn=False` runs it with torch's oneDNN kernels turned off: the caller enters `context()`
    around a whole block of steps, so that the switch's own cost is not timed.
    """

    def __init__(self, advance, onednn: bool = True) -> None:
        self._advance, self.onednn, self.state = advance, onednn, None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y, self.state = self._advance(x, self.state)
        return y

    def context(self):
        return contextlib.nullcontext() if self.onednn else torch.backends.mkldnn.flags(enabled=False)


def build(cell: str, input_size: int, hidden_size: int, num_layers: int) -> dict[str, Streamer]:
    torch.manual_seed(0)
    layer_type, cell_type = CELLS[cell]
    theirs = layer_type(input_size, hidden_size, num_layers=num_layers).eval()
    ours = rnnlab.from_torch(theirs).eval()
    reference = rnnlab.from_torch(theirs, backend="reference").eval()

    def sequence_of_one(x, state):
        ys, state = theirs(x.unsqueeze(0), state)  # (1, 1, H): T = 1
        return ys[0], state

    streamers = {
        "rnnlab.{cell}.step": Streamer(ours.step),
        "rnnlab.{cell}.step, reference": Streamer(reference.step),
        BASELINE: Streamer(sequence_of_one),
        "nn.{cell}, T=1, oneDNN off": Streamer(sequence_of_one, onednn=False),
    }
    if num_layers == 1:  # torch's cell is one layer
        torch_cell = cell_type(input_size, hidden_size).eval()
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(torch_cell, name).copy_(getattr(theirs, name + "_l0"))

        def one_cell(x, state):
            state = torch_cell(x, state)
            return (state[0] if isinstance(state, tuple) else state), state

        streamers["nn.{cell}Cell"] = Streamer(one_cell)
    return streamers


def check_agreement(streamers: dict[str, Streamer], input_size: int, where: str) -> None:
    """Every implementation streams the same steps and must give rnnlab's outputs; then all restart."""
    xs = torch.randn(CHECK_STEPS, 1, input_size)
    outputs = {}
    with torch.no_grad():
        for name, streamer in streamers.items():
            with streamer.context():
                outputs[name] = torch.stack([streamer(x) for x in xs])
    expected = outputs["rnnlab.{cell}.step"]
    for name, got in outputs.items():
        torch.testing.assert_close(got, expected, **CHECK_TOL, msg=lambda m, name=name: f"{where} {name}: {m}")
    for streamer in streamers.values():
        streamer.state = None


# -- timing -------------------------------------------------------------------------------------


def median_step(streamer: Streamer, x: torch.Tensor, n: int) -> float:
    """The median time of n steps, in seconds."""
    times = []
    with streamer.context():
        for _ in range(n):
            start = time.perf_counter()
            streamer(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(streamers: dict[str, Streamer], input_size: int, repeats: int, calls: int) -> dict[str, list[float]]:
    x = torch.randn(1, input_size)
    names = list(streamers)
    timings = {name: [] for name in names}
    with torch.no_grad():
        for name in names:
            median_step(streamers[name], x, 50)  # warm-up: first-call costs, caches, allocator
        for repeat in range(repeats):
            for name in names if repeat % 2 == 0 else reversed(names):
                timings[name].append(median_step(streamers[name], x, calls))
    return timings


# -- report -------------------------------------------------------------------------------------


def report(rows: list[tuple], args, started: datetime.datetime) -> str:
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    lines = [
        "# Per-step latency on the CPU: streaming one step at a time, B = 1",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `benchmarks/step_latency_cpu.py` on {cpu_model()}, "
        f"{torch.get_num_threads()} thread, torch {torch.__version__}, Python {platform.python_version()}, "
        f"rnnlab {git_revision()}; load average at the start {load}.",
        "",
        "**Shared, noisy machine**: 2 cores shared with other jobs, so absolute times vary from run to run "
        "(tens of percent); the ratios, taken side by side in the same repeats, are the steadier figure.",
        "",
        f"float32, inference (no_grad), input size F = {args.input_size}, {args.num_layers} layer(s), state carried "
        f"from step to step. Each time is the median over {args.repeats} interleaved repeats of the median of "
        f"{args.calls} steps; the ratio is to `nn.LSTM`/`nn.GRU` called on a one-step sequence (T = 1), also a "
        "median of per-repeat ratios. `oneDNN off`: the same torch call inside "
        "`torch.backends.mkldnn.flags(enabled=False)`.",
        "",
        "| cell | H | implementation | µs per step | × nn.LSTM/GRU, T=1 |",
        "|---|---:|---|---:|---:|",
    ]
    for cell, hidden_size, name, micros, ratio in rows:
        lines.append(f"| {cell.upper()} | {hidden_size} | {name.format(cell=cell.upper())} | {micros:.1f} | "
                     f"{ratio:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--hidden-sizes", default=",".join(map(str, HIDDEN_SIZES)))
    parser.add_argument("--input-size", type=int, default=16)
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200, help="steps per repeat and implementation")
    parser.add_argument("--quick", action="store_true", help="3 repeats of 30 steps, nothing written")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.calls = 3, 30
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")  # mkldnn.flags() warns
    started = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for cell in args.cells.split(","):
        for hidden_size in map(int, args.hidden_sizes.split(",")):
            where = f"{cell} H={hidden_size}"
            streamers = build(cell, args.input_size, hidden_size, args.num_layers)
            check_agreement(streamers, args.input_size, where)
            timings = measure(streamers, args.input_size, args.repeats, args.calls)
            baseline = timings[BASELINE]
            for name, times in timings.items():
                ratio = statistics.median(t / b for t, b in zip(times, baseline))
                rows.append((cell, hidden_size, name, statistics.median(times) * 1e6, ratio))
                log(f"{where:12s} {name.format(cell=cell.upper()):30s} {rows[-1][3]:9.1f} µs  × {ratio:.2f}")
    text = report(rows, args, started)
    print(text, end="")
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(args.out, text.encode())
        log(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
