"""Model zoo side by side: every demo config trained for the same wall-clock budget on the sample data, then validated.

    python data/yt8m/make_sample_data.py                      # once: data/yt8m/sample/frame/
    python benchmarks/bench_zoo.py --seconds 120              # every configs/recognition/*/*_youtube8m_demo.yaml
    python benchmarks/bench_zoo.py --models NeXtVLAD DBoF --seconds 60
    python benchmarks/bench_zoo.py --configs configs/recognition/netvlad/netvlad_youtube8m_demo.yaml --seconds 30
    python benchmarks/bench_zoo.py --seconds 120 --output_dir output/zoo   # keep each model's run folder

The models run one after the other in this one process, each through the package's own training code
(:func:`paddlevideo.tasks.train.train_model`, what ``main.py`` runs) with the config's
``max_train_seconds`` budget set to ``--seconds`` and ``epochs`` raised to ``--max_epochs``, so the budget
is what stops training (mid-epoch if need be). The budget counts training steps only; no validation runs
during training. Every model gets the same data (the config's ``DATASET.train`` / ``valid`` files, the
sample data for every demo config), the same ``--workers`` DataLoader processes, the same seed and the same
OMP threads; batch size, optimizer and learning rate stay each config's own. Afterwards the trained model is
evaluated once on ``DATASET.valid`` with :func:`paddlevideo.tasks.evaluate.evaluate`.

``--models`` picks demo configs by backbone name (case-insensitive), so a new model's demo config is one
argument, e.g. ``--models HierarchicalAttention``. Per model one row: GAP, Hit@1, training videos/s
(videos trained on / seconds of training steps), parameters (:func:`paddlevideo.modeling.size.model_size`),
epochs begun and optimizer steps done, and the config path. Figures depend on the machine's load (recorded);
compare the rows of one run, not across runs.

Prints one JSON line (``grep '^{'``) followed by a table.
"""
from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

#: The video-level demo configs, relative to the repository root (``*_segment_demo.yaml`` trains on
#: segment-rated windows, another task, so it is not matched).
DEMO_GLOB = os.path.join("configs", "recognition", "*", "*_youtube8m_demo.yaml")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--models", nargs="+", default=None, metavar="BACKBONE",
                       help="backbone names whose demo configs to run (default: every demo config)")
    which.add_argument("--configs", nargs="+", default=None, metavar="YAML", help="config files to run")
    p.add_argument("--seconds", type=float, default=120.0, help="training wall-time budget per model (default 120)")
    p.add_argument("--max_epochs", type=int, default=1000,
                   help="epochs cap, high so that --seconds ends training (default 1000)")
    p.add_argument("--workers", type=int, default=1, help="DataLoader worker processes, all models (default 1)")
    p.add_argument("--threads", type=int, default=None, help="OMP threads (default: the environment's, else all cores)")
    p.add_argument("--output_dir", default=None,
                   help="keep each model's run folder (checkpoints, train.log) in <output_dir>/<model_name>; "
                        "default: a temporary folder, removed")
    p.add_argument("--override", action="append", default=[], metavar="KEY.SUB=VALUE",
                   help="config override applied to every model (main.py's -o)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the JSON result to this file")
    return p.parse_args(argv)


def _backbone_name(path: str) -> str:
    from paddlevideo.utils.config import load_config

    return str(load_config(path)["MODEL"]["backbone"]["name"])


def resolve_configs(models: list[str] | None, configs: list[str] | None, root: str = _common.ROOT) -> list[str]:
    """The config files to run: ``configs`` as given, else the demo configs of ``models`` (by backbone name,
    case-insensitive, in the order given), else every demo config (sorted).

    Raises:
        FileNotFoundError: a ``configs`` file is missing.
        ValueError: a model name has no demo config (the message lists the names that have one).
    """
    if configs:
        for c in configs:
            if not os.path.isfile(c):
                raise FileNotFoundError(f"config not found: {c}")
        return list(configs)
    demos = sorted(glob.glob(os.path.join(root, DEMO_GLOB)))
    if not models:
        return demos
    by_name: dict[str, list[str]] = {}
    for path in demos:
        by_name.setdefault(_backbone_name(path).lower(), []).append(path)
    out = []
    for m in models:
        if m.lower() not in by_name:
            raise ValueError(f"no demo config for model {m!r} under {os.path.join(root, DEMO_GLOB)}; "
                             f"models with one: {', '.join(sorted(_backbone_name(p) for p in demos))}")
        out += by_name[m.lower()]
    return out


