"""CPU speed of rnnlab's layers against torch.nn, as ratios taken side by side in one run.

For every configuration (B, T, I, H) of `/work/shared/BENCHMARKS.md`, every cell (LSTM, GRU, RNN
with tanh) and every mode (inference: forward under torch.no_grad(); training: forward plus the
backward of `output.sum()` with respect to the parameters), this script builds `torch.nn.<Cell>`,
copies it into rnnlab with `rnnlab.from_torch(module, backend=...)` for each backend asked for
(identical weights), and times all of them on the same float32 input, time-major, one layer.

Method (how speed is measured here: shared, noisy machines, so ratios and medians):
- before timing, once per (configuration, cell), each backend's outputs, final state and parameter
  gradients are checked against torch's with `torch.testing.assert_close`, so the benchmark never
  compares different computations (a mismatch stops the run: it is a bug, not a speed);
- a warm-up of a few calls of each implementation, which also sets n, the number of calls per
  timing: enough for one timing to last about --min-time-ms, and at least 3;
- R repeats; in each, torch and every backend are timed back to back, the order reversed on
  every other repeat (torch, auto, reference; reference, auto, torch; ...); one timing is the
  median of its n calls, each timed with time.perf_counter;
- reported: the median over repeats of time(torch), of time(backend), and of the per-repeat ratio
  time(backend) / time(torch).

A target missed is reported, never an error: the script exits 0 whatever the ratios.

Run from the repository root:
    PYTHONPATH=. python benchmarks/layers_cpu.py              # full run
    PYTHONPATH=. python benchmarks/layers_cpu.py --quick      # smoke run, a couple of minutes
    PYTHONPATH=. python benchmarks/layers_cpu.py --cells lstm --configs 3,4 --modes training
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

from benchinfo import cpu_model, emit, git_revision
from torch import nn

try:
    import rnnlab
except ImportError:  # run from a checkout without an install: benchmarks/ is sys.path[0], not the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import rnnlab

# (B, T, I, H), fixed so that results compare across time (BENCHMARKS.md).
CONFIGS = [
    (1, 100, 1, 64),  # streaming-sized
    (32, 50, 8, 64),  # small forecaster
    (32, 100, 64, 128),
    (64, 100, 128, 256),
    (16, 200, 256, 512),
]
CELLS = {"lstm": ("LSTM", nn.LSTM), "gru": ("GRU", nn.GRU), "rnn": ("RNN", nn.RNN)}
# "aten" is not an rnnlab backend: it is torch.nn itself with oneDNN turned off, i.e. torch's own
# per-step ATen loop. On CPUs where torch runs an LSTM through oneDNN's fused primitive, it shows
# how the reference loop compares with torch's loop rather than with a fused kernel.
BACKENDS = ("auto", "reference", "aten")
MODES = ("inference", "training")

# Targets. auto: at most 5 % slower than torch everywhere. reference: at most 1.5x in inference
# and 2.5x in training, on the three larger configurations (the small ones are dominated by the
# per-step Python overhead of a time loop, which no Python loop can hide).
AUTO_TARGET = 1.05
REFERENCE_TARGETS = {"inference": 1.5, "training": 2.5}
REFERENCE_TARGET_CONFIGS = CONFIGS[2:]
NOISY_SPREAD = 1.5  # a row whose timings of one implementation vary more than this (max/min) is flagged

# float32 tolerances for the agreement check, loose enough for the rounding differences between
# oneDNN/ATen and a step loop over 200 steps (measured: outputs within 4e-7), far too tight for a
# wrong computation. Gradients are sums over T*B terms and reach 1e4 here, so their absolute
# tolerance scales with the largest gradient of the tensor.
OUTPUT_TOL = dict(rtol=1e-4, atol=1e-5)
GRAD_RTOL, GRAD_ATOL_PER_MAX = 1e-4, 1e-5


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the computations timed -------------------------------------------------------------------


def build(cell: str, config: tuple[int, int, int, int], backends: list[str], seed: int = 0):
    """torch's module, rnnlab's copies of it (one per backend) and the input, all float32."""
    batch, steps, inputs, hidden = config
    torch.manual_seed(seed)
    torch_type = CELLS[cell][1]
    kwargs = dict(nonlinearity="tanh") if torch_type is nn.RNN else {}
    reference = torch_type(inputs, hidden, num_layers=1, batch_first=False, dtype=torch.float32, **kwargs)
    ours = {backend: rnnlab.from_torch(reference, backend=backend) for backend in backends if backend != "aten"}
    xs = torch.randn(steps, batch, inputs, dtype=torch.float32)  # requires_grad=False
    return reference, ours, xs


def make_call(module: nn.Module, xs: torch.Tensor, mode: str):
    """A no-argument function running one timed call of `module` in `mode`."""
    if mode == "inference":

        def call():
            with torch.no_grad():
                return module(xs)

    else:
        params = [p for p in module.parameters() if p.requires_grad]

        def call():  # gradients are returned, never accumulated into .grad, so nothing to zero
            output, _ = module(xs)
            return torch.autograd.grad(output.sum(), params)

    return call


def without_onednn(call):
    """`call`, run with torch's oneDNN (mkldnn) kernels turned off."""

    def wrapped():
        with warnings.catch_warnings():  # torch warns that oneDNN's TF32 needs an Intel GPU; irrelevant here
            warnings.simplefilter("ignore", UserWarning)
            with torch.backends.mkldnn.flags(enabled=False):
                return call()

    return wrapped


