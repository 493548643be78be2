"""Turn a training log into a PNG of loss and the validation metrics per epoch.

    python tools/plot_log.py output/AttentionLSTM_demo/train.log   # -> output/AttentionLSTM_demo/train_log.png
    python tools/plot_log.py output/AttentionLSTM_demo/train.log -o curves.png --title "demo run"

Reads the ``train.log`` that ``main.py`` writes to ``output_dir`` (rank 0): the step lines (loss, lr) and
the ``[valid]`` lines of ``--validate`` (every metric the config's ``METRIC`` declares, e.g. Hit@1, PERR,
GAP, mAP, and the validation loss; the best epoch is marked by the key the log names for the best
checkpoint, e.g. ``best checkpoint by GAP (max)``). Runs resumed with
``--resume`` continue their run; a log that holds several separate runs (appended by older versions of
``main.py``) is never merged: the last run is plotted, ``--run N`` picks another.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description="Plot loss and validation metrics per epoch from a main.py training log.")
    p.add_argument("log", help="train.log written by main.py")
    p.add_argument("-o", "--output", default=None, help="PNG to write (default: <log without .log>_log.png)")
    p.add_argument("--title", default=None, help="figure title (default: the log's path)")
    p.add_argument("--run", type=int, default=-1,
                   help="when the log holds several runs, the one to plot (1 = first; default: the last)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Parse the log and write the PNG; exit code 0, or 2 with one ``error:`` line (missing file, no log lines)."""
    args = parse_args(argv)
    from paddlevideo.visualization.training_log import parse_training_log, plot_training_log

    try:
        log = parse_training_log(args.log, run=args.run)
        out = args.output or os.path.splitext(args.log)[0] + "_log.png"
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        plot_training_log(log, out, args.title if args.title is not None else args.log)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    best = log.best_epoch()
    name = log.names.get(log.best_key, log.best_key)
    if log.runs > 1:
        print(f"{args.log} holds {log.runs} separate runs; plotted run {log.run} only (--run N picks another)")
    print(f"{out}: {len(log.epoch_loss())} epoch(s) of training loss"
          + (f", validation {name} of {len(log.valid)} epoch(s), best {log.valid[best][log.best_key]:.4f} at epoch "
             f"{best} ({log.best_mode})" if best is not None else ", no validation lines"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
