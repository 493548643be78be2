"""AttentionLSTM and AttentionCluster against outputs saved before they moved onto ``FrameBackbone``.

``tests/data/backbones/reference.npz`` was written by ``make_backbone_reference.py`` with the code of the
commit before the refactoring. Here the same configs are built with the current code: the state-dict keys
must be the same (so existing checkpoints, and PaddleVideo ones through ``modeling.compat``, still load) and,
with the saved weights loaded, the backbone features, logits, probabilities and attention weights must equal
the saved ones within 1e-6.
"""
from __future__ import annotations

import os

import numpy as np
import paddle
import pytest

from paddlevideo.modeling import build_model
from tests.modeling.make_backbone_reference import CASES, model_config, run

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "data", "backbones", "reference.npz")


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("case", list(CASES))
def test_same_state_dict_keys_and_outputs(reference, case):
    model = build_model(model_config(case))
    keys = [str(k) for k in reference[f"{case}/keys"]]
    assert list(model.state_dict().keys()) == keys
    state = {k: paddle.to_tensor(reference[f"{case}/param/{k}"]) for k in keys}
    missing, unexpected = model.set_state_dict(state)
    assert not missing and not unexpected
    out = run(model, case, reference)
    expected = {k[len(case) + 1:] for k in reference if k.startswith(case + "/") and "/param/" not in k} - {"keys"}
    assert set(out) == expected
    for name in sorted(expected):
        np.testing.assert_allclose(out[name], reference[f"{case}/{name}"], atol=1e-6, rtol=0, err_msg=name)
