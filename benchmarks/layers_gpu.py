"""GPU speed of rnnlab's Triton backend against cuDNN, per time step, with each one's error against float64.

For every GPU configuration (B, T, H) of `shared/BENCHMARKS.md` (one layer, I = H, time-major),
the LSTM and the GRU (and the vanilla tanh RNN at (64, 500, 256)) in float32 (TF32 off),
bfloat16 and float16, this script times

- triton:   `rnnlab.<Cell>(..., backend="triton")`;
- torch.nn: `torch.nn.<Cell>` holding the same weights in cuDNN's flat buffer: cuDNN as users run
            it, the reference to beat (the ratio column is triton / torch.nn);
- native:   the same rnnlab layer with `backend="native"`, i.e. cuDNN through rnnlab, which hands
            cuDNN its weights unflattened (a copy per call), shown for scale;

in two modes: forward under torch.no_grad(), and forward + backward of `output.sum()` with
respect to the parameters (the input does not require grad). Figures are microseconds per time
step: the median time of one call over T.

Method:
- every layer is a copy of one float64 layer whose parameters, like the input and the initial
  state, are random and rounded to values that bfloat16, float16 and float32 all hold exactly, so
  the three dtypes run the same function on the same numbers and one float64 reference serves all;
- error = ||out - ref|| / ||ref|| of each implementation's forward output, where ref is
  `backend="reference"` run in float64 on the GPU on that float64 layer and input;
- timing: each call is run twice first (compilation, autotuning, cuDNN's plans), then `--repeats`
  rounds in which the three are timed back to back, the order reversed every other round, each
  timing a `triton.testing.do_bench(..., return_mode="median")` (CUDA events, L2 flushed between
  calls); reported are the medians over rounds and the median of the per-round ratios;
- fp16 rows where B % 8 == 0 and H % 128 == 0 are marked: cuDNN's persistent algorithm can run
  there, so they are cuDNN's best case, not a separate measurement;
- a configuration or implementation that fails (ValueError for a configuration the Triton backend
  does not take, out of memory, ...) is reported as such and the run goes on. The script exits 0
  whatever the speeds; 2 when there is no CUDA device (unless --cpu-smoke).

--cpu-smoke runs a tiny configuration (B=2, T=3, H=16) on the CPU, Triton in its interpreter
(TRITON_INTERPRET=1), timed with a wall clock: the timings mean nothing, it checks this script.

Run from the repository root:
    .venv/bin/python benchmarks/layers_gpu.py [--quick] [--long] [--deepbench] [--cells lstm,gru]
        [--dtypes fp32,bf16] [--repeats 5] [--out FILE]
    TRITON_INTERPRET=1 .venv/bin/python benchmarks/layers_gpu.py --cpu-smoke
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from benchinfo import emit, git_revision

# (B, T, H), I = H (BENCHMARKS.md); fixed so that results compare across time.
CONFIGS = [(1, 100, 256), (1, 100, 1024), (16, 100, 512), (64, 100, 512), (64, 500, 256), (64, 100, 1024),
           (256, 100, 1024), (512, 50, 2048)]
LONG_CONFIGS = [(batch, 4000, hidden) for batch in (1, 16, 64) for hidden in (64, 128)]
DEEPBENCH_CONFIGS = [(batch, 25, hidden) for hidden in (512, 1024, 2048) for batch in (16, 32, 64, 128)]
QUICK_CONFIGS = [(1, 100, 256), (64, 100, 512), (64, 500, 256)]
SMOKE_CONFIGS = [(2, 3, 16)]
RNN_CONFIGS = {(64, 500, 256), *SMOKE_CONFIGS}  # the vanilla RNN is benchmarked at these only
DEEPBENCH_CELLS = {"lstm"}  # DeepBench's training sizes are LSTM sizes

CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
MODES = ("forward", "fwd+bwd")
IMPLEMENTATIONS = ("triton", "torch.nn", "native")
SMALLEST_NORMAL_FP16 = 2.0 ** -14


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- what the benchmark and the correctness check share ------------------------------------------


def select_configs(args) -> list[tuple[int, int, int]]:
    """The (B, T, H) configurations that --quick, --long, --deepbench and --cpu-smoke select."""
    if args.cpu_smoke:
        return list(SMOKE_CONFIGS)
    configs = list(QUICK_CONFIGS if args.quick else CONFIGS)
    configs += LONG_CONFIGS if args.long else []
    configs += DEEPBENCH_CONFIGS if args.deepbench else []
    return list(dict.fromkeys(configs))


def load_rnnlab(cpu_smoke: bool):
    """Imports rnnlab after setting TRITON_INTERPRET for --cpu-smoke (it is read when kernels are defined)."""
    if cpu_smoke:
        os.environ.setdefault("TRITON_INTERPRET", "1")
    try:
        import rnnlab
    except ImportError:  # run from a checkout without an install: benchmarks/ is sys.path[0], not the root
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        import rnnlab
    return rnnlab


def prepare_device(args, script: str) -> torch.device | None:
    """The device to run on with TF32 off, or None (after saying why) when there is no CUDA device."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if args.cpu_smoke:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        log(f"{script}: no CUDA device (torch {torch.__version__}, torch.cuda.is_available() is False). This script "
            "measures GPU kernels; run it on a machine with an NVIDIA GPU, or pass --cpu-smoke to check only its "
            "plumbing on the CPU through Triton's interpreter.")
        return None
    return torch.device("cuda")


