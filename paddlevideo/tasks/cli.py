"""What ``main.py`` runs: config, run folder, logging, device and seed set-up, then training or testing.

User mistakes (bad config, missing files, corrupt data, bad checkpoints, a busy or already used run folder)
end as one line on stderr and exit code 2, never a traceback (the guard shared with the tools,
:func:`paddlevideo.utils.cli.run_guarded`); so does a file-system error such as a full disk (ENOSPC),
which names the file and the last complete checkpoint, kept as it was. A loss that became NaN/Inf ends
the same way with exit code 3; ``--verbose`` shows the traceback too.
"""
from __future__ import annotations

import argparse
import errno
from typing import Any

from ..utils.cli import run_guarded
from ..utils.config import ConfigError, load_config, overridden_keys


def run_cli(args: argparse.Namespace) -> int:
    """Run ``main.py`` with parsed arguments; returns the process exit code (0, 2 or 3). The run folder's
    lock is released however the run ends."""
    state: dict[str, Any] = {}
    try:
        return run_guarded(lambda a: _run(a, state), args, lambda e: describe_os_error(e, state.get("cfg")))
    finally:
        lock = state.get("lock")
        if lock is not None:
            lock.release()


def describe_os_error(e: OSError, cfg: Any = None) -> str:
    """One line for a file-system error: what failed on which file, and for a full disk or quota, which
    complete checkpoint of the run is kept (the files are written atomically, so none is half-written)."""
    what = e.strerror or str(e)
    where = e.filename if e.filename is not None else "a file"
    line = f"{where}: {what}"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        line = f"disk full while writing {where} ({what}); nothing already written was changed"
        if cfg is not None:
            try:
                from .checkpointing import checkpoint_prefix, latest_epoch

                epoch = latest_epoch(cfg)
                line += (f"; the last complete checkpoint is {checkpoint_prefix(cfg, epoch)}.pdparams (resume from "
                         f"it with --resume once there is space)" if epoch else "; no complete checkpoint yet")
            except Exception:  # the message must not fail on top of the error it reports
                pass
    return line


def _run(args: argparse.Namespace, state: dict[str, Any]) -> int:
    from ..utils.dist import rank as dist_rank
    from ..utils.dist import set_device, world_size
    from ..utils.logger import setup_logger
    from ..utils.rundir import RunLock, check_output_dir, prepare_run_dir
    from .config_check import check_components
    from .train import output_dir_of, seed_everything, test_model, train_model

    cfg = load_config(args.config, args.override)
    check_components(cfg, source=args.config, overridden=overridden_keys(args.override))
    state["cfg"] = cfg
    if args.test and not args.weights:
        raise ConfigError("--test needs the weights to evaluate: -w PATH.pdparams")
    label_file = getattr(args, "label_file", None)
    if label_file and not args.test:
        raise ConfigError("--label_file names the classes in the --test report; use it with --test")
    labels = None
    if label_file:
        from ..inference.results import load_label_names

        labels = load_label_names(label_file)
    out_dir = output_dir_of(cfg)
    check_output_dir(out_dir)
    rank = dist_rank()
    resume = bool(getattr(args, "resume", False)) or cfg.get("resume_epoch") is not None
    moved = None
    if not args.test and rank == 0:
        state["lock"] = RunLock(out_dir).acquire()
        moved = prepare_run_dir(out_dir, resume=resume, overwrite=bool(getattr(args, "overwrite", False)))
    logger = setup_logger(out_dir, rank, filename="test.log" if args.test else "train.log")
    if moved:
        logger.info(f"--overwrite: the earlier run in {out_dir} was moved to {moved}")
    device = set_device(args.device)
    seed = args.seed if args.seed is not None else int(cfg.get("seed", 1234))
    seed_everything(seed)
    logger.info(f"config {args.config}  device {device}  processes {world_size()}  seed {seed}")
    if args.test:
        test_model(cfg, args.weights, label_names=labels)
    else:
        train_model(cfg, validate=args.validate, weights=args.weights, resume=getattr(args, "resume", False),
                    amp=getattr(args, "amp", False), amp_level=getattr(args, "amp_level", "O1"),
                    use_visualdl=getattr(args, "use_visualdl", False))
    return 0
