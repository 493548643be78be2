"""Training benchmark: videos/s of the real training step against the compute floor measured in the same run.

    python benchmarks/bench_train.py                 # AttentionLSTM + AttentionCluster, full and small sizes
    python benchmarks/bench_train.py --models AttentionLSTM,HierarchicalAttention --sizes full   # issue 15
    python benchmarks/bench_train.py --small         # small sizes only (a few minutes on 2 cores)
    python benchmarks/bench_train.py --models AttentionLSTM --sizes full --steps 4

For every (model, size) the script builds the model, optimizer, dataset and DataLoader from the config in
``configs/recognition/`` (full = the YouTube-8M config, small = its ``_demo`` config), pointed at synthetic
shards with YouTube-8M shapes (uint8 codes, ~218 frames per video, up to 300; see ``_common``), and times:

* **full step** -- the real training loop, ``paddlevideo.tasks.loop.train_one_epoch`` (what
  ``main.py`` runs), fed by the DataLoader with ``--workers`` processes: wall time per step;
* **instrumented step** -- a copy of that loop with timers, to split a step into ``data_wait`` (blocked
  on the loader), ``fwd_bwd``, ``optimizer`` (+ LR scheduler) and ``log_sync`` (``loss.item()`` every
  ``log_interval`` steps); ``metric`` is 0 because the training path updates no metric, and
  ``metric_update_if_enabled_s`` is what one streaming-metric update per step would add;
* **compute floor** -- the same model on pre-made tensors with the *same batch shapes and lengths* as the
  real-loop steps (no loader): ``fwd_bwd`` + optimizer (``floor``) and ``fwd_bwd`` alone.

The real loop also reports the loader's delivered bytes per second (``loader_mb_per_s``: the batches' array
bytes over the loop's wall time) and the CPU seconds its worker processes used per step
(``worker_cpu_s_per_step``, from Linux's ``/proc``), which the machine's load disturbs less than wall time.

``efficiency = floor / full step`` (summed over the same batch shapes), and ``efficiency_fwd_bwd`` with
the floor without the optimizer. Real-loop steps and floor steps alternate, R F F R R F F R ..., each
floor step on the shape of the latest real step (floor times are scaled by computed frames, real/floor),
so both see the same machine load and a load trend cancels; then the instrumented loop runs
``--instrumented_steps`` steps; all of it ``--rounds`` times. The load average is recorded. On GPU the
instrumented loop and the floor synchronise the device at phase boundaries; the real loop does not.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

CONFIGS = {
    ("AttentionLSTM", "full"): "configs/recognition/attention_lstm/attention_lstm_youtube8m.yaml",
    ("AttentionLSTM", "small"): "configs/recognition/attention_lstm/attention_lstm_youtube8m_demo.yaml",
    ("AttentionCluster", "full"): "configs/recognition/attention_cluster/attention_cluster_youtube8m.yaml",
    ("AttentionCluster", "small"): "configs/recognition/attention_cluster/attention_cluster_youtube8m_demo.yaml",
    ("HierarchicalAttention", "full"):
        "configs/recognition/hierarchical_attention/hierarchical_attention_youtube8m.yaml",
    ("HierarchicalAttention", "small"):
        "configs/recognition/hierarchical_attention/hierarchical_attention_youtube8m_demo.yaml",
    ("NeXtVLAD", "full"): "configs/recognition/nextvlad/nextvlad_youtube8m.yaml",
    ("NeXtVLAD", "small"): "configs/recognition/nextvlad/nextvlad_youtube8m_demo.yaml",
    ("NetVLAD", "full"): "configs/recognition/netvlad/netvlad_youtube8m.yaml",
    ("NetVLAD", "small"): "configs/recognition/netvlad/netvlad_youtube8m_demo.yaml",
    ("DBoF", "full"): "configs/recognition/dbof/dbof_youtube8m.yaml",
    ("DBoF", "small"): "configs/recognition/dbof/dbof_youtube8m_demo.yaml",
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
                   help="paired real/floor steps per round (default: 4 for full AttentionLSTM, 20 otherwise)")
    p.add_argument("--instrumented_steps", type=int, default=None,
                   help="instrumented steps per round (default: 1 for full AttentionLSTM, --steps otherwise)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--rounds", type=int, default=None, help="rounds of (paired steps, instrumented steps); "
                   "default 1 for full AttentionLSTM, 2 otherwise")
    p.add_argument("--log_interval", type=int, default=None, help="default: the config's")
    p.add_argument("--bucket_window", type=int, default=0, help="length bucketing window in batches (0 = off)")
    p.add_argument("--data_dir", default=None)
    return p.parse_args(argv)


def _build(model_name: str, size: str, args, files: list[str]):
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


def _flops_per_frame_and_video(model) -> dict[str, float]:
    """Forward matmul FLOPs ``per_video + per_frame * T`` of one video, from two probes (T = 150, 300) counted by
    :func:`_common.count_matmul_flops`: exact at T = 150 and 300 (and for every T when the cost is linear in T, as
    for the LSTM models; a hierarchy of windows rounds each level up to whole windows, a small deviation)."""
    import paddle

    counts = []
    for t in (150, 300):
        batch = {spec.name: paddle.zeros([1, t, spec.shape[-1]], dtype=spec.dtype)
                 for spec in model.input_spec()[:-1]}
        batch["lengths"] = paddle.to_tensor(np.array([t], dtype=np.int64))
        counts.append(_common.count_matmul_flops(model, batch)["total"])
    per_frame = (counts[1] - counts[0]) / 150
    return {"per_frame": per_frame, "per_video": counts[1] - 300 * per_frame}


def _count_params(model) -> int:
    return int(sum(int(np.prod(p.shape)) for p in model.parameters()))


def bench_one(model_name: str, size: str, args) -> dict[str, Any]:
    """Time the real training loop, an instrumented copy of it and the compute floor for one (model, size)."""
    import paddle

    from paddlevideo.tasks.loop import EpochContext, train_one_epoch

    cfg_probe = _load_cfg(model_name, size)
    num_classes = int(cfg_probe["MODEL"]["head"]["num_classes"])
    files = _common.synthetic_shards(2, 128, args.seed, num_classes, args.data_dir)
    cfg, model, optimizer, scheduler, loader, log_interval = _build(model_name, size, args, files * 64)
    flops = _flops_per_frame_and_video(model)
    # heavy = over 2 forward GFLOP per 300-frame video (AttentionLSTM and NeXtVLAD at full size): fewer steps
    heavy = flops["per_video"] + 300 * flops["per_frame"] > 2e9
    steps = args.steps or (4 if heavy else 20)
    rounds = args.rounds or (1 if heavy else 2)
    sync = lambda: _common.synchronize(args.device)  # noqa: E731
    it = iter(loader)
    shapes: list[dict[str, Any]] = []
    batch_bytes: list[int] = []
    worker_cpu = [0.0]

    def capture(n: int):
        """Yield n loader batches to the real loop, noting their shapes and lengths (no data copies)."""
        for _ in range(n):
            batch = next(it)
            shapes.append({"lengths": batch["lengths"].numpy(),
                           **{k: tuple(v.shape) for k, v in batch.items() if k != "lengths"}})
            batch_bytes.append(sum(int(np.prod(v.shape)) * v.element_size() for v in batch.values()))
            yield batch

    def real_loop(n: int) -> float:
        cpu0 = _children_cpu_s()
        t0 = time.perf_counter()
        ctx = EpochContext(model, capture(n), None, optimizer, scheduler, scheduler is not None,
                           log_interval=log_interval)
        train_one_epoch(ctx, 1, 0, "none (benchmark)")
        sync()
        dt = time.perf_counter() - t0
        worker_cpu[0] += _children_cpu_s() - cpu0
        return dt

    def instrumented_step(step: int) -> dict[str, float]:
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
            loss.item()
        t4 = time.perf_counter()
        return {"data_wait": t1 - t0, "fwd_bwd": t2 - t1, "optimizer": t3 - t2, "metric": 0.0,
                "log_sync": t4 - t3, "step": t4 - t0}

    def floor_step(tensors: dict[str, Any]) -> dict[str, float]:
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

    def premade(shape: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        out = {"lengths": paddle.to_tensor(shape["lengths"])}
        for k, v in shape.items():
            if k == "lengths":
                continue
            if k == "labels":
                out[k] = paddle.to_tensor((rng.random(v) < 3.0 / v[1]).astype(np.float32))
            else:
                out[k] = paddle.to_tensor(rng.integers(0, 256, size=v, dtype=np.uint8))
        return out

    real_loop(args.warmup)
    shapes.clear()
    batch_bytes.clear()
    worker_cpu[0] = 0.0
    loop_times, instr, floor_times, floor_shapes = [], [], [], []
    rng = np.random.default_rng(args.seed)
    for _ in range(rounds):
        # Real-loop and floor steps alternate in the order R F F R R F F R ..., so that both see the same
        # machine load and a load trend cancels; a floor step uses the shape of the latest real step.
        for k in range(steps):
            if k % 2:
                floor_shapes.append(shapes[-1])
                floor_times.append(floor_step(premade(shapes[-1], rng)))
                loop_times.append(real_loop(1))
            else:
                loop_times.append(real_loop(1))
                floor_shapes.append(shapes[-1])
                floor_times.append(floor_step(premade(shapes[-1], rng)))
        instr.extend(instrumented_step(i + 1) for i in range(args.instrumented_steps or (1 if heavy else steps)))
    it = None  # drop the loader iterator (and its worker processes) before the summary
    loop_s = float(sum(loop_times))

    n_steps = len(shapes)
    feat = model.feature_names[0]
    lengths = np.concatenate([sh["lengths"] for sh in shapes])
    padded = [int(sh[feat][0]) * int(sh[feat][1]) for sh in shapes]
    # time per computed (padded) frame, so that a floor step on a neighbour's shape compares fairly
    shape_scale = sum(padded) / max(sum(int(sh[feat][0]) * int(sh[feat][1]) for sh in floor_shapes), 1)
    videos = int(lengths.size)
    ins = {k: float(sum(t[k] for t in instr)) / len(instr) for k in instr[0]}
    floor = {k: float(sum(t[k] for t in floor_times)) * shape_scale for k in floor_times[0]}
    metric_cost = _metric_update_cost(args.batch_size, num_classes)
    # training FLOPs ~ 3 x forward (the backward of a matmul is two matmuls), on the computed (padded) frames
    train_flops = 3.0 * sum(int(sh[feat][0]) * flops["per_video"] + p * flops["per_frame"]
                            for sh, p in zip(shapes, padded))
    return {
        "model": model_name, "size": size, "config": CONFIGS[(model_name, size)],
        "params": _count_params(model), "batch_size": args.batch_size, "workers": args.workers,
        "steps": n_steps, "rounds": rounds, "videos": videos,
        "mean_frames": float(lengths.mean()),
        "padded_frames_mean": float(np.mean([int(sh[feat][1]) for sh in shapes])),
        "computed_over_real_frames": sum(padded) / max(int(lengths.sum()), 1),
        "videos_per_s": videos / loop_s,
        "loader_mb_per_s": sum(batch_bytes[:n_steps]) / 1e6 / loop_s,
        "batch_mb": sum(batch_bytes[:n_steps]) / 1e6 / n_steps,
        "worker_cpu_s_per_step": worker_cpu[0] / len(loop_times),
        "floor_videos_per_s": videos / floor["step"],
        "step_s": loop_s / n_steps,
        "floor_s_per_step": floor["step"] / n_steps,
        "floor_fwd_bwd_s_per_step": floor["fwd_bwd"] / n_steps,
        "floor_optimizer_s_per_step": floor["optimizer"] / n_steps,
        "efficiency": floor["step"] / loop_s,
        "efficiency_fwd_bwd": floor["fwd_bwd"] / loop_s,
        "instrumented_s_per_step": ins,
        "metric_update_if_enabled_s": metric_cost,
        "fwd_gflop_per_video_at_300_frames": (flops["per_video"] + 300 * flops["per_frame"]) / 1e9,
        "train_gflop_per_step": train_flops / n_steps / 1e9,
        "achieved_gflop_per_s": train_flops / loop_s / 1e9,
        "floor_achieved_gflop_per_s": train_flops / floor["step"] / 1e9,
        "efficiency_median_of_pairs": float(np.median([f["step"] / r for f, r in zip(floor_times, loop_times)])),
        "floor_shape_scale": shape_scale,
        "step_s_each": [round(t, 4) for t in loop_times],
        "floor_s_each": [round(t["step"], 4) for t in floor_times],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def _children_cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process's live child processes (the DataLoader
    workers), read from Linux's ``/proc``; nan elsewhere. A worker that exited is no longer counted, so
    take differences over periods in which the workers live."""
    import glob

    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, found = 0.0, False
    for children in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        try:
            pids = open(children).read().split()
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
            found = True
    return total if found or os.path.isdir("/proc") else float("nan")


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
             r["efficiency"], r["loader_mb_per_s"], r["worker_cpu_s_per_step"], r["efficiency_fwd_bwd"],
             r["step_s"], r["floor_s_per_step"],
             r["instrumented_s_per_step"]["data_wait"], r["instrumented_s_per_step"]["fwd_bwd"],
             r["instrumented_s_per_step"]["optimizer"], r["instrumented_s_per_step"]["log_sync"],
             r["computed_over_real_frames"],
             r["fwd_gflop_per_video_at_300_frames"], r["achieved_gflop_per_s"])
            for r in results]
    result = {"results": results,
              "settings": {"batch_size": args.batch_size, "workers": args.workers, "bucket_window": args.bucket_window,
                           "warmup": args.warmup, "device": args.device},
              "machine": {**_common.machine_info(args.device), "loadavg_at_start": [round(x, 2) for x in load_start]}}
    _common.emit("bench_train", result, rows,
                 ("model", "size", "params", "videos/s", "floor v/s", "eff", "MB/s", "wrk cpu s", "eff(fb)",
                  "step s", "floor s",
                  "i:wait s", "i:fwd+bwd s", "i:opt s", "i:log s", "pad x", "GF/video", "GF/s"),
                 args.json,
                 notes=["step s = the real loop (tasks/loop.py train_one_epoch) per step; eff = floor "
                        "(fwd+bwd+optimizer on pre-made tensors of the same batch shapes) / step; "
                        "i: = instrumented copy of the loop; "
                        "MB/s = bytes of the loader's batches per second of the real loop; wrk cpu s = CPU "
                        "seconds of the loader worker processes per real step; "
                        "eff(fb) uses the floor without the optimizer; pad x = computed / real frames; "
                        "GF/video = forward GFLOP of a 300-frame video (Linear, LSTM and declared matmuls); "
                        "GF/s = 3 x forward FLOPs of the computed frames / full step time.",
                        f"load average {result['machine']['loadavg_1_5_15']} on {os.cpu_count()} cores "
                        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}): absolute figures are noisy."])
    return 0


if __name__ == "__main__":
    sys.exit(_common.run_main(main))
