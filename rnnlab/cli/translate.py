"""`rnnlab translate DIR "sentence" ...`: translate sentences with a trained translation run."""

from __future__ import annotations

from rnnlab.tasks.registry import get_estimator


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("translate", help="translate sentences with a trained translation run",
                                   description="Translate each SENTENCE with the run in DIR (written by `rnnlab "
                                               "train translate`) and print one translation per line.")
    parser.add_argument("run_dir", metavar="DIR", help="a run directory written by `rnnlab train translate`")
    parser.add_argument("sentences", metavar="SENTENCE", nargs="+", help="a sentence in the source language")
    parser.add_argument("--beam", type=int, default=None, metavar="N",
                        help="beam width (1: greedy decoding; default: the run's beam_size)")
    parser.add_argument("--show-score", action="store_true",
                        help="after each translation, a tab and its log-probability under the model")
    parser.set_defaults(run=run)


def run(args) -> int:
    translator = get_estimator("translate").load(args.run_dir)
    for translation, score in translator.translate(args.sentences, beam_size=args.beam, return_scores=True):
        print(f"{translation}\t{score:.4f}" if args.show_score else translation)
    return 0