def _shown_path(path: str) -> str:
    """``path`` relative to the repository when it lies inside it, else as given."""
    rel = os.path.relpath(os.path.abspath(path), _common.ROOT)
    return path if rel.startswith(os.pardir) else rel


def _quiet_logger(out_dir: str) -> None:
    """The package logger writes ``<out_dir>/train.log``; the console shows warnings only."""
    from paddlevideo.utils.logger import setup_logger

    logger = setup_logger(out_dir, 0)
    for h in logger.handlers:
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            h.setLevel(logging.WARNING)


def bench_config(path: str, args: argparse.Namespace, out_root: str) -> dict[str, Any]:
    """Train the model of ``path`` for ``args.seconds`` of training steps, validate it, return its row."""
    from paddlevideo.loader.builder import build_dataloader, build_dataset
    from paddlevideo.modeling.size import model_size
    from paddlevideo.tasks.config_check import check_components
    from paddlevideo.tasks.evaluate import build_metric, evaluate
    from paddlevideo.tasks.train import seed_everything, train_model
    from paddlevideo.utils.config import load_config

    cfg = load_config(path, [*args.override, f"epochs={args.max_epochs}", f"max_train_seconds={args.seconds}",
                             f"DATASET.num_workers={args.workers}"])
    check_components(cfg, source=path)
    out_dir = os.path.join(out_root, str(cfg["model_name"]))
    if os.path.exists(os.path.join(out_dir, "train.log")):
        raise ValueError(f"{out_dir} already holds a run (train.log); choose another --output_dir")
    cfg["output_dir"] = out_dir
    _quiet_logger(out_dir)
    seed_everything(args.seed)
    summary = train_model(cfg, validate=False)
    model = summary["model"]
    data_cfg = cfg["DATASET"]
    valid_bs = int(data_cfg.get("valid_batch_size", data_cfg.get("batch_size", 16)))
    valid_set = build_dataset(cfg, "valid")
    valid_set.set_batch_size(valid_bs)
    loader = build_dataloader(valid_set, valid_bs, args.workers)
    metric = build_metric(cfg, int(model.head.num_classes))
    t = time.perf_counter()
    metrics = evaluate(model, loader, metric, "valid", valid_set)
    size = model_size(model)
    return {"model_name": cfg["model_name"], "backbone": cfg["MODEL"]["backbone"]["name"],
            "config": _shown_path(path),
            "gap": metrics.get("gap"), "hit_at_one": metrics.get("hit_at_one"), "map": metrics.get("map"),
            "valid_videos": int(metrics["num_videos"]), "train_videos": int(summary["videos"]),
            "step_seconds": summary["step_seconds"],
            "videos_per_s": summary["videos"] / max(summary["step_seconds"], 1e-9),
            "parameters": size.parameters, "trainable": size.trainable, "epochs": summary["epochs_done"],
            "steps": summary["global_step"], "stopped_by_time": summary["stopped_by_time"],
            "valid_seconds": time.perf_counter() - t, "batch_size": int(data_cfg.get("batch_size", 16))}


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.seconds > 0:
        raise ValueError(f"--seconds must be > 0, got {args.seconds}")
    _common.prepare(args.threads)
    import paddle

    paddle.set_device("cpu")
    configs = resolve_configs(args.models, args.configs)
    if not configs:
        raise FileNotFoundError(f"no demo configs found ({DEMO_GLOB})")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_zoo_") as tmp:
        out_root = args.output_dir or tmp
        for path in configs:
            rows.append(bench_config(path, args, out_root))
    result = {"seconds_per_model": args.seconds, "workers": args.workers, "seed": args.seed,
              "overrides": args.override, "machine": _common.machine_info("cpu"), "results": rows}
    table = [[r["model_name"], r["gap"], r["hit_at_one"], r["videos_per_s"], f"{r['parameters']:,}",
              r["epochs"], r["steps"], r["config"]] for r in rows]
    header = ["model", "GAP", "Hit@1", "videos/s", "parameters", "epochs", "steps", "config"]
    notes = [f"{args.seconds:g} s of training steps per model, {args.workers} loader worker(s), seed {args.seed}, "
             f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load average "
             f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end; validated on "
             f"{rows[0]['valid_videos'] if rows else 0} videos. 'epochs' counts the last, partial one."]
    _common.emit("bench_zoo", result, table, header, args.json, notes)
    return 0


if __name__ == "__main__":
    sys.exit(_common.run_main(main))
