"""Draw where an attention model looked in a video: its attention weights over the frames, as a PNG.

    python tools/visualize_attention.py -c configs/recognition/attention_lstm/attention_lstm_youtube8m_demo.yaml \
        -w output/AttentionLSTM_demo/AttentionLSTM_demo_best.pdparams --input_file \
        data/yt8m/sample/frame/sample_validate0000.tfrecord
    python tools/visualize_attention.py -c CONFIG -w WEIGHTS --input_file data/example.pkl --label_file vocabulary.csv

AttentionLSTM and HierarchicalAttention: one curve per modality over time. AttentionCluster: a units x frames
heat map per modality. Any backbone that implements ``attention_weights`` works (docs/contributing.md).
Beside the plot: the video's top-k predictions (names from ``--label_file``) and its true labels.
Writes ``<output_dir>/<model_name>_<video id>_attention.png`` for each of the first ``--max_videos`` videos of
the input.
``--input_file`` takes what ``tools/predict.py`` takes (pkl, tfrecord, list file, directory or glob).
"""
from __future__ import annotations

import argparse
import itertools
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see the module docstring); argparse exits with code 2 on bad flags."""
    p = argparse.ArgumentParser(description="Plot an attention model's weights over a video's frames.")
    p.add_argument("-c", "--config", required=True, help="YAML config the model was trained with")
    p.add_argument("-w", "--weights", required=True, help="trained .pdparams")
    p.add_argument("-i", "--input_file", required=True, help="pkl, tfrecord, list file, directory or glob")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY.SUB=VALUE",
                   help="override a config key (repeatable); the value is parsed as YAML")
    p.add_argument("--output_dir", default="output/attention", help="where the PNGs go (default output/attention)")
    p.add_argument("--max_videos", type=int, default=1, help="plot the first N videos of the input (default 1)")
    p.add_argument("--max_frames", type=int, default=None,
                   help="frames kept per video (default: INFERENCE.max_frames of the config, else 300)")
    p.add_argument("--top_k", type=int, default=5, help="predicted classes listed beside the plot")
    p.add_argument("--label_file", default=None, help="YouTube-8M vocabulary.csv (columns Index, Name)")
    p.add_argument("--verbose", action="store_true", help="keep Paddle's log lines; print tracebacks")
    return p.parse_args(argv)


def _visualize(args: argparse.Namespace) -> int:
    """Build the model, read the first ``--max_videos`` videos, write one PNG each; returns 0.

    Raises (turned into one ``error:`` line by ``run_tool``): ConfigError, CheckpointError, FileNotFoundError,
    CorruptRecordError, ValueError (bad flags, no videos, a video without frames, a model without attention),
    OSError (an unreadable input, a symlink loop, an output directory that cannot be written).
    """
    from paddlevideo.inference.export import build_eval_model
    from paddlevideo.inference.inputs import iter_input_records
    from paddlevideo.inference.results import load_label_names
    from paddlevideo.utils.config import load_config
    from paddlevideo.visualization.attention import attention_summary, compute_attention, plot_attention

    if args.max_videos < 1 or args.top_k < 1:
        raise ValueError("--max_videos and --top_k must be >= 1")
    cfg = load_config(args.config, args.override)
    max_frames = args.max_frames or int((cfg.get("INFERENCE") or {}).get("max_frames", 300))
    labels = load_label_names(args.label_file) if args.label_file else None
    model = build_eval_model(cfg["MODEL"], args.weights)
    dims = list(model.backbone.feature_dims)
    # min_frames=1: a video without frames has no attention to draw; one line naming file and video
    records = [rec for _, rec in itertools.islice(iter_input_records(args.input_file, model.feature_names, dims,
                                                                     min_frames=1), args.max_videos)]
    if not records:
        raise ValueError(f"{args.input_file}: no videos found")
    os.makedirs(args.output_dir, exist_ok=True)
    for result in compute_attention(model, records, max_frames):
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", result.video_id) or "video"
        name = f"{cfg['model_name']}_{safe}_attention.png"
        path = plot_attention(result, os.path.join(args.output_dir, name), args.top_k, labels,
                              title=f"{cfg['model_name']}: video {result.video_id}")
        peaks = ", ".join(f"{k} peak at frame {v['peak_frame']}" for k, v in attention_summary(result).items()
                          if isinstance(v, dict))
        print(f"{path}  ({peaks})")
    return 0


def main(argv=None) -> int:
    """Entry point: exit code 0, or 2 with one ``error:`` line for a user mistake."""
    args = parse_args(argv)
    from paddlevideo.utils.quiet import quiet_paddle

    quiet_paddle(args.verbose)
    from paddlevideo.inference.cli import run_tool

    return run_tool(_visualize, args)


if __name__ == "__main__":
    sys.exit(main())
