"""`rnnlab generate DIR --prompt TEXT`: continue a prompt with a trained language model (a `generate` run)."""

from __future__ import annotations

from rnnlab.tasks.registry import get_estimator


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate", help="sample text from a trained language model",
        description="Print the prompt followed by a sampled continuation. The same --seed gives the same text; "
                    "--temperature 0 is greedy decoding (always the most probable next token).")
    parser.add_argument("run_dir", metavar="DIR", help="a run directory written by `rnnlab train generate`")
    parser.add_argument("--prompt", required=True, help="the text to continue")
    parser.add_argument("--length", type=int, default=None,
                        help="tokens to generate (default: 300 characters, or 60 words for a word-level run)")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="divides the logits: < 1 is safer, > 1 more varied, 0 greedy (default: 0.8)")
    parser.add_argument("--top-k", type=int, default=0,
                        help="sample among the k most probable tokens (default: 0, off)")
    parser.add_argument("--top-p", type=float, default=1.0,
                        help="sample within the smallest set of tokens holding this probability (default: 1, off)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the sampling (default: 0)")
    parser.set_defaults(run=run)


def run(args) -> int:
    model = get_estimator("generate").load(args.run_dir)
    print(model.generate(args.prompt, length=args.length, temperature=args.temperature, top_k=args.top_k,
                         top_p=args.top_p, seed=args.seed))
    return 0