def check_agreement(cell: str, config, reference: nn.Module, ours: dict[str, nn.Module], xs: torch.Tensor) -> None:
    """Raises AssertionError unless every backend computes what torch computes (outputs, final
    state, parameter gradients), within float32 tolerances."""
    names = [name for name, _ in reference.named_parameters()]
    with torch.no_grad():
        expected_out, expected_state = reference(xs)
    expected_out_g, _ = reference(xs)
    expected_grads = torch.autograd.grad(expected_out_g.sum(), list(reference.parameters()))
    expected_state = expected_state if isinstance(expected_state, tuple) else (expected_state,)
    for backend, module in ours.items():
        where = f"{CELLS[cell][0]} {config} backend={backend}"
        with torch.no_grad():
            out, state = module(xs)
        state = state if isinstance(state, tuple) else (state,)
        torch.testing.assert_close(out, expected_out, **OUTPUT_TOL, msg=lambda m: f"{where}: output differs\n{m}")
        for index, (got, want) in enumerate(zip(state, expected_state)):
            torch.testing.assert_close(got, want, **OUTPUT_TOL, msg=lambda m: f"{where}: final state {index} differs\n{m}")
        out_g, _ = module(xs)
        named = dict(module.named_parameters())
        grads = torch.autograd.grad(out_g.sum(), [named[name] for name in names])
        for name, got, want in zip(names, grads, expected_grads):
            atol = GRAD_ATOL_PER_MAX * max(1.0, want.abs().max().item())
            torch.testing.assert_close(got, want, rtol=GRAD_RTOL, atol=atol,
                                       msg=lambda m: f"{where}: gradient of {name} differs\n{m}")


# -- timing -----------------------------------------------------------------------------------


