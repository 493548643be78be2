"""Helpers shared by the benchmark scripts: quiet set-up, machine facts, synthetic YouTube-8M shards, reports.

Every benchmark prints exactly one JSON line (prefixed by nothing, so ``grep '^{'`` finds it) followed by
a human-readable table. Figures are wall-clock seconds from ``time.perf_counter``; MB are 10**6 bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: YouTube-8M 2018 frame-level feature widths (bytes per frame, uint8 codes).
FEATURE_DIMS = {"rgb": 1024, "audio": 128}


def prepare(threads: int | None = None) -> None:
    """Make the repository importable and Paddle quiet; call before ``import paddle``.

    Args:
        threads: OpenMP/MKL threads for Paddle's CPU kernels (Paddle forces 1 at import unless
            ``OMP_NUM_THREADS`` is set first). None keeps the environment's value, else uses every core.
    """
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    os.environ.setdefault("GLOG_minloglevel", "2")
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(int(threads))
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    warnings.filterwarnings("ignore", message="No ccache found")
    warnings.filterwarnings("ignore", message="Tensor do not have 'place'")


def run_main(main: Callable[[], int]) -> int:
    """Run a benchmark's ``main``; a user-facing error (bad flag value, missing file, no GPU build) becomes
    one line on stderr and exit status 2 instead of a traceback."""
    try:
        return main()
    except (RuntimeError, ValueError, FileNotFoundError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--device``, ``--small``, ``--json`` and ``--seed`` to a benchmark's parser."""
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="where the model runs")
    parser.add_argument("--small", action="store_true", help="small sizes for a quick run (minutes)")
    parser.add_argument("--json", default=None, help="also write the JSON result to this file")
    parser.add_argument("--seed", type=int, default=0)


def set_device(device: str) -> str:
    """``paddle.set_device`` with a clear error when a GPU run is asked of a CPU-only Paddle build.

    Raises:
        RuntimeError: ``device == "gpu"`` and Paddle is not compiled with CUDA.
    """
    import paddle

    if device == "gpu":
        if not paddle.is_compiled_with_cuda():
            raise RuntimeError("--device gpu needs a CUDA build of paddlepaddle (this one is CPU-only)")
        paddle.set_device("gpu:0")
    else:
        paddle.set_device("cpu")
    return device


def synchronize(device: str) -> None:
    """Wait for queued device work (GPU); a no-op on CPU, where eager kernels run synchronously."""
    if device == "gpu":
        import paddle

        paddle.device.synchronize()


