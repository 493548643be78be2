"""Read the training log ``main.py`` writes (``<output_dir>/train.log``) and plot loss and the validation
metrics per epoch.

The log lines parsed (written by :mod:`paddlevideo.tasks.loop` and :mod:`paddlevideo.tasks.train`)::

    [2026-01-01 10:00:00] INFO [valid] metrics: hit_at_one (Hit@1), gap (GAP); best checkpoint by GAP (max)
    [2026-01-01 10:00:00] INFO epoch 2/5 step 20/32  loss 0.05123  lr 2.000e-03  410.2 videos/s  eta 0:01:10
    [2026-01-01 10:00:05] INFO epoch 2 done: 32 steps, 1000 videos in 6.1s (163.9 videos/s)
    [2026-01-01 10:00:07] INFO [valid] epoch 2: Hit@1 0.9100  GAP 0.9000  (250 videos, loss 0.0400)

The ``[valid] metrics:`` line (once per process, with ``--validate``) maps the display names of the
validation line to the keys the configured metrics declare (:class:`paddlevideo.metrics.base.BaseMetric`)
and names the key and mode of the best checkpoint. The validation line is ``NAME VALUE`` pairs, whatever
the metrics are. A log written before that line existed is read with the YouTube-8M names (Hit@1, PERR,
GAP, mAP) and GAP by max. Other lines are ignored. Every ``main.py`` process starts its log with a
``config ... device ...`` line.
A process that resumed (``resumed from ...`` before its first step) continues the run before it: a later
line for the same epoch and step replaces an earlier one, so the curves show the run as it finally went.
A process that did not resume started a **new run**; the log then holds several runs (written by
versions of ``main.py`` that let a new run append to an old run's log, or by a ``--resume`` that found no
checkpoint and started from epoch 1), which are never merged: :func:`parse_training_log` returns one of
them (the last by default) and says how many there are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["TrainingLog", "parse_training_log", "plot_training_log"]

_STEP = re.compile(r"\bepoch (\d+)/(\d+) step (\d+)(?:/(\d+))?\s+loss (\S+)\s+lr (\S+)")
_DONE = re.compile(r"\bepoch (\d+) done: (\d+) steps")
_START = re.compile(r"\] INFO config .*  device \S+  processes \d+")
_RESUMED = re.compile(r"\] INFO resumed from ")
_VALID = re.compile(r"\[valid\] epoch (\d+): (.*?)\s*\((\d+) videos, loss (\S+)\)")
_HEADER = re.compile(r"\[valid\] metrics: (.*); best checkpoint by (\S+) \((max|min)\)")
_HEADER_ITEM = re.compile(r"(\w+) \((\S+)\)")
#: Display name -> key of the logs written before the ``[valid] metrics:`` line (YouTube8MMetric, GAP by max).
LEGACY_NAMES = {"Hit@1": "hit_at_one", "PERR": "perr", "GAP": "gap", "mAP": "map"}


@dataclass
class TrainingLog:
    """What a training log says.

    Attributes:
        steps: ``{(epoch, step): (loss, lr)}`` of every logged training step (step counted in the epoch).
        steps_per_epoch: ``{epoch: steps}`` from the ``epoch N done`` lines.
        valid: ``{epoch: {metric key: value, ..., "num_videos", "loss"}}`` (e.g. ``hit_at_one``, ``gap``).
        names: ``{metric key: display name}`` in log order.
        best_key / best_mode: what chooses the best checkpoint (``gap`` / ``max`` unless the log says).
        epochs: the planned number of epochs (from the last step line), or None.
        run: which run of the log this is (1-based) and ``runs`` how many the log holds.
    """

    steps: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)
    steps_per_epoch: dict[int, int] = field(default_factory=dict)
    valid: dict[int, dict[str, float]] = field(default_factory=dict)
    epochs: int | None = None
    run: int = 1
    runs: int = 1
    names: dict[str, str] = field(default_factory=dict)
    best_key: str = "gap"
    best_mode: str = "max"
    _display: dict[str, str] = field(default_factory=lambda: dict(LEGACY_NAMES), repr=False)

    def set_metrics(self, names: dict[str, str], best_display: str, mode: str) -> None:
        """Apply a ``[valid] metrics:`` line: ``names`` ``{key: display}``, the best key's display name and mode."""
        self._display = {d: k for k, d in names.items()}
        self.names = dict(names)
        self.best_key = self._display.get(best_display, best_display)
        self.best_mode = mode

    def key_of(self, display: str) -> str:
        """The metric key a display name of the validation line stands for."""
        return self._display.get(display, display)

    def best_epoch(self) -> int | None:
        """The epoch with the best value of :attr:`best_key` by :attr:`best_mode` (the earliest on a tie,
        as training keeps it), or None without such values."""
        epochs = [e for e in sorted(self.valid) if self.best_key in self.valid[e]]
        if not epochs:
            return None
        sign = 1.0 if self.best_mode == "max" else -1.0
        return max(epochs, key=lambda e: (sign * self.valid[e][self.best_key], -e))

    def epoch_loss(self) -> dict[int, float]:
        """Mean of the logged training losses of each epoch: ``{epoch: loss}``."""
        sums: dict[int, list[float]] = {}
        for (epoch, _), (loss, _) in self.steps.items():
            sums.setdefault(epoch, []).append(loss)
        return {e: sum(v) / len(v) for e, v in sorted(sums.items())}


