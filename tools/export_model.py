"""Export a trained model for Paddle Inference (PIR ``.json`` + ``.pdiparams`` + ``.inference.yaml``).

    python tools/export_model.py -c configs/recognition/attention_lstm/attention_lstm_youtube8m.yaml \
        -p data/AttentionLSTM_yt8.pdparams -o inference/AttentionLSTM
    python tools/export_model.py -c CONFIG -p WEIGHTS -o OUT --onnx          # also OUT/<model_name>.onnx
    python tools/export_model.py -c CONFIG -p WEIGHTS -o OUT --override MODEL.head.num_classes=100
    python tools/export_model.py -c CONFIG --random_weights -o OUT           # untrained model, for benchmarks
    python tools/export_model.py -c CONFIG -p WEIGHTS -o OUT --precision fp16  # float16 weights (half the size)

``-p`` takes this package's checkpoints and PaddleVideo's AttentionLSTM ``.pdparams`` (renamed on load); without
it the tool refuses, unless ``--random_weights`` asks for the untrained model. As in PaddleVideo, ``-o`` is the
output directory (in ``main.py`` it overrides a config key); config overrides here use ``--override``.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (PaddleVideo's ``-c``, ``-p``, ``-o``; see ``--help``)."""
    p = argparse.ArgumentParser(
        description="Export a YouTube-8M video classifier for Paddle Inference.",
        epilog="Note: as in PaddleVideo, -o here is the OUTPUT DIRECTORY, not a config override as in main.py. "
               "To override config keys use --override KEY.SUB=VALUE (repeatable), e.g. "
               "--override MODEL.head.num_classes=100.")
    p.add_argument("-c", "--config", required=True, help="YAML config the model was trained with")
    p.add_argument("-p", "--pretrained_params", "-w", "--weights", dest="weights", default=None,
                   help=".pdparams to export (this package's or PaddleVideo's); required unless --random_weights")
    p.add_argument("--random_weights", action="store_true",
                   help="export the randomly initialised model without -p (for benchmarks and tests only)")
    p.add_argument("-o", "--output_path", default="inference",
                   help="OUTPUT DIRECTORY (PaddleVideo's meaning, default: inference); "
                        "config overrides use --override")
    p.add_argument("--override", action="append", default=[], metavar="KEY.SUB=VALUE",
                   help="override a config key (repeatable); the value is parsed as YAML (main.py's -o)")
    p.add_argument("--onnx", action="store_true", help="also write <model_name>.onnx (needs paddle2onnx, onnx)")
    p.add_argument("--onnx_opset", type=int, default=17, help="ONNX opset version (default 17)")
    p.add_argument("--precision", default="fp32", metavar="{fp32,fp16}",
                   help="dtype the weights are stored in (default fp32). fp16 halves the .pdiparams; the program "
                        "still computes in float32, so the CPU predictor runs it (docs/inference.md)")
    p.add_argument("--verbose", action="store_true", help="keep Paddle's log lines; print tracebacks")
    return p.parse_args(argv)


def _export(args: argparse.Namespace) -> int:
    from paddlevideo.inference.export import EXPORT_PRECISIONS, export_model
    from paddlevideo.utils.config import load_config

    if args.precision not in EXPORT_PRECISIONS:
        raise ValueError(f"--precision {args.precision!r} is not one of {', '.join(EXPORT_PRECISIONS)}")
    if args.weights is None and not args.random_weights:
        raise ValueError("no weights given: pass the trained .pdparams with -p (or --random_weights to export an "
                         "untrained model on purpose)")
    if args.weights is not None and args.random_weights:
        raise ValueError("-p and --random_weights contradict each other; give one of them")
    cfg = load_config(args.config, args.override)
    result = export_model(cfg, args.output_path, weights=args.weights, onnx=args.onnx, onnx_opset=args.onnx_opset,
                          precision=args.precision)
    print(f"model:       {result.model_file}")
    print(f"params:      {result.params_file}")
    print(f"description: {result.meta_file}")
    if result.onnx_file:
        print(f"onnx:        {result.onnx_file}")
    meta = result.meta
    print(f"inputs {meta['input_names']} ({meta['input_dtypes']}), output probabilities [batch, "
          f"{meta['num_classes']}]; reloaded program matches the eager model (max diff "
          f"{result.self_check_max_abs_diff:.2g})")
    print(result.describe_size())
    return 0


def main(argv=None) -> int:
    """Export the model of ``-c`` with the weights of ``-p`` to ``-o``; returns the exit code (2 for a user
    mistake, with one ``error:`` line)."""
    args = parse_args(argv)
    from paddlevideo.utils.quiet import quiet_paddle

    quiet_paddle(args.verbose)
    from paddlevideo.inference.cli import run_tool

    return run_tool(_export, args)


if __name__ == "__main__":
    sys.exit(main())
