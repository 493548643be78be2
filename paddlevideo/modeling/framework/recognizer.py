"""Recognizer1D: backbone + head + loss over per-frame (1-D in time) video features."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ...utils.registry import build
from ..registry import BACKBONES, HEADS, LOSSES, RECOGNIZERS


@RECOGNIZERS.register()
class Recognizer1D(nn.Layer):
    """Video classifier on frame-level features, ``forward(batch, mode)`` as in PaddleVideo.

    Args:
        backbone: backbone config (``name`` + options); the backbone declares ``feature_names``,
            ``out_channels`` and ``input_spec()``.
        head: head config; built with ``in_channels = backbone.out_channels``. The head declares
            ``output_type`` (``logits`` or ``probs``) and ``to_probs(out)``.
        loss: loss config; its ``input_type`` must equal the head's ``output_type``.

    The batch is a mapping with one uint8 [B, T, D] tensor per feature name, ``lengths`` int64 [B] and,
    except for ``infer``, ``labels`` float32 multi-hot [B, C]; an optional ``label_weights`` float32 [B, C]
    (a dataset's declared extra key) is passed to the loss as ``weights``.

    Raises:
        ValueError: if the loss expects logits and the head gives probabilities, or the reverse.
    """

    def __init__(self, backbone: Mapping[str, Any], head: Mapping[str, Any],
                 loss: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.backbone = build(backbone, BACKBONES)
        self.head = build(head, HEADS, in_channels=self.backbone.out_channels)
        self.loss_func = build(loss, LOSSES) if loss else None
        if self.loss_func is not None:
            out_t, in_t = getattr(self.head, "output_type", "logits"), getattr(self.loss_func, "input_type", "logits")
            if out_t != in_t:
                raise ValueError(f"head {type(self.head).__name__} outputs {out_t} but loss "
                                 f"{type(self.loss_func).__name__} expects {in_t}")

    @property
    def feature_names(self) -> list[str]:
        """Batch keys of the input features, in backbone order."""
        return list(self.backbone.feature_names)

    def input_spec(self) -> list[InputSpec]:
        """InputSpecs of :meth:`infer_forward` (one per feature, then lengths), owned by the backbone."""
        return self.backbone.input_spec()

    def head_output(self, features: list[paddle.Tensor], lengths: paddle.Tensor) -> paddle.Tensor:
        """Raw head output (logits or probabilities, see ``head.output_type``), float32 [B, C]."""
        return self.head(self.backbone(features, lengths))

    def infer_forward(self, *inputs: paddle.Tensor) -> paddle.Tensor:
        """Positional entry point for export: ``(*features, lengths) -> probabilities float32 [B, C]``."""
        *features, lengths = inputs
        return self.head.to_probs(self.head_output(list(features), lengths))

    def forward(self, batch: Mapping[str, paddle.Tensor], mode: str = "infer") -> dict[str, paddle.Tensor]:
        """Run one batch.

        Args:
            batch: see the class docstring.
            mode: ``train`` returns ``{"loss"}``; ``valid`` and ``test`` return ``{"loss", "probs"}``;
                ``infer`` returns ``{"probs"}``. ``probs`` is float32 [B, C] in [0, 1].

        Raises:
            ValueError: for an unknown mode, or a mode with a loss but no loss configured.
        """
        if mode not in ("train", "valid", "test", "infer"):
            raise ValueError(f"unknown mode {mode!r}; valid: train, valid, test, infer")
        out = self.head_output([batch[n] for n in self.feature_names], batch["lengths"])
        result: dict[str, paddle.Tensor] = {}
        if mode != "infer":
            if self.loss_func is None:
                raise ValueError(f"mode {mode!r} needs MODEL.loss in the config")
            if "label_weights" in batch:
                result["loss"] = self.loss_func(out, batch["labels"], weights=batch["label_weights"])
            else:
                result["loss"] = self.loss_func(out, batch["labels"])
        if mode != "train":
            result["probs"] = self.head.to_probs(out)
        return result
