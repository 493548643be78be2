"""FrameBackbone: the contract of a frame-level backbone and the per-modality plumbing every one shares.

A frame-level backbone turns one padded frame-feature tensor per modality (``rgb``, ``audio`` ...) and the
number of valid frames of each video into one vector per video. The framework
(:class:`paddlevideo.modeling.framework.recognizer.Recognizer1D`) relies on exactly this:

* ``feature_names`` / ``feature_dims``: the batch keys of the modalities, in input order, and their widths;
* ``input_spec()``: the export signature, one ``InputSpec([None, None, D], uint8 | float32)`` per modality
  (dynamic batch and time) then ``lengths`` int64 ``[None]`` (used by :mod:`paddlevideo.inference.export`);
* ``out_channels``: the width of the output vector (the head's ``in_channels``);
* ``forward(features, lengths) -> float32 [B, out_channels]``;
* optionally ``attention_weights(features, lengths)``: one float32 ``[B, T]`` or ``[B, N, T]`` tensor per
  modality (used by :mod:`paddlevideo.visualization.attention`).

:class:`FrameBackbone` implements all of it: it validates the names and dims, dequantizes uint8 YouTube-8M
codes in the graph (docs/youtube8m_format.md#dequantization) or takes float32 features as they are, builds the
boolean mask of valid frames from ``lengths`` and calls the pooling method a subclass implements:

* :meth:`FrameBackbone.pool_modality` ``(index, x, mask, lengths) -> [B, C_index]`` for one modality; the base
  concatenates the modalities' outputs in ``feature_names`` order; or
* :meth:`FrameBackbone.pool_all` ``(xs, mask, lengths) -> [B, out_channels]`` for a model that mixes the
  modalities (early fusion);
* optionally :meth:`FrameBackbone.modality_attention` ``(index, x, mask, lengths)`` for ``attention_weights``.

A new aggregator is therefore one file with a registered subclass, and a config naming it (see
docs/contributing.md#adding-a-backbone). The pattern of one self-contained file per model family over shared
layers follows timm (``timm/models/``).
"""
from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..layers.attention import length_mask
from ..layers.dequantize import dequantize

__all__ = ["FrameBackbone", "frame_input_spec"]

#: Batch keys the framework uses itself; a modality cannot be called like one of them.
RESERVED_BATCH_KEYS = ("lengths", "labels")


def frame_input_spec(feature_names: Sequence[str], feature_dims: Sequence[int],
                     dequantize_input: bool = True) -> list[InputSpec]:
    """InputSpecs of a frame-level backbone for export: one ``[None, None, D]`` tensor per modality (dynamic
    batch and time), uint8 codes when the model dequantizes them in the graph (float32 otherwise), then
    ``lengths`` int64 ``[None]`` (valid frames per video).

    Args:
        feature_names: modality names in input order; they become the exported input names.
        feature_dims: feature width of each modality.
        dequantize_input: whether the inputs are uint8 YouTube-8M codes.

    Returns:
        ``[InputSpec, ..., InputSpec(lengths)]``.
    """
    dtype = "uint8" if dequantize_input else "float32"
    specs = [InputSpec([None, None, int(d)], dtype, name=n) for n, d in zip(feature_names, feature_dims)]
    return specs + [InputSpec([None], "int64", name="lengths")]


def _check_modalities(feature_names: Sequence[str], feature_dims: Sequence[int]) -> tuple[list[str], list[int]]:
    """Validated ``(names, dims)``; raises ValueError naming the first problem."""
    if isinstance(feature_names, str) or isinstance(feature_dims, (str, int)):
        raise ValueError(f"feature_names {feature_names!r} and feature_dims {feature_dims!r} must be lists "
                         "(one entry per modality)")
    names, dims = list(feature_names), list(feature_dims)
    if not names or len(names) != len(dims):
        raise ValueError(f"feature_names {names} and feature_dims {dims} must be non-empty and of the same length")
    for n in names:
        if not isinstance(n, str) or not n or n in RESERVED_BATCH_KEYS:
            raise ValueError(f"feature name {n!r} in {names}: a modality needs a non-empty name other than "
                             f"{', '.join(RESERVED_BATCH_KEYS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"feature_names {names} name a modality twice")
    for n, d in zip(names, dims):
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"feature_dims {dims}: the width of {n!r} must be an integer >= 1, got {d!r}")
    return names, dims