def exact(tensor: Tensor) -> Tensor:
    """`tensor` rounded to values that bfloat16, float16 and float32 all hold exactly (8 significant bits,
    magnitude at least float16's smallest normal number, so never zero either)."""
    rounded = tensor.to(torch.bfloat16).to(tensor.dtype)
    tiny = torch.where(rounded < 0, -SMALLEST_NORMAL_FP16, SMALLEST_NORMAL_FP16).to(tensor.dtype)
    return torch.where(rounded.abs() < SMALLEST_NORMAL_FP16, tiny, rounded)


def random_exact(shape, device) -> Tensor:
    """Standard normal float64 values, rounded by `exact`."""
    return exact(torch.randn(shape, dtype=torch.float64, device=device))


def master_layer(rnnlab, cell: str, input_size: int, hidden_size: int, device, **options) -> nn.Module:
    """A float64 rnnlab layer on `backend="reference"` with torch's random initialisation rounded by `exact`.

    `options` go to the constructor (num_layers, bidirectional, proj_size, reset_after, nonlinearity)."""
    layer = getattr(rnnlab, CELLS[cell])(input_size, hidden_size, device=device, dtype=torch.float64,
                                         backend="reference", **options)
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.copy_(exact(parameter))
    return layer


def state_shapes(layer: nn.Module, batch: int) -> list[tuple[int, int, int]]:
    """Shapes of the initial state tensors of an rnnlab or torch layer: [h0] or [h0, c0]."""
    stacked = layer.num_layers * (2 if layer.bidirectional else 1)
    if isinstance(layer, nn.LSTM) or type(layer).__name__ == "LSTM":
        return [(stacked, batch, layer.proj_size or layer.hidden_size), (stacked, batch, layer.hidden_size)]
    return [(stacked, batch, layer.hidden_size)]


def as_hx(states: list[Tensor]):
    """The initial state as torch's layers take it: h0, or (h0, c0)."""
    return tuple(states) if len(states) == 2 else states[0]


def relative_error(got: Tensor, want: Tensor) -> float:
    """||got - want|| / ||want|| in float64 (the absolute difference where want is all zeros); NaN stays NaN."""
    if got.shape != want.shape:
        raise ValueError(f"shape {tuple(got.shape)} where the reference has {tuple(want.shape)}")
    difference = torch.linalg.vector_norm(got.double() - want.double()).item()
    scale = torch.linalg.vector_norm(want.double()).item()
    return difference / scale if scale > 0 else difference


