"""Train or evaluate a video model from a YAML config.

    python main.py -c configs/recognition/attention_lstm/attention_lstm_youtube8m_demo.yaml --validate
    python main.py -c CONFIG --test -w output/AttentionLSTM/AttentionLSTM_best.pdparams
    python -m paddle.distributed.launch --nproc_per_node 2 main.py -c CONFIG --validate
    python main.py -c CONFIG --validate --resume          # continue from the last complete checkpoint
    python main.py -c CONFIG --validate --overwrite       # new run; the old one moves to <output_dir>.replaced-<time>
"""
from __future__ import annotations

import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train or test a YouTube-8M video classifier.")
    p.add_argument("-c", "--config", required=True, help="YAML config file")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY.SUB=VALUE",
                   help="override a config key (repeatable); the value is parsed as YAML")
    p.add_argument("--validate", action="store_true", help="evaluate on DATASET.valid after every epoch")
    p.add_argument("--test", action="store_true", help="evaluate the weights given by -w and exit")
    p.add_argument("-w", "--weights", default=None, help=".pdparams to test, or to start training from")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last complete checkpoint in output_dir (or -o resume_epoch=N)")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in an output_dir that holds an earlier one; the earlier run's files are "
                        "moved to <output_dir>.replaced-<time>/ (nothing is deleted). Without it such a run is "
                        "refused")
    p.add_argument("--label_file", default=None,
                   help="with --test: YouTube-8M vocabulary.csv (columns Index, Name) for the class names in "
                        "test_per_class_ap.csv")
    p.add_argument("--amp", action="store_true", help="mixed precision on GPU (a no-op on CPU)")
    p.add_argument("--amp_level", default="O1", choices=["O1", "O2"], help="AMP level (with --amp)")
    p.add_argument("--seed", type=int, default=None, help="random seed (overrides the config's seed)")
    p.add_argument("--device", default="auto", help="cpu, gpu or auto (gpu when available)")
    p.add_argument("--verbose", action="store_true", help="keep Paddle's own log lines and warnings")
    p.add_argument("--use_visualdl", action="store_true",
                   help="write loss, lr and validation metrics to <output_dir>/vdl for VisualDL (pip install visualdl)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from paddlevideo.utils.quiet import quiet_paddle

    quiet_paddle(args.verbose)
    from paddlevideo.tasks.cli import run_cli

    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