def time_calls(call, n: int) -> float:
    """The median of n calls, in seconds."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def calls_per_timing(call, warmup: int, min_time: float, min_calls: int = 3, max_calls: int = 1000) -> int:
    """Runs the warm-up and returns n: enough calls for a timing to last min_time, at least min_calls."""
    times = []
    for _ in range(max(warmup, 1)):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    estimate = min(times[1:] or times)  # the first call may pay one-off costs
    return max(min_calls, min(max_calls, math.ceil(min_time / max(estimate, 1e-7))))


def measure(calls: dict[str, callable], repeats: int, warmup: int, min_time: float):
    """Times every implementation in `calls` ("torch" first), interleaved, `repeats` times.

    Returns {name: [seconds per call, one per repeat]} and the n used for each."""
    names = list(calls)
    n = {name: calls_per_timing(calls[name], warmup, min_time) for name in names}
    timings = {name: [] for name in names}
    for repeat in range(repeats):
        for name in (names if repeat % 2 == 0 else reversed(names)):
            timings[name].append(time_calls(calls[name], n[name]))
    return timings, n


# -- report -----------------------------------------------------------------------------------


def header(args, started: datetime.datetime) -> list[str]:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return [
        "# rnnlab layers vs torch.nn, CPU",
        "",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores (os.cpu_count()), torch threads: {torch.get_num_threads()}",
        f"- torch {torch.__version__}, Python {platform.python_version()}, rnnlab {rnnlab.__version__} "
        f"at {git_revision()}",
        f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')}; load average (1/5/15 min) at start: {load}",
        f"- method: float32, time-major, one layer; {args.repeats} repeats, interleaved (order reversed every "
        f"other repeat), each timing the median of n calls (n: >= {args.min_time_ms:g} ms and >= 3 calls) after "
        f"{args.warmup} warm-up calls; medians over repeats; ratio = median of per-repeat ratios to torch"
        + (" (--quick)" if args.quick else ""),
        "- inference: forward under torch.no_grad(); training: forward + backward of output.sum() "
        "w.r.t. the parameters (input does not require grad)",
    ]


def table(rows: list[dict], backends: list[str]) -> list[str]:
    columns = ["cell", "mode", "(B,T,I,H)", "torch ms"]
    for backend in backends:
        columns += [f"{backend} ms", f"{backend}/torch"]
    if rows and "reference/aten" in rows[0]:
        columns.append("reference/aten")
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = [row["cell"], row["mode"], "(" + ",".join(map(str, row["config"])) + ")", f"{row['torch'] * 1e3:.3f}"]
        for backend in backends:
            cells += [f"{row[backend] * 1e3:.3f}", f"{row[backend + '/torch']:.2f}x"]
        if "reference/aten" in row:
            cells.append(f"{row['reference/aten']:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def targets(rows: list[dict], backends: list[str]) -> list[str]:
    """The targets summary: hits counted, every miss listed."""
    checks = []  # (backend, row, limit)
    for row in rows:
        if "auto" in backends:
            checks.append(("auto", row, AUTO_TARGET))
        if "reference" in backends and row["config"] in REFERENCE_TARGET_CONFIGS:
            checks.append(("reference", row, REFERENCE_TARGETS[row["mode"]]))
    lines = ["## Targets", ""]
    if not checks:
        return lines + ["(none of the targets applies to the selection run)"]
    lines.append("- auto <= 1.05x torch everywhere; reference <= 1.5x torch in inference and <= 2.5x in "
                 "training at " + ", ".join("(" + ",".join(map(str, c)) + ")" for c in REFERENCE_TARGET_CONFIGS))
    for backend in ("auto", "reference"):
        mine = [(row, limit) for name, row, limit in checks if name == backend]
        if not mine:
            continue
        misses = [(row, limit) for row, limit in mine if row[backend + "/torch"] > limit]
        lines.append(f"- {backend}: {len(mine) - len(misses)}/{len(mine)} met")
        for row, limit in misses:
            config = "(" + ",".join(map(str, row["config"])) + ")"
            lines.append(f"  - miss: {config} {row['cell']} {row['mode']}: {row[backend + '/torch']:.3f}x "
                         f"(target <= {limit:g}x)")
    return lines


# -- main -------------------------------------------------------------------------------------


def parse_list(text: str, allowed, what: str) -> list[str]:
    items = [item.strip().lower() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise argparse.ArgumentTypeError(f"{what} must be a comma-separated list of {', '.join(allowed)}; received {text!r}")
    return list(dict.fromkeys(items))


def parse_configs(text: str) -> list[int]:
    try:
        indices = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        indices = []
    if not indices or any(not 0 <= i < len(CONFIGS) for i in indices):
        choices = ", ".join(f"{i}={c}" for i, c in enumerate(CONFIGS))
        raise argparse.ArgumentTypeError(f"configs must be comma-separated indices among {choices}; received {text!r}")
    return list(dict.fromkeys(indices))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Speed of rnnlab's layers against torch.nn on the CPU (ratios, medians, interleaved).",
        epilog="configs: " + "; ".join(f"{i} = (B,T,I,H) {c}" for i, c in enumerate(CONFIGS)))
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 repeats, 2 warm-up calls, 10 ms timings")
    parser.add_argument("--cells", type=lambda s: parse_list(s, CELLS, "--cells"), default=list(CELLS),
                        help="comma-separated, among lstm,gru,rnn (default: all)")
    parser.add_argument("--configs", type=parse_configs, default=list(range(len(CONFIGS))),
                        help="comma-separated indices into the configurations, 0-4 (default: all)")
    parser.add_argument("--backends", type=lambda s: parse_list(s, BACKENDS, "--backends"), default=list(BACKENDS),
                        help="comma-separated, among auto,reference,aten (default: all; aten = torch.nn with oneDNN off)")
    parser.add_argument("--modes", type=lambda s: parse_list(s, MODES, "--modes"), default=list(MODES),
                        help="comma-separated, among inference,training (default: both)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 7; 3 with --quick)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up calls per implementation (default 3; 2 with --quick)")
    parser.add_argument("--min-time-ms", type=float, default=None,
                        help="each timing lasts at least this long, in ms, and 3 calls (default 20; 10 with --quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's own default, recorded in the header)")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    args.repeats = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    args.warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    args.min_time_ms = args.min_time_ms if args.min_time_ms is not None else (10.0 if args.quick else 20.0)
    if args.repeats < 1 or args.warmup < 1 or args.min_time_ms < 0:
        parser.error("--repeats and --warmup must be >= 1 and --min-time-ms >= 0")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.perf_counter()
    rows = []
    for index in args.configs:
        config = CONFIGS[index]
        for cell in args.cells:
            reference, ours, xs = build(cell, config, args.backends)
            check_agreement(cell, config, reference, ours, xs)
            for mode in args.modes:
                calls = {"torch": make_call(reference, xs, mode)}
                calls.update({backend: make_call(module, xs, mode) for backend, module in ours.items()})
                if "aten" in args.backends:
                    calls["aten"] = without_onednn(make_call(reference, xs, mode))
                timings, n = measure(calls, args.repeats, args.warmup, args.min_time_ms / 1e3)
                row = dict(cell=CELLS[cell][0], mode=mode, config=config, torch=statistics.median(timings["torch"]))
                for backend in args.backends:
                    row[backend] = statistics.median(timings[backend])
                    row[backend + "/torch"] = statistics.median(
                        mine / theirs for mine, theirs in zip(timings[backend], timings["torch"]))
                if "reference" in args.backends and "aten" in args.backends:
                    row["reference/aten"] = statistics.median(
                        mine / theirs for mine, theirs in zip(timings["reference"], timings["aten"]))
                row["spread"] = max(max(times) / min(times) for times in timings.values())
                rows.append(row)
                log(f"[{time.perf_counter() - clock:6.1f} s] {row['cell']:4} {mode:9} {config}: torch "
                    f"{row['torch'] * 1e3:.3f} ms (n={n['torch']})"
                    + "".join(f", {b} {row[b] * 1e3:.3f} ms = {row[b + '/torch']:.2f}x (n={n[b]})" for b in args.backends))

    elapsed = time.perf_counter() - clock
    noisy = [row for row in rows if row["spread"] > NOISY_SPREAD]
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    report = header(args, started) + [f"- duration: {elapsed:.0f} s; load average at end: {load}", ""]
    report += table(rows, args.backends) + [""] + targets(rows, args.backends) + [""]
    report.append(f"Noisy rows (one implementation's timings varied more than {NOISY_SPREAD:g}x across repeats; "
                  "worth re-running on a quiet machine): "
                  + (", ".join(f"{r['cell']} {r['mode']} (" + ",".join(map(str, r["config"])) + f") {r['spread']:.1f}x"
                               for r in noisy) or "none"))
    text = "\n".join(report) + "\n"
    emit(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