def describe(error: BaseException) -> str:
    """One line naming an exception (out of memory said plainly)."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return "out of memory"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def environment_lines(device: torch.device, title: str, cpu_smoke: bool) -> list[str]:
    """The report's header: machine, versions, revision, date."""
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = "not installed"
    if device.type == "cuda":
        machine = f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
    else:
        machine = f"CPU ({platform.processor() or platform.machine()}), TRITON_INTERPRET={os.environ.get('TRITON_INTERPRET')}"
    lines = [f"# {title}", ""]
    if cpu_smoke:
        lines += ["**CPU SMOKE RUN (--cpu-smoke): tiny configuration, Triton's interpreter on the CPU. Timings and "
                  "ratios are meaningless; this run only checks the script's own plumbing.**", ""]
    return lines + [
        f"- machine: {machine}",
        f"- torch {torch.__version__}, triton {triton_version}, Python {platform.python_version()}, rnnlab at {git_revision()}",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- TF32: torch.backends.cuda.matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}, "
        f"torch.backends.cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}",
    ]


def parse_list(text: str, allowed, what: str) -> list[str]:
    items = [item.strip().lower() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise argparse.ArgumentTypeError(f"{what} must be a comma-separated list among {','.join(allowed)}; received {text!r}")
    return list(dict.fromkeys(items))


def add_selection_arguments(parser: argparse.ArgumentParser, cells_help: str) -> None:
    """The flags both scripts take to select what runs."""
    parser.add_argument("--quick", action="store_true", help=f"a small subset of the main list: {QUICK_CONFIGS}")
    parser.add_argument("--long", action="store_true", help="add the long sequences: B in {1,16,64} x H in {64,128}, T=4000")
    parser.add_argument("--deepbench", action="store_true",
                        help="add DeepBench's LSTM training sizes: H in {512,1024,2048} x B in {16,32,64,128}, T=25")
    parser.add_argument("--cells", type=lambda s: parse_list(s, CELLS, "--cells"), default=list(CELLS), help=cells_help)
    parser.add_argument("--dtypes", type=lambda s: parse_list(s, DTYPES, "--dtypes"), default=list(DTYPES),
                        help="comma-separated among fp32,bf16,fp16 (default: all; fp32 runs with TF32 off)")
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="no GPU: run (B,T,H)=(2,3,16) on the CPU through Triton's interpreter, to check the script only")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs (default 0)")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown report to this file")


# -- the benchmark -------------------------------------------------------------------------------