def parse_training_log(path: str, run: int = -1) -> TrainingLog:
    """Parse a ``train.log`` written by ``main.py`` (format in the module docstring).

    Args:
        path: the log.
        run: which run to return when the log holds several (1-based; negative counts from the end, so
            the default -1 is the last).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file has neither training-step nor validation lines (naming the file and the
            line format expected), or has no run ``run`` (naming how many it has).
    """
    runs: list[TrainingLog] = [TrainingLog()]
    new_process = False
    pending: tuple[dict[str, str], str, str] | None = None   # a metrics line of a process not yet placed
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if _START.search(line):
                new_process = True
                continue
            if _RESUMED.search(line):
                new_process = False
                if pending:
                    runs[-1].set_metrics(*pending)
                    pending = None
                continue
            m_header = _HEADER.search(line)
            if m_header:
                header = (dict((k, d) for k, d in _HEADER_ITEM.findall(m_header.group(1))), m_header.group(2),
                          m_header.group(3))
                if new_process:
                    pending = header
                else:
                    runs[-1].set_metrics(*header)
                continue
            m_step, m_done, m_valid = _STEP.search(line), _DONE.search(line), _VALID.search(line)
            if not (m_step or m_done or m_valid):
                continue
            log = runs[-1]
            if new_process:
                new_process = False
                if log.steps or log.valid or log.steps_per_epoch:
                    log = TrainingLog()
                    runs.append(log)
                if pending:
                    log.set_metrics(*pending)
                    pending = None
            if m_step:
                m = m_step
                epoch, epochs, step = int(m.group(1)), int(m.group(2)), int(m.group(3))
                try:
                    log.steps[(epoch, step)] = (float(m.group(5)), float(m.group(6)))
                except ValueError:      # a damaged line: skip it rather than fail on a plot
                    continue
                log.epochs = epochs
            elif m_done:
                log.steps_per_epoch[int(m_done.group(1))] = int(m_done.group(2))
            else:
                m = m_valid
                tokens = m.group(2).split()
                if len(tokens) % 2:
                    continue            # a damaged line
                try:
                    values = {log.key_of(tokens[i]): float(tokens[i + 1]) for i in range(0, len(tokens), 2)}
                    values.update(num_videos=float(m.group(3)), loss=float(m.group(4)))
                except ValueError:
                    continue
                for i in range(0, len(tokens), 2):
                    log.names.setdefault(log.key_of(tokens[i]), tokens[i])
                log.valid[int(m.group(1))] = values
    if not runs[-1].steps and not runs[-1].valid:
        raise ValueError(f"{path}: no training lines found; expected lines such as 'epoch 1/5 step 10  loss "
                         "0.12345  lr 1.000e-03' and '[valid] epoch 1: Hit@1 ... GAP ...' written by main.py")
    if not -len(runs) <= run <= len(runs) or run == 0:
        raise ValueError(f"{path}: holds {len(runs)} run(s); there is no run {run}")
    index = run - 1 if run > 0 else len(runs) + run
    chosen = runs[index]
    chosen.run, chosen.runs = index + 1, len(runs)
    return chosen


