"""Validation GAP at equal wall-clock training time: several configs trained side by side, epoch by epoch.

    python benchmarks/bench_gap_at_time.py        # AttentionLSTM demo (reference) vs HierarchicalAttention demo
    python benchmarks/bench_gap_at_time.py --configs A.yaml B.yaml --out_dir output/gap_at_time --json gap.json

Every config is trained with ``main.py --validate`` on its own data (the demo configs: the sample data of
``data/yt8m/make_sample_data.py``), one epoch per call (``-o epochs=E --resume``: the run continues from its
checkpoint, so E calls give the same run as one call with ``epochs: E``). The epochs interleave: the next epoch
always goes to the config with the least training time so far, so all configs see the same machine load. The
training time of an epoch is the one ``main.py`` logs (``epoch E done: ... in S s``): the training loop alone,
without start-up and validation.

The first config is the reference: it trains its config's ``epochs`` (or ``--ref_epochs``); its total training
time is the budget. The others train while their time stays within the budget (at most ``--max_epochs``).
Reported per config: every epoch's cumulative time and validation GAP, the GAP of the last epoch within the
budget and the best GAP within it (the checkpoint ``main.py`` keeps as ``<model_name>_best.pdparams``), and the
load average.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIGS = ["configs/recognition/attention_lstm/attention_lstm_youtube8m_demo.yaml",
                   "configs/recognition/hierarchical_attention/hierarchical_attention_youtube8m_demo.yaml"]
DONE = re.compile(r"epoch (\d+) done: \d+ steps, \d+ videos in ([0-9.]+)s")
VALID = re.compile(r"\[valid\] epoch (\d+): Hit@1 ([0-9.]+)\s+PERR ([0-9.]+)\s+GAP ([0-9.]+)")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="the first is the reference")
    p.add_argument("--out_dir", default="output/gap_at_time", help="one run folder per config below it")
    p.add_argument("--ref_epochs", type=int, default=None,
                   help="epochs of the reference (default: its config's epochs); sets the time budget")
    p.add_argument("--max_epochs", type=int, default=30, help="epoch cap of the non-reference configs")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed for one epoch's call")
    p.add_argument("--json", default=None, help="also write the JSON result here")
    return p.parse_args(argv)


def _epoch(config: str, epoch: int, out_dir: str, timeout: float) -> dict:
    """Train epoch ``epoch`` of ``config`` into ``out_dir`` (resuming from epoch - 1); its time and metrics."""
    cmd = [sys.executable, os.path.join(ROOT, "main.py"), "-c", config, "--validate", "-o", f"epochs={epoch}",
           "-o", f"output_dir={out_dir}"] + (["--resume"] if epoch > 1 else [])
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed with exit code {r.returncode}: "
                         f"{(r.stderr.strip().splitlines() or ['(no stderr)'])[-1]}")
    text = r.stdout + r.stderr
    done = [m for m in DONE.finditer(text) if int(m.group(1)) == epoch]
    valid = [m for m in VALID.finditer(text) if int(m.group(1)) == epoch]
    if not done or not valid:
        raise SystemExit(f"error: {config}: no 'epoch {epoch} done' / '[valid] epoch {epoch}' line in main.py's log")
    return {"epoch": epoch, "train_s": float(done[-1].group(2)), "hit_at_one": float(valid[-1].group(2)),
            "perr": float(valid[-1].group(3)), "gap": float(valid[-1].group(4)),
            "loadavg": [round(x, 2) for x in os.getloadavg()]}


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, ROOT)
    from paddlevideo.utils.config import load_config

    configs = [os.path.abspath(c) for c in args.configs]
    names = [str(load_config(c)["model_name"]) for c in configs]
    ref_epochs = args.ref_epochs or int(load_config(configs[0]).get("epochs", 1))
    runs = {n: [] for n in names}
    spent = dict.fromkeys(names, 0.0)
    active = set(names)
    started = time.time()
    load_start = [round(x, 2) for x in os.getloadavg()]
    while active:
        name = min(active, key=lambda n: (spent[n], names.index(n)))
        i = names.index(name)
        row = _epoch(configs[i], len(runs[name]) + 1, os.path.join(args.out_dir, name), args.timeout)
        spent[name] += row["train_s"]
        row["cum_train_s"] = round(spent[name], 2)
        runs[name].append(row)
        print(f"# {name} epoch {row['epoch']}: {row['train_s']:.1f} s (total {spent[name]:.1f} s), "
              f"GAP {row['gap']:.4f}, load {row['loadavg'][0]}", file=sys.stderr, flush=True)
        if i == 0 and len(runs[name]) >= ref_epochs:
            active.discard(name)
        elif i > 0 and (len(runs[name]) >= args.max_epochs
                        or (names[0] not in active and spent[name] >= spent[names[0]])):
            active.discard(name)
    budget = spent[names[0]]
    summary = []
    for name in names:
        within = [r for r in runs[name] if r["cum_train_s"] <= budget]
        summary.append({"model_name": name, "epochs_within_budget": len(within),
                        "train_s_within_budget": within[-1]["cum_train_s"] if within else 0.0,
                        "gap_last": within[-1]["gap"] if within else float("nan"),
                        "gap_best": max((r["gap"] for r in within), default=float("nan")), "epochs": runs[name]})
    result = {"budget_s": round(budget, 2), "configs": args.configs, "results": summary,
              "wall_s": round(time.time() - started, 1), "loadavg_at_start": load_start,
              "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count()}
    line = json.dumps(result)
    print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(line + "\n")
    print(f"budget: {budget:.1f} s of training (the reference {names[0]}, {ref_epochs} epochs); "
          f"load {load_start} at the start, {result['loadavg_at_end']} at the end")
    print(f"{'model':<28}{'epochs':>7}{'train s':>9}{'GAP last':>10}{'GAP best':>10}")
    for s in summary:
        print(f"{s['model_name']:<28}{s['epochs_within_budget']:>7}{s['train_s_within_budget']:>9.1f}"
              f"{s['gap_last']:>10.4f}{s['gap_best']:>10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