def build(rnnlab, name: str, master: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Implementation `name` of `master`'s layer in `dtype`, with master's weights."""
    if name == "torch.nn":
        options = {"nonlinearity": master.nonlinearity} if hasattr(master, "nonlinearity") else {}
        module = getattr(nn, type(master).__name__)(master.input_size, master.hidden_size, **options)
        module.load_state_dict(master.state_dict())
        return module.to(device=master.weight_ih_l0.device, dtype=dtype)  # .to() flattens the weights for cuDNN
    module = copy.deepcopy(master).to(dtype)
    module.backend = name  # "triton" or "native"; raises ValueError for a backend rnnlab does not know
    return module


def make_call(module: nn.Module, xs: Tensor, hx, mode: str):
    """A no-argument function running one timed call of `module` in `mode`."""
    if mode == "forward":
        def call():
            with torch.no_grad():
                return module(xs, hx)
        return call
    params = [p for p in module.parameters() if p.requires_grad]

    def call():  # gradients are returned, never accumulated into .grad: nothing to zero between calls
        output, _ = module(xs, hx)
        return torch.autograd.grad(output.sum(), params)
    return call


def make_timer(device: torch.device, warmup_ms: float, rep_ms: float):
    """fn -> its median time per call in milliseconds: do_bench on CUDA, a wall clock on the CPU."""
    if device.type == "cuda":
        from triton.testing import do_bench
        return lambda fn: do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="median")

    def wall_clock(fn, calls: int = 3):
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e3
    return wall_clock


def persistent_eligible(config, dtype_name: str) -> bool:
    """cuDNN's persistent RNN algorithm runs in fp16 with B % 8 == 0 and H % 128 == 0."""
    batch, _, hidden = config
    return dtype_name == "fp16" and batch % 8 == 0 and hidden % 128 == 0


def bench_config(rnnlab, cell: str, config, dtype_names, device, timer, repeats: int, seed: int) -> list[dict]:
    """Rows (one per dtype) of errors and timings for one cell at one configuration."""
    batch, steps, hidden = config
    torch.manual_seed(seed)
    options = dict(nonlinearity="tanh") if cell == "rnn" else {}
    master = master_layer(rnnlab, cell, hidden, hidden, device, **options)
    xs = random_exact((steps, batch, hidden), device)
    states = [random_exact(shape, device) for shape in state_shapes(master, batch)]
    with torch.no_grad():
        reference, _ = master(xs, as_hx(states))
    rows = []
    for dtype_name in dtype_names:
        dtype = DTYPES[dtype_name]
        row = dict(cell=CELLS[cell], dtype=dtype_name, config=config, failures={}, error={}, time={}, ratio={})
        xs_d, hx_d = xs.to(dtype), as_hx([s.to(dtype) for s in states])
        modules = {}
        for name in IMPLEMENTATIONS:
            try:
                modules[name] = build(rnnlab, name, master, dtype)
                with torch.no_grad():
                    output, _ = modules[name](xs_d, hx_d)
                row["error"][name] = relative_error(output, reference)
            except Exception as error:  # reported in the table; the run goes on
                modules.pop(name, None)
                row["failures"][name] = "forward: " + describe(error)
                free_memory(device)
        for mode in MODES:
            calls = {}
            for name, module in modules.items():
                if name in row["failures"]:
                    continue
                try:
                    call = make_call(module, xs_d, hx_d, mode)
                    call(), call()  # warm-up: compilation, autotuning, cuDNN's plans, allocator
                    synchronize(device)  # an asynchronous CUDA error surfaces here, in this row
                    calls[name] = call
                except Exception as error:
                    row["failures"][name] = f"{mode}: " + describe(error)
                    free_memory(device)
            timings = {name: [] for name in calls}
            try:
                for repeat in range(repeats):
                    for name in (list(calls) if repeat % 2 == 0 else reversed(list(calls))):
                        timings[name].append(timer(calls[name]))
            except Exception as error:
                row["failures"]["timing"] = f"{mode}: " + describe(error)
                free_memory(device)
                continue
            for name, times in timings.items():
                row["time"][name, mode] = statistics.median(times) * 1e3 / steps  # ms per call -> µs per step
            if "triton" in timings and "torch.nn" in timings:
                row["ratio"][mode] = statistics.median(a / b for a, b in zip(timings["triton"], timings["torch.nn"]))
        del modules
        free_memory(device)
        rows.append(row)
    return rows


# -- report --------------------------------------------------------------------------------------


def table(rows: list[dict]) -> list[str]:
    columns = ["cell", "dtype", "(B,T,H)"]
    for mode in MODES:
        columns += [f"{mode} triton", f"{mode} torch.nn", f"{mode} native", f"{mode} triton/torch.nn"]
    columns += ["err triton", "err cuDNN (native)", "err torch.nn"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        mark = " ‡" if persistent_eligible(row["config"], row["dtype"]) else ""
        cells = [row["cell"], row["dtype"] + mark, "(" + ",".join(map(str, row["config"])) + ")"]
        for mode in MODES:
            for name in IMPLEMENTATIONS:
                value = row["time"].get((name, mode))
                cells.append(f"{value:.2f}" if value is not None else ("error" if name in row["failures"] else "—"))
            ratio = row["ratio"].get(mode)
            cells.append(f"{ratio:.2f}x" if ratio is not None else "—")
        for name in ("triton", "native", "torch.nn"):
            value = row["error"].get(name)
            cells.append(f"{value:.1e}" if value is not None else "error")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def failure_lines(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        where = f"{row['cell']} {row['dtype']} (" + ",".join(map(str, row["config"])) + ")"
        lines += [f"- {where} {name}: {text}" for name, text in row["failures"].items()]
    return ["## Failures", ""] + (lines or ["none"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Speed of rnnlab's Triton backend against cuDNN on the GPU, "
                                                 "per time step, and each one's error against float64.")
    add_selection_arguments(parser, "comma-separated among lstm,gru,rnn (default: all; the RNN runs at (64,500,256) "
                                    "only, --deepbench sizes run the LSTM only)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved rounds of timings (default 5; 3 with --quick)")
    parser.add_argument("--warmup-ms", type=float, default=10.0, help="do_bench's warm-up per timing, ms (default 10)")
    parser.add_argument("--rep-ms", type=float, default=50.0, help="do_bench's measuring time per timing, ms (default 50)")
    args = parser.parse_args(argv)
    args.repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    device = prepare_device(args, "layers_gpu.py")
    if device is None:
        return 2
    rnnlab = load_rnnlab(args.cpu_smoke)
    warnings.filterwarnings("ignore", message=".*not part of single contiguous chunk of memory.*")  # native's weights
    timer = make_timer(device, args.warmup_ms, args.rep_ms)

    clock = time.perf_counter()
    rows = []
    for config in select_configs(args):
        for cell in args.cells:
            if (cell == "rnn" and config not in RNN_CONFIGS) or (config in DEEPBENCH_CONFIGS and config not in CONFIGS
                                                                 and cell not in DEEPBENCH_CELLS):
                continue
            try:
                new = bench_config(rnnlab, cell, config, args.dtypes, device, timer, args.repeats, args.seed)
            except Exception as error:  # the float64 reference itself failed (out of memory, ...)
                free_memory(device)
                new = [dict(cell=CELLS[cell], dtype=d, config=config, failures={"reference": describe(error)},
                            error={}, time={}, ratio={}) for d in args.dtypes]
            for row in new:
                log(f"[{time.perf_counter() - clock:6.1f} s] " + table([row])[-1]
                    + "".join(f" [{name}: {text}]" for name, text in row["failures"].items()))
            rows += new

    report = environment_lines(device, "rnnlab Triton backend vs cuDNN, GPU", args.cpu_smoke) + [
        f"- method: one layer, I = H, time-major, random inputs and initial state; µs per time step (median time "
        f"of a call / T); {args.repeats} interleaved rounds (order reversed every other round) of "
        + ("a wall clock over 3 calls (CPU)" if args.cpu_smoke else
           f"triton.testing.do_bench(warmup={args.warmup_ms:g} ms, rep={args.rep_ms:g} ms, return_mode='median')")
        + " after 2 warm-up calls; medians over rounds; ratio = median of per-round ratios"
        + (" (--quick)" if args.quick else ""),
        "- forward: under torch.no_grad(); fwd+bwd: forward + backward of output.sum() w.r.t. the parameters",
        "- triton: rnnlab backend='triton'; torch.nn: torch.nn.<Cell> on cuDNN with its flat weight buffer (the "
        "reference to beat); native: rnnlab backend='native', cuDNN with unflattened weights (a copy per call)",
        "- err: ||out - ref|| / ||ref|| of the forward output, ref = backend='reference' in float64 on the same "
        "weights and input (all rounded to values every dtype holds exactly)",
        f"- duration: {time.perf_counter() - clock:.0f} s",
        "",
    ] + table(rows) + ["", "‡ fp16 with B % 8 == 0 and H % 128 == 0: cuDNN's persistent algorithm can run here, "
                       "so this row is cuDNN's best case.", ""] + failure_lines(rows)
    emit("\n".join(report) + "\n", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