def plot_training_log(log: TrainingLog, png_path: str, title: str = "") -> str:
    """Draw a 2-panel PNG: training loss (each logged step, and the mean per epoch; validation loss when
    present) and the validation metrics per epoch (the key of the best checkpoint thick, with its best
    epoch marked; the others thinner). Returns ``png_path``.

    The x axis is the epoch; a logged step ``s`` of epoch ``e`` with ``S`` steps sits at ``e - 1 + s / S``
    (``S`` from the ``epoch done`` line, else the largest logged step of that epoch).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss, ax_gap = fig.subplots(1, 2)
    if log.steps:
        last_step: dict[int, int] = {}
        for e, s in log.steps:
            last_step[e] = max(last_step.get(e, 0), s)
        pts = sorted((e - 1 + s / max(log.steps_per_epoch.get(e, last_step[e]), 1), loss)
                     for (e, s), (loss, _) in log.steps.items())
        ax_loss.plot([p[0] for p in pts], [p[1] for p in pts], color="#4c72b0", alpha=0.35, lw=1,
                     label="train loss (logged steps)")
        per_epoch = log.epoch_loss()
        ax_loss.plot(list(per_epoch), list(per_epoch.values()), "o-", color="#4c72b0", label="train loss (epoch mean)")
    if log.valid:
        epochs = sorted(log.valid)
        ax_loss.plot(epochs, [log.valid[e]["loss"] for e in epochs], "s--", color="#c44e52", label="valid loss")
        others = ("#8172b2", "#ccb974", "#64b5cd", "#dd8452", "#937860", "#da8bc3")
        values: list[float] = []
        for i, (key, name) in enumerate(sorted(log.names.items(), key=lambda kv: kv[0] != log.best_key)):
            pts = [(e, log.valid[e][key]) for e in epochs if key in log.valid[e]]
            values += [v for _, v in pts]
            style = dict(color="#55a868", lw=2.5, marker="o") if key == log.best_key else \
                dict(color=others[(i - 1) % len(others)], lw=1, marker=".")
            ax_gap.plot([p[0] for p in pts], [p[1] for p in pts], "-", label=name, **style)
        best = log.best_epoch()
        if best is not None:
            name = log.names.get(log.best_key, log.best_key)
            ax_gap.annotate(f"best {name} {log.valid[best][log.best_key]:.4f}", (best, log.valid[best][log.best_key]),
                            textcoords="offset points", xytext=(0, -16),
                            ha="right" if best == epochs[-1] and len(epochs) > 1 else "center")
        finite = [v for v in values if v == v and abs(v) != float("inf")]
        if finite and min(finite) >= 0 and max(finite) <= 1:
            ax_gap.set_ylim(0, 1.02)
    else:
        ax_gap.text(0.5, 0.5, "no validation lines in the log\n(train with --validate)", ha="center",
                    va="center", transform=ax_gap.transAxes)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("Loss")
    ax_loss.grid(alpha=0.3)
    ax_gap.set_xlabel("epoch")
    ax_gap.set_ylabel("validation metric")
    ax_gap.set_title(f"Validation metrics per epoch (best by {log.names.get(log.best_key, log.best_key)}, "
                     f"{log.best_mode})")
    ax_gap.grid(alpha=0.3)
    for ax in (ax_loss, ax_gap):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png_path)
    return png_path
