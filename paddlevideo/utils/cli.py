"""What ``main.py`` runs: config, logging, device and seed set-up, then training or testing.

User mistakes (bad config, missing files, corrupt data, bad checkpoints) end as one line on stderr
and exit code 2, never a traceback; a loss that became NaN/Inf ends the same way with exit code 3;
``--verbose`` shows the traceback too.
"""
from __future__ import annotations

import argparse
import sys
import traceback

from ..loader.yt8m import CorruptRecordError
from .checkpoint import CheckpointError
from .config import ConfigError, load_config


def run_cli(args: argparse.Namespace) -> int:
    """Run ``main.py`` with parsed arguments; returns the process exit code."""
    from ..tasks.loop import TrainingDiverged

    try:
        return _run(args)
    except TrainingDiverged as e:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 3
    except (ConfigError, CheckpointError, CorruptRecordError, FileNotFoundError, KeyError, ValueError) as e:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from ..tasks.train import output_dir_of, seed_everything, test_model, train_model
    from .dist import rank as dist_rank
    from .dist import set_device, world_size
    from .logger import setup_logger

    cfg = load_config(args.config, args.override)
    from ..tasks.config_check import check_components
    from .config import overridden_keys

    check_components(cfg, source=args.config, overridden=overridden_keys(args.override))
    if args.test and not args.weights:
        raise ConfigError("--test needs the weights to evaluate: -w PATH.pdparams")
    rank = dist_rank()
    logger = setup_logger(output_dir_of(cfg), rank, filename="test.log" if args.test else "train.log")
    device = set_device(args.device)
    seed = args.seed if args.seed is not None else int(cfg.get("seed", 1234))
    seed_everything(seed)
    logger.info(f"config {args.config}  device {device}  processes {world_size()}  seed {seed}")
    if args.test:
        test_model(cfg, args.weights)
    else:
        train_model(cfg, validate=args.validate, weights=args.weights, resume=getattr(args, "resume", False),
                    amp=getattr(args, "amp", False), amp_level=getattr(args, "amp_level", "O1"),
                    use_visualdl=getattr(args, "use_visualdl", False))
    return 0