class FrameBackbone(nn.Layer):
    """Base of frame-level backbones (module docstring): owns modalities, dequantization, mask and export spec.

    Args:
        feature_names: modality names in input order (the batch keys), e.g. ``["rgb", "audio"]``.
        feature_dims: feature width of each modality, e.g. ``[1024, 128]``.
        dequantize_input: inputs are uint8 YouTube-8M codes, dequantized in the graph (default). Set False to
            feed float32 features that are already dequantized.

    A subclass calls ``super().__init__(feature_names, feature_dims, dequantize_input)``, builds its layers,
    sets ``self.out_channels`` and implements :meth:`pool_modality` or :meth:`pool_all` (and optionally
    :meth:`modality_attention`). The base adds no parameter, so a subclass's state-dict keys are its own.

    Inputs of :meth:`forward`: ``features`` a list with one uint8 (or float32) ``[B, T, D_m]`` tensor per
    modality, all padded to the same T; ``lengths`` int64 ``[B]``, valid frames per video (``0 <= lengths <= T``).
    Output float32 ``[B, out_channels]``.

    Raises:
        ValueError: ``feature_names`` / ``feature_dims`` are not lists of the same non-zero length, a name is
            empty, repeated or a reserved batch key (``lengths``, ``labels``), or a width is not an integer >= 1.
    """

    def __init__(self, feature_names: Sequence[str] = ("rgb", "audio"),
                 feature_dims: Sequence[int] = (1024, 128), dequantize_input: bool = True) -> None:
        super().__init__()
        self.feature_names, self.feature_dims = _check_modalities(feature_names, feature_dims)
        self.dequantize_input = bool(dequantize_input)

    @property
    def out_channels(self) -> int:
        """Width of the output vector (the head's ``in_channels``); set by the subclass's ``__init__``.

        Raises:
            NotImplementedError: the subclass did not set it.
        """
        value = self.__dict__.get("_out_channels")
        if value is None:
            raise NotImplementedError(f"{type(self).__name__}.__init__ must set self.out_channels")
        return value

    @out_channels.setter
    def out_channels(self, value: int) -> None:
        if isinstance(value, bool) or int(value) != value or int(value) < 1:
            raise ValueError(f"{type(self).__name__}: out_channels must be an integer >= 1, got {value!r}")
        self.__dict__["_out_channels"] = int(value)

    def input_spec(self) -> list[InputSpec]:
        """InputSpecs for export: one ``[None, None, D]`` uint8 (float32 when ``dequantize_input`` is False)
        per modality, dynamic batch and time, then ``lengths`` int64 ``[None]`` (see :func:`frame_input_spec`)."""
        return frame_input_spec(self.feature_names, self.feature_dims, self.dequantize_input)

    def prepare(self, x: paddle.Tensor) -> paddle.Tensor:
        """One modality's input as float32 features: uint8 codes dequantized, float32 passed through."""
        return dequantize(x) if self.dequantize_input else x

    def _prepared(self, features: Sequence[paddle.Tensor],
                  lengths: paddle.Tensor) -> tuple[list[paddle.Tensor], paddle.Tensor]:
        if len(features) != len(self.feature_names):
            raise ValueError(f"{type(self).__name__} takes {len(self.feature_names)} feature tensors "
                             f"({', '.join(self.feature_names)}), got {len(features)}")
        xs = [self.prepare(x) for x in features]
        return xs, length_mask(lengths, paddle.shape(xs[0])[1])

    def forward(self, features: Sequence[paddle.Tensor], lengths: paddle.Tensor) -> paddle.Tensor:
        """Dequantize, mask and pool: ``([uint8|float32 [B, T, D_m]], int64 [B]) -> float32 [B, out_channels]``.

        Raises:
            ValueError: the number of feature tensors differs from ``feature_names``.
        """
        xs, mask = self._prepared(features, lengths)
        return self.pool_all(xs, mask, lengths)

    def pool_all(self, xs: list[paddle.Tensor], mask: paddle.Tensor, lengths: paddle.Tensor) -> paddle.Tensor:
        """Pool all modalities into ``[B, out_channels]``; default: :meth:`pool_modality` of each, concatenated.

        Args:
            xs: float32 ``[B, T, D_m]`` per modality (dequantized; padded frames hold whatever the batch held).
            mask: bool ``[B, T]``, True on valid frames.
            lengths: int64 ``[B]``.

        Override this (instead of :meth:`pool_modality`) for a model that mixes the modalities.
        """
        return paddle.concat([self.pool_modality(i, x, mask, lengths) for i, x in enumerate(xs)], axis=1)

    def pool_modality(self, index: int, x: paddle.Tensor, mask: paddle.Tensor,
                      lengths: paddle.Tensor) -> paddle.Tensor:
        """Pool modality ``index``: ``x`` float32 ``[B, T, D_index]`` (``mask`` bool ``[B, T]``, ``lengths``
        int64 ``[B]``) -> float32 ``[B, C_index]``; the ``C_index`` sum to ``out_channels``.

        Raises:
            NotImplementedError: the subclass implements neither this nor :meth:`pool_all`.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement pool_modality or pool_all")

    def modality_attention(self, index: int, x: paddle.Tensor, mask: paddle.Tensor,
                           lengths: paddle.Tensor) -> paddle.Tensor:
        """Optional: attention weights of modality ``index`` over its frames, float32 ``[B, T]`` or
        ``[B, N, T]`` (N attention units), exactly 0 on padded frames. Same inputs as :meth:`pool_modality`.

        Raises:
            ValueError: the subclass has no attention weights (it does not override this method).
        """
        raise ValueError(f"backbone {type(self).__name__} has no attention_weights: it does not implement "
                         "modality_attention")

    def attention_weights(self, features: Sequence[paddle.Tensor], lengths: paddle.Tensor) -> list[paddle.Tensor]:
        """Attention weights, one float32 ``[B, T]`` or ``[B, N, T]`` tensor per modality (rows sum to 1 over
        the valid frames, exactly 0 on padding), from :meth:`modality_attention`. Call in eval mode for
        deterministic weights.

        Raises:
            ValueError: the backbone has no attention (see :meth:`modality_attention`), or the number of
                feature tensors differs from ``feature_names``.
        """
        xs, mask = self._prepared(features, lengths)
        return [self.modality_attention(i, x, mask, lengths) for i, x in enumerate(xs)]
