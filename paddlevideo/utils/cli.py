"""What ``main.py`` runs: config, logging, device and seed set-up, then training or testing.

User mistakes (bad config, missing files, corrupt data, bad checkpoints) end as one line on stderr
and exit code 2, never a traceback; ``--verbose`` shows the traceback too.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from ..loader.yt8m import CorruptRecordError
from .checkpoint import CheckpointError
from .config import ConfigError, load_config


def run_cli(args: argparse.Namespace) -> int:
    """Run ``main.py`` with parsed arguments; returns the process exit code."""
    try:
        return _run(args)
    except (ConfigError, CheckpointError, CorruptRecordError, FileNotFoundError, KeyError, ValueError) as e:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from ..tasks.train import output_dir_of, seed_everything, test_model, train_model
    from .dist import set_device
    from .logger import setup_logger
    from .dist import world_size

    cfg = load_config(args.config, args.override)
    if args.test and not args.weights:
        raise ConfigError("--test needs the weights to evaluate: -w PATH.pdparams")
    rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
    logger = setup_logger(output_dir_of(cfg), rank, filename="test.log" if args.test else "train.log")
    device = set_device(args.device)
    seed = args.seed if args.seed is not None else int(cfg.get("seed", 1234))
    seed_everything(seed)
    logger.info(f"config {args.config}  device {device}  processes {world_size()}  seed {seed}")
    if args.test:
        test_model(cfg, args.weights)
    else:
        train_model(cfg, validate=args.validate, weights=args.weights)
    return 0
