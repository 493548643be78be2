"""PaddleVideo ``AttentionLstmHead`` checkpoints -> this package's AttentionLSTM backbone + MLPHead.

PaddleVideo (``paddlevideo/modeling/heads/attention_lstm_head.py``) keeps the whole AttentionLSTM in its
head, one numbered attribute per modality; this package splits it into ``backbone`` (per-modality
layers in ``LayerList``s) and ``head`` (the classifier). The computation is the same
(docs/models_reference.md#paddlevideo-attentionlstm), so a checkpoint converts by renaming alone:

==========================================  ==========================================
PaddleVideo                                  this package
==========================================  ==========================================
``head.fc_feature{i}.{weight,bias}``         ``backbone.fc_feature.{i}.{weight,bias}``
``head.bi_lstm{i}.<lstm parameter>``         ``backbone.bi_lstm.{i}.<lstm parameter>``
``head.att_fc{i}.{weight,bias}``             ``backbone.att_fc.{i}.{weight,bias}``
``head.fc_out{n}.{weight,bias}`` (n >= 1)    ``head.fcs.{n-1}.{weight,bias}``
``head.fc_logit.{weight,bias}``              ``head.fc_logit.{weight,bias}``
==========================================  ==========================================

``<lstm parameter>`` covers both names under which ``paddle.nn.LSTM`` stores each tensor
(``weight_ih_l0`` ... and the duplicate ``0.cell_fw.weight_ih`` ...); both are kept, as the model's own
state dict has both. The matching config is the full ``attention_lstm_youtube8m.yaml`` head
(``hidden_sizes: [8192, 4096]``, ``activations: [relu, tanh]``), which PaddleVideo hard-codes.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["convert_paddlevideo_attention_lstm", "is_paddlevideo_attention_lstm"]

_RULES = (
    (re.compile(r"^head\.fc_feature(\d+)\.(.+)$"), lambda m: f"backbone.fc_feature.{m[1]}.{m[2]}"),
    (re.compile(r"^head\.bi_lstm(\d+)\.(.+)$"), lambda m: f"backbone.bi_lstm.{m[1]}.{m[2]}"),
    (re.compile(r"^head\.att_fc(\d+)\.(.+)$"), lambda m: f"backbone.att_fc.{m[1]}.{m[2]}"),
    (re.compile(r"^head\.fc_out(\d+)\.(.+)$"), lambda m: f"head.fcs.{int(m[1]) - 1}.{m[2]}"),
)
_SIGNATURE = re.compile(r"^head\.(fc_feature|bi_lstm|att_fc)\d+\.")


def is_paddlevideo_attention_lstm(state: Mapping[str, Any]) -> bool:
    """True if ``state`` has PaddleVideo ``AttentionLstmHead`` parameter names (``head.fc_feature0.weight``,
    ``head.bi_lstm0.weight_ih_l0``, ``head.att_fc0.weight`` ...)."""
    return any(_SIGNATURE.match(k) for k in state)


def convert_paddlevideo_attention_lstm(state: Mapping[str, Any]) -> dict[str, Any]:
    """Rename a PaddleVideo AttentionLSTM state dict to this package's parameter names (table above).

    Args:
        state: PaddleVideo state dict (name -> tensor/array, any shapes); values are not copied or changed.

    Returns:
        A new dict with the same values under the new names; names no rule matches (e.g.
        ``head.fc_logit.weight``) are kept as they are.

    Raises:
        ValueError: if two PaddleVideo names map to the same new name, or ``head.fc_out0`` appears
            (PaddleVideo numbers its hidden FCs from 1).
    """
    out: dict[str, Any] = {}
    for key, value in state.items():
        new = key
        for pattern, target in _RULES:
            m = pattern.match(key)
            if m:
                if pattern.pattern.startswith(r"^head\.fc_out") and int(m[1]) < 1:
                    raise ValueError(f"PaddleVideo checkpoint parameter {key!r}: fc_out layers are numbered from 1")
                new = target(m)
                break
        if new in out:
            raise ValueError(f"PaddleVideo checkpoint parameters map twice onto {new!r} (second: {key!r})")
        out[new] = value
    return out
