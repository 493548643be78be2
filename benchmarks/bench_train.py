"""Training benchmark: videos/s of the real training step against the compute floor measured in the same run.

    python benchmarks/bench_train.py                 # AttentionLSTM + AttentionCluster, full and small sizes
    python benchmarks/bench_train.py --small         # small sizes only (a few minutes on 2 cores)
    python benchmarks/bench_train.py --models AttentionLSTM --sizes full --steps 4

For every (model, size) the script builds the model, optimizer, dataset and DataLoader from the config in
``configs/recognition/`` (full = the YouTube-8M config, small = its ``_demo`` config), pointed at synthetic
shards with YouTube-8M shapes (uint8 codes, ~218 frames per video, up to 300; see ``_common``), and times:

* **full step** -- exactly the loop of ``paddlevideo/tasks/train.py``: next batch from the DataLoader
  (``--workers`` processes), ``forward(batch, "train")``, ``backward``, ``optimizer.step`` +
  ``clear_grad`` (+ LR scheduler), and ``loss.item()`` only every ``log_interval`` steps. It is split into
  ``data_wait`` (blocked on the loader), ``fwd_bwd``, ``optimizer`` and ``metric`` (0: the training path
  updates no metric; ``metric_update_if_enabled_s`` is what one streaming-metric update would add);
* **compute floor** -- the same model and the *same batches* (kept from the full steps, pre-made tensors
  on the device, no loader): ``fwd_bwd`` alone (``floor_fwd_bwd``) and with the optimizer (``floor``).

``efficiency = floor / full step`` (sum over the same batches), and ``efficiency_fwd_bwd`` with the
floor without the optimizer. Phases run A (full steps) then B (floor) for ``--rounds`` rounds, so both
see similar machine load; the load average is recorded. On GPU every phase boundary synchronises the
device (``paddle.device.synchronize``), which the real loop does not do.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

CONFIGS = {
    ("AttentionLSTM", "full"): "configs/recognition/attention_lstm/attention_lstm_youtube8m.yaml",
    ("AttentionLSTM", "small"): "configs/recognition/attention_lstm/attention_lstm_youtube8m_demo.yaml",
    ("AttentionCluster", "full"): "configs/recognition/attention_cluster/attention_cluster_youtube8m.yaml",
    ("AttentionCluster", "small"): "configs/recognition/attention_cluster/attention_cluster_youtube8m_demo.yaml",
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_common_args(p)
    p.add_argument("--models", default="AttentionLSTM,AttentionCluster")
    p.add_argument("--sizes", default=None, help="comma-separated: full,small (default both; --small: small)")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--threads", type=int, default=None, help="OMP threads of the compute (default: all cores)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps per phase (default: 3 for full AttentionLSTM, 20 otherwise)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--rounds", type=int, default=None, help="A/B rounds (default 1 for full AttentionLSTM, 2 otherwise)")
    p.add_argument("--log_interval", type=int, default=None, help="default: the config's")
    p.add_argument("--bucket_window", type=int, default=0, help="length bucketing window in batches (0 = off)")
    p.add_argument("--data_dir", default=None)
    return p.parse_args(argv)


def _build(model_name: str, size: str, args, files: List[str]):
    import paddle

    from paddlevideo.loader.builder import build_dataloader, build_dataset
    from paddlevideo.modeling import build_model
    from paddlevideo.solver import build_optimizer
    from paddlevideo.utils.config import load_config

    cfg = load_config(os.path.join(_common.ROOT, CONFIGS[(model_name, size)]))
    paddle.seed(args.seed)
    model = build_model(cfg["MODEL"])
    model.train()
    optimizer, scheduler, iter_step = build_optimizer(cfg["OPTIMIZER"], model.parameters())
    data_cfg = copy.deepcopy(dict(cfg))
    train_cfg = dict(data_cfg["DATASET"]["train"])
    train_cfg.update(file_pattern=files, shuffle=True, shuffle_buffer=64, seed=args.seed)
    if args.bucket_window:
        train_cfg["bucket_window"] = args.bucket_window
    data_cfg["DATASET"] = dict(data_cfg["DATASET"], train=train_cfg)
    dataset = build_dataset(data_cfg, "train")
    if hasattr(dataset, "set_batch_size"):
        dataset.set_batch_size(args.batch_size)
    loader = build_dataloader(dataset, args.batch_size, args.workers)
    log_interval = args.log_interval or int(cfg.get("log_interval", 10))
    return cfg, model, optimizer, scheduler if iter_step else None, loader, log_interval


def _flops_per_frame_and_video(model) -> Dict[str, float]:
    """Forward matmul FLOPs ``per_video + per_frame * T`` of one video, from two tiny probes (T = 1, 2)
    counted by :func:`_common.count_matmul_flops`."""
    import paddle

    counts = []
    for t in (1, 2):
        batch = {spec.name: paddle.zeros([1, t, spec.shape[-1]], dtype=spec.dtype)
                 for spec in model.input_spec()[:-1]}
        batch["lengths"] = paddle.to_tensor(np.array([t], dtype=np.int64))
        counts.append(_common.count_matmul_flops(model, batch)["total"])
    per_frame = counts[1] - counts[0]
    return {"per_frame": per_frame, "per_video": counts[0] - per_frame}


def _count_params(model) -> int:
    return int(sum(int(np.prod(p.shape)) for p in model.parameters()))


def bench_one(model_name: str, size: str, args) -> Dict[str, Any]:
    """Time full training steps and the compute floor for one (model, size); returns the figures."""
    import paddle

    heavy = model_name == "AttentionLSTM" and size == "full"
    steps = args.steps or (3 if heavy else 20)
    rounds = args.rounds or (1 if heavy else 2)
    cfg_probe = _load_cfg(model_name, size)
    num_classes = int(cfg_probe["MODEL"]["head"]["num_classes"])
    files = _common.synthetic_shards(2, 128, args.seed, num_classes, args.data_dir)
    cfg, model, optimizer, scheduler, loader, log_interval = _build(model_name, size, args, files * 64)
    flops = _flops_per_frame_and_video(model)
    sync = lambda: _common.synchronize(args.device)  # noqa: E731
    it = iter(loader)

    def full_step(step: int, keep: List[Dict[str, np.ndarray]]) -> Dict[str, float]:
        t0 = time.perf_counter()
        batch = next(it)
        t1 = time.perf_counter()
        loss = model(batch, "train")["loss"]
        loss.backward()
        sync()
        t2 = time.perf_counter()
        optimizer.step()
        optimizer.clear_grad()
        if scheduler is not None:
            scheduler.step()
        sync()
        t3 = time.perf_counter()
        if step % log_interval == 0:
            loss.item()                      # the loop's only host sync, as in tasks/train.py
        t4 = time.perf_counter()
        keep.append({k: v.numpy() for k, v in batch.items()})
        return {"data_wait": t1 - t0, "fwd_bwd": t2 - t1, "optimizer": t3 - t2, "metric": 0.0,
                "log_sync": t4 - t3, "step": t4 - t0}

    def floor_step(tensors: Dict[str, Any]) -> Dict[str, float]:
        sync()
        t0 = time.perf_counter()
        loss = model(tensors, "train")["loss"]
        loss.backward()
        sync()
        t1 = time.perf_counter()
        optimizer.step()
        optimizer.clear_grad()
        sync()
        t2 = time.perf_counter()
        return {"fwd_bwd": t1 - t0, "optimizer": t2 - t1, "step": t2 - t0}

    warm: List[Dict[str, np.ndarray]] = []
    for s in range(args.warmup):
        full_step(s + 1, warm)
    full_times: List[Dict[str, float]] = []
    floor_times: List[Dict[str, float]] = []
    batches: List[Dict[str, np.ndarray]] = []
    step_no = args.warmup
    for _ in range(rounds):
        kept: List[Dict[str, np.ndarray]] = []
        for _ in range(steps):
            step_no += 1
            full_times.append(full_step(step_no, kept))
        tensors = [{k: paddle.to_tensor(v) for k, v in b.items()} for b in kept]
        sync()
        for t in tensors:
            floor_times.append(floor_step(t))
        batches.extend(kept)
        del tensors
    del it

    lengths = np.concatenate([b["lengths"] for b in batches])
    computed = sum(int(b["lengths"].shape[0]) * int(b[model.feature_names[0]].shape[1]) for b in batches)
    videos = int(lengths.size)
    total = {k: float(sum(t[k] for t in full_times)) for k in full_times[0]}
    floor = {k: float(sum(t[k] for t in floor_times)) for k in floor_times[0]}
    metric_cost = _metric_update_cost(args.batch_size, num_classes)
    # training FLOPs ~ 3 x forward (backward of a matmul costs two matmuls), on the computed (padded) frames
    train_flops = 3.0 * sum(int(b["lengths"].shape[0]) * (flops["per_video"] + flops["per_frame"] *
                                                           int(b[model.feature_names[0]].shape[1])) for b in batches)
    return {
        "model": model_name, "size": size, "config": CONFIGS[(model_name, size)],
        "params": _count_params(model), "batch_size": args.batch_size, "workers": args.workers,
        "steps": len(full_times), "rounds": rounds, "videos": videos,
        "mean_frames": float(lengths.mean()), "max_frames_in_batch_mean": float(np.mean(
            [b[model.feature_names[0]].shape[1] for b in batches])),
        "computed_over_real_frames": computed / max(int(lengths.sum()), 1),
        "videos_per_s": videos / total["step"],
        "floor_videos_per_s": videos / floor["step"],
        "step_s": total["step"] / len(full_times),
        "breakdown_s_per_step": {k: v / len(full_times) for k, v in total.items() if k != "step"},
        "floor_s_per_step": floor["step"] / len(floor_times),
        "floor_fwd_bwd_s_per_step": floor["fwd_bwd"] / len(floor_times),
        "floor_optimizer_s_per_step": floor["optimizer"] / len(floor_times),
        "fwd_gflop_per_video_at_300_frames": (flops["per_video"] + 300 * flops["per_frame"]) / 1e9,
        "train_gflop_per_step": train_flops / len(full_times) / 1e9,
        "achieved_gflop_per_s": train_flops / total["step"] / 1e9,
        "floor_achieved_gflop_per_s": train_flops / floor["step"] / 1e9,
        "efficiency": floor["step"] / total["step"],
        "efficiency_fwd_bwd": floor["fwd_bwd"] / total["step"],
        "metric_update_if_enabled_s": metric_cost,
        "step_s_each": [round(t["step"], 4) for t in full_times],
        "floor_s_each": [round(t["step"], 4) for t in floor_times],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def _load_cfg(model_name: str, size: str):
    from paddlevideo.utils.config import load_config

    return load_config(os.path.join(_common.ROOT, CONFIGS[(model_name, size)]))


def _metric_update_cost(batch_size: int, num_classes: int) -> float:
    """Seconds of one streaming-metric update on a [B, C] batch (what a per-step metric would add on the
    host, before counting the device->host sync it forces); median of 20."""
    try:
        from paddlevideo.metrics.youtube8m import YouTube8MMetric
    except ImportError:
        return float("nan")
    rng = np.random.default_rng(0)
    probs = rng.random((batch_size, num_classes), dtype=np.float32)
    labels = (rng.random((batch_size, num_classes)) < 3.0 / num_classes).astype(np.float32)
    metric = YouTube8MMetric(num_classes, top_k=20)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        metric.update(probs, labels)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> int:
    args = parse_args(argv)
    _common.prepare(threads=args.threads)
    import paddle  # noqa: F401  (after prepare: OMP_NUM_THREADS must be set first)

    _common.set_device(args.device)
    sizes = (args.sizes or ("small" if args.small else "full,small")).split(",")
    models = [m for m in args.models.split(",") if m]
    load_start = os.getloadavg()
    results = []
    for model_name in models:
        for size in sizes:
            if (model_name, size) not in CONFIGS:
                raise SystemExit(f"unknown model/size {model_name}/{size}; known: {sorted(CONFIGS)}")
            results.append(bench_one(model_name, size, args))
            r = results[-1]
            print(f"# {model_name}/{size}: {r['videos_per_s']:.2f} videos/s, efficiency {r['efficiency']:.3f}",
                  file=sys.stderr, flush=True)
    rows = [(r["model"], r["size"], f"{r['params'] / 1e6:.1f}M", r["videos_per_s"], r["floor_videos_per_s"],
             r["efficiency"], r["efficiency_fwd_bwd"], r["step_s"], r["breakdown_s_per_step"]["data_wait"],
             r["breakdown_s_per_step"]["fwd_bwd"], r["breakdown_s_per_step"]["optimizer"],
             r["breakdown_s_per_step"]["log_sync"], r["floor_s_per_step"], r["computed_over_real_frames"],
             r["fwd_gflop_per_video_at_300_frames"], r["achieved_gflop_per_s"])
            for r in results]
    result = {"results": results,
              "settings": {"batch_size": args.batch_size, "workers": args.workers, "bucket_window": args.bucket_window,
                           "warmup": args.warmup, "device": args.device},
              "machine": {**_common.machine_info(args.device), "loadavg_at_start": [round(x, 2) for x in load_start]}}
    _common.emit("bench_train", result, rows,
                 ("model", "size", "params", "videos/s", "floor v/s", "eff", "eff(fb)", "step s", "wait s",
                  "fwd+bwd s", "opt s", "log s", "floor s", "pad x", "GF/video", "GF/s"),
                 args.json,
                 notes=["eff = floor (fwd+bwd+optimizer, same batches, pre-made tensors) / full step; "
                        "eff(fb) uses the floor without the optimizer; pad x = computed / real frames; "
                        "GF/video = forward GFLOP of a 300-frame video (Linear+LSTM matmuls); "
                        "GF/s = 3 x forward FLOPs of the computed frames / full step time.",
                        f"load average {result['machine']['loadavg_1_5_15']} on {os.cpu_count()} cores "
                        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}): absolute figures are noisy."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
