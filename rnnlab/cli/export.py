"""`rnnlab export DIR --format onnx`: write a trained run's model in a format other runtimes load."""

from __future__ import annotations

FORMATS = ("onnx",)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a trained run's model (ONNX)",
        description="Write the network of a finished run as an ONNX model with named inputs and dynamic batch and "
                    "time axes, for onnxruntime and other ONNX runtimes. The graph is the network only: scaling, "
                    "tokenizing and decoding stay with the run's config.json. A translate run gives two files, "
                    "<name>.encoder.onnx and <name>.decoder.onnx (one decoding step).")
    parser.add_argument("run_dir", metavar="DIR", help="a run directory written by `rnnlab train`")
    # not argparse choices: a bad format is then one line on stderr, as every other bad input
    parser.add_argument("--format", default="onnx", metavar="FORMAT",
                        help=f"the format to write, one of {', '.join(FORMATS)} (default: onnx)")
    parser.add_argument("--out", default=None, metavar="FILE", help="the file to write (default: DIR/model.onnx)")
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}; received {args.format!r}")
    try:  # optional dependencies: imported only when exporting
        from rnnlab.interop.onnx_runs import export_run
    except ImportError as error:
        raise ValueError(f"--format onnx needs the packages onnx and onnxscript ({error.name} is missing): "
                         "pip install onnx onnxscript") from None
    for path in export_run(args.run_dir, args.out):
        print(path)
    return 0