def machine_info(device: str) -> dict[str, Any]:
    """Facts that make the figures interpretable: cores, load average, threads, versions, device."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "device": device,
        "cpu_model": _cpu_model(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if "paddle" in sys.modules:
        info["paddle"] = sys.modules["paddle"].__version__
    try:
        from google.protobuf.internal import api_implementation

        info["protobuf_backend"] = api_implementation.Type()
    except ImportError:  # pragma: no cover - protobuf is a hard dependency
        pass
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def yt8m_like_lengths(n: int, rng: np.random.Generator) -> np.ndarray:
    """Frame counts shaped like YouTube-8M 2018 videos (synthetic, for benchmarks).

    85 % of videos last U(120, 420) s and are capped at 300 frames (1 frame/s, the extractor's limit,
    so about 40 % of those sit at exactly 300); 15 % are shorter, U(1, 120) s. Mean about 218 frames,
    close to the ~215 of the real train split quoted in the performance issue.

    Returns:
        int64 [n], values in [1, 300].
    """
    seconds = rng.uniform(120, 420, size=n)
    short = rng.random(n) < 0.15
    seconds[short] = rng.uniform(1, 120, size=int(short.sum()))
    return np.clip(seconds.astype(np.int64), 1, 300)


def synthetic_records(n: int, seed: int, num_classes: int = 3862, start: int = 0) -> Iterator[dict[str, Any]]:
    """``n`` record dicts with YouTube-8M shapes: random uint8 codes, 1-5 random labels, YT8M-like lengths.

    Yields:
        ``{"id": str, "labels": int64[L], "rgb": uint8[T, 1024], "audio": uint8[T, 128]}``.
    """
    rng = np.random.default_rng((seed, start))
    lengths = yt8m_like_lengths(n, rng)
    for i, t in enumerate(lengths):
        labels = rng.choice(num_classes, size=int(rng.integers(1, 6)), replace=False).astype(np.int64)
        yield {"id": f"s{start + i:07d}", "labels": labels,
               **{k: rng.integers(0, 256, size=(int(t), d), dtype=np.uint8) for k, d in FEATURE_DIMS.items()}}


def synthetic_shards(num_files: int, videos_per_file: int, seed: int = 0, num_classes: int = 3862,
                     data_dir: str | None = None) -> list[str]:
    """Write (once, then reuse) ``num_files`` TFRecord shards of synthetic YouTube-8M frame-level videos.

    Files go to ``<data_dir>/<files>x<videos>_s<seed>_c<classes>/`` (``data_dir`` defaults to
    ``$TMPDIR/paddlevideo_bench``), so different sizes never share shards; a shard is written only if missing.
    Written with the package's own :func:`write_tfrecord` (the TF schema).

    Returns:
        The shard paths, sorted.
    """
    from paddlevideo.loader.yt8m import write_tfrecord

    data_dir = os.path.join(data_dir or os.path.join(tempfile.gettempdir(), "paddlevideo_bench"),
                            f"{num_files}x{videos_per_file}_s{seed}_c{num_classes}")
    os.makedirs(data_dir, exist_ok=True)
    paths = []
    for s in range(num_files):
        path = os.path.join(data_dir, f"train{s:04d}.tfrecord")
        if not os.path.exists(path):
            write_tfrecord(path, synthetic_records(videos_per_file, seed, num_classes, start=s * videos_per_file))
        paths.append(path)
    return paths


def emit(name: str, result: Mapping[str, Any], table: Sequence[Sequence[Any]], header: Sequence[str],
         json_path: str | None = None, notes: Sequence[str] = ()) -> None:
    """Print the result as one JSON line, then a readable table and notes; optionally save the JSON.

    Args:
        name: benchmark name (stored under ``"benchmark"``).
        result: JSON-serialisable figures.
        table: rows of the readable table.
        header: column names of the table.
        json_path: also write the JSON object to this file.
        notes: lines printed under the table.
    """
    record = {"benchmark": name, **result}
    line = json.dumps(record, sort_keys=False, default=_jsonable)
    print(line, flush=True)
    print(format_table(table, header))
    for note in notes:
        print(note)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            f.write(line + "\n")


def _jsonable(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def format_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Plain-text table with right-aligned columns; floats get 4 significant digits."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
        return str(v)

    cells = [[str(h) for h in header]] + [[fmt(v) for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c[i].rjust(widths[i]) for i in range(len(header))) for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def best_and_median(times: Sequence[float]) -> dict[str, float]:
    """``{"min": ..., "median": ...}`` of repeated timings (seconds)."""
    arr = np.asarray(times, dtype=np.float64)
    return {"min": float(arr.min()), "median": float(np.median(arr))}


def count_matmul_flops(model: Any, batch: Mapping[str, Any]) -> dict[str, float]:
    """Forward FLOPs of the matrix products of one ``model(batch, "infer")`` call, counted per layer.

    Counts ``nn.Linear`` (``2 * rows * in * out``) and ``nn.LSTM`` (per layer and direction, per *computed*
    step, i.e. ``B * T_padded``: ``2 * 4H * (in + H)``) through forward post-hooks, so it needs no
    model-specific code; element-wise work (activations, gates, softmax) is not counted. Products written with
    ``paddle.matmul`` inside a layer are counted only when that layer declares them through a method
    ``matmul_flops(inputs, output) -> float`` (e.g. the attention poolings of HierarchicalAttention); otherwise they
    are missed. One multiply-add = 2 FLOPs.

    Returns:
        ``{"linear": flops, "lstm": flops, "other": flops, "total": flops}`` for the whole batch (``other``: the
        declared ``matmul_flops``).
    """
    import paddle
    import paddle.nn as nn

    counts = {"linear": 0.0, "lstm": 0.0, "other": 0.0}

    def on_linear(layer, inputs, output):
        x = inputs[0]
        rows = int(np.prod(x.shape[:-1]))
        counts["linear"] += 2.0 * rows * layer.weight.shape[0] * layer.weight.shape[1]

    def on_lstm(layer, inputs, output):
        x = inputs[0]
        b, t = (x.shape[1], x.shape[0]) if getattr(layer, "time_major", False) else (x.shape[0], x.shape[1])
        h, dirs = layer.hidden_size, layer.num_directions
        for i in range(layer.num_layers):
            width = layer.input_size if i == 0 else h * dirs
            counts["lstm"] += dirs * 2.0 * b * t * 4 * h * (width + h)

    def on_declared(layer, inputs, output):
        counts["other"] += float(layer.matmul_flops(inputs, output))

    handles = []
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, nn.Linear):
            handles.append(layer.register_forward_post_hook(on_linear))
        elif isinstance(layer, nn.LSTM):
            handles.append(layer.register_forward_post_hook(on_lstm))
        if callable(getattr(layer, "matmul_flops", None)):
            handles.append(layer.register_forward_post_hook(on_declared))
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            model(batch, "infer")
    finally:
        for hd in handles:
            hd.remove()
        if was_training:
            model.train()
    counts["total"] = counts["linear"] + counts["lstm"] + counts["other"]
    return counts
