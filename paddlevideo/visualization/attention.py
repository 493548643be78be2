"""Where an attention model looked: its attention weights over a video's frames, drawn as a PNG.

The model is not hooked: the backbone exposes its weights through a documented method,
``backbone.attention_weights(features, lengths) -> list`` with one float32 tensor per modality:

* ``[B, T]`` for AttentionLSTM (one softmax over time per modality) -> drawn as one curve per modality;
* ``[B, N, T]`` for AttentionCluster (N attention units per modality) -> drawn as an N x T heat map per
  modality;
* ``[B, T]`` for HierarchicalAttention too: the product of its attention weights down its tree of windows.

What is drawn depends only on the rank of those tensors, never on the model's name. Each row sums to 1
over the valid frames; frames are YouTube-8M's one per second, so the x axis is seconds from the start.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AttentionResult", "attention_summary", "compute_attention", "plot_attention"]


@dataclass
class AttentionResult:
    """Attention and predictions of one video.

    Attributes:
        video_id: the record's id.
        feature_names: modality names, in the order of ``weights``.
        weights: per modality float32 ``[T]`` (one weighting over time) or ``[N, T]`` (N units), T = the
            video's frames after truncation (padding removed).
        probs: float32 [C] sigmoid class probabilities.
        labels: int64 [L] ground-truth classes stored in the input (may be empty).
    """

    video_id: str
    feature_names: list[str]
    weights: list[np.ndarray]
    probs: np.ndarray
    labels: np.ndarray


def compute_attention(model: Any, records: Sequence[Mapping[str, Any]], max_frames: int = 300
                      ) -> list[AttentionResult]:
    """Run ``model`` (in eval mode) on ``records`` and read its attention weights.

    Args:
        model: a recognizer (:class:`paddlevideo.modeling.framework.recognizer.Recognizer1D`) whose
            backbone has ``attention_weights(features, lengths)`` (see the module docstring).
        records: record dicts ``{"id", "labels", <feature>: uint8 [T, D], ...}`` (the readers' output).
        max_frames: frames kept per video (the first ones), as in prediction.

    Returns:
        One :class:`AttentionResult` per record, in order.

    Raises:
        ValueError: the backbone has no ``attention_weights`` method, or returns a tensor that is not
            ``[B, T]`` / ``[B, N, T]``; a record lacks one of the model's features or has no frames.
    """
    import paddle

    from ..loader.pipelines import TruncateFrames, collate_frames

    backbone = getattr(model, "backbone", None)
    if not callable(getattr(backbone, "attention_weights", None)):
        raise ValueError(f"backbone {type(backbone).__name__} has no attention_weights(features, lengths) method; "
                         "only backbones with attention (e.g. AttentionLSTM, AttentionCluster, HierarchicalAttention) "
                         "can be visualised")
    names = list(model.feature_names)
    truncate = TruncateFrames(max_frames)
    results: list[AttentionResult] = []
    model.eval()
    with paddle.no_grad():
        for rec in records:
            missing = [n for n in names if n not in rec]
            if missing:
                raise ValueError(f"video {rec.get('id')!r} has no feature {missing[0]!r} (model needs {names})")
            if min(len(rec[n]) for n in names) == 0:
                raise ValueError(f"video {rec.get('id')!r} has no frames; there is no attention to draw")
            inputs = truncate({k: v for k, v in rec.items() if k != "labels"})
            batch = collate_frames([inputs])
            feats = [paddle.to_tensor(batch[n]) for n in names]
            lengths = paddle.to_tensor(batch["lengths"])
            probs = model(dict(zip(names, feats), lengths=lengths), "infer")["probs"].numpy()[0]
            length = int(batch["lengths"][0])
            weights = []
            for name, w in zip(names, backbone.attention_weights(feats, lengths)):
                w = w.numpy()[0]
                if w.ndim not in (1, 2):
                    raise ValueError(f"attention_weights of {name!r} has shape {list(w.shape)}; expected [B, T] "
                                     "or [B, N, T]")
                weights.append(w[..., :length].astype(np.float32))
            results.append(AttentionResult(str(rec.get("id", "")), names, weights, probs.astype(np.float32),
                                           np.asarray(rec.get("labels", []), dtype=np.int64).reshape(-1)))
    return results


def _name(c: int, label_names: Mapping[int, str] | None) -> str:
    n = label_names.get(int(c)) if label_names else None
    return f"{int(c)} {n}" if n else f"class {int(c)}"


def plot_attention(result: AttentionResult, png_path: str, top_k: int = 5,
                   label_names: Mapping[int, str] | None = None, title: str = "") -> str:
    """Draw the attention of one video and its predictions into ``png_path``; returns the path.

    Layout: all 1-D weightings (``[T]``) share one axes, one curve per modality; each 2-D weighting
    (``[N, T]``) gets its own heat map (units x frames); a text panel lists the top-k predicted classes
    with their probabilities (names from ``label_names``, e.g. YouTube-8M's ``vocabulary.csv``) and the
    true labels, predicted ones that are true marked with ``*``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    curves = [(n, w) for n, w in zip(result.feature_names, result.weights) if w.ndim == 1]
    maps = [(n, w) for n, w in zip(result.feature_names, result.weights) if w.ndim == 2]
    rows = (1 if curves else 0) + len(maps)
    fig = Figure(figsize=(12, 2.6 * rows + 0.8), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(rows, 2, width_ratios=[3.2, 1.3])
    row = 0
    if curves:
        ax = fig.add_subplot(grid[row, 0])
        for name, w in curves:
            ax.plot(np.arange(w.size), w, lw=1.5, label=f"{name} (max at {int(np.argmax(w))} s)")
        ax.set_xlim(0, max(max(w.size for _, w in curves) - 1, 1))
        ax.set_ylim(bottom=0)
        ax.set_xlabel("frame (second)")
        ax.set_ylabel("attention weight")
        ax.set_title("Attention over time (each curve sums to 1)")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
        row += 1
    for name, w in maps:
        ax = fig.add_subplot(grid[row, 0])
        im = ax.imshow(w, aspect="auto", interpolation="nearest", cmap="viridis", origin="lower",
                       extent=(-0.5, w.shape[1] - 0.5, -0.5, w.shape[0] - 0.5))
        ax.set_xlabel("frame (second)")
        ax.set_ylabel("attention unit")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{name}: {w.shape[0]} units x {w.shape[1]} frames (each row sums to 1)")
        fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
        row += 1
    text = fig.add_subplot(grid[:, 1])
    text.axis("off")
    order = np.argsort(-result.probs, kind="stable")[: max(int(top_k), 1)]
    truth = set(int(x) for x in result.labels)
    lines = [f"Top-{len(order)} predictions:"]
    lines += [f"{'*' if int(c) in truth else ' '} {result.probs[c]:.3f}  {_name(c, label_names)}" for c in order]
    lines += ["", "True labels:"] + ([f"  {_name(c, label_names)}" for c in sorted(truth)] or ["  (none stored)"])
    text.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=9,
              transform=text.transAxes)
    length = result.weights[0].shape[-1] if result.weights else 0
    fig.suptitle(title or f"video {result.video_id}: {length} frames")
    fig.tight_layout()
    fig.savefig(png_path)
    return png_path


def attention_summary(result: AttentionResult) -> dict[str, Any]:
    """JSON-ready summary: per modality the shape of the weights and the frame with the most attention
    (for ``[N, T]`` weights: of the mean over units)."""
    out: dict[str, Any] = {"id": result.video_id}
    for name, w in zip(result.feature_names, result.weights):
        profile = w if w.ndim == 1 else w.mean(axis=0)
        out[name] = {"shape": list(w.shape), "peak_frame": int(np.argmax(profile))}
    return out
