"""PaddleVideo AttentionLstmHead checkpoints load into the backbone/head split and give PaddleVideo's logits."""
import json
import os

import numpy as np
import paddle
import pytest
from inference_helpers import DATA, TINY_CFG

from paddlevideo.inference.export import build_eval_model
from paddlevideo.modeling.compat import (
    convert_foreign_state,
    convert_paddlevideo_attention_lstm,
    is_paddlevideo_attention_lstm,
)
from paddlevideo.utils.checkpoint import CheckpointError, load_weights

PV = os.path.join(DATA, "paddlevideo")


def pv_model_cfg(**head):
    with open(os.path.join(PV, "config.json")) as f:
        c = json.load(f)
    h = {"name": "MLPHead", "num_classes": c["num_classes"], "hidden_sizes": [8192, 4096],
         "activations": ["relu", "tanh"]}
    h.update(head)
    return {"framework": "Recognizer1D",
            "backbone": {"name": "AttentionLSTM", "feature_dims": c["feature_dims"],
                         "embedding_size": c["embedding_size"], "lstm_size": c["lstm_size"]},
            "head": h}


def test_rename_table_on_paddlevideo_names():
    # expected names written out by hand from PaddleVideo's attribute layout
    state = {"head.fc_feature1.bias": 1, "head.bi_lstm0.weight_hh_l0_reverse": 2,
             "head.bi_lstm1.0.cell_bw.bias_ih": 3, "head.att_fc0.weight": 4, "head.fc_out1.weight": 5,
             "head.fc_out2.bias": 6, "head.fc_logit.weight": 7}
    assert is_paddlevideo_attention_lstm(state)
    assert convert_paddlevideo_attention_lstm(state) == {
        "backbone.fc_feature.1.bias": 1, "backbone.bi_lstm.0.weight_hh_l0_reverse": 2,
        "backbone.bi_lstm.1.0.cell_bw.bias_ih": 3, "backbone.att_fc.0.weight": 4, "head.fcs.0.weight": 5,
        "head.fcs.1.bias": 6, "head.fc_logit.weight": 7}


def test_native_state_is_left_alone():
    state = {"backbone.fc_feature.0.weight": 1, "head.fc_logit.weight": 2}
    out, origin = convert_foreign_state(state, state.keys())
    assert out == state and origin is None
    assert not is_paddlevideo_attention_lstm(state)


def test_paddlevideo_checkpoint_reproduces_paddlevideo_logits(paddlevideo_pdparams):
    model = build_eval_model(pv_model_cfg(), paddlevideo_pdparams)
    exp = np.load(os.path.join(PV, "expected.npz"))
    with paddle.no_grad():
        feats = [paddle.to_tensor(exp["rgb_q"]), paddle.to_tensor(exp["audio_q"])]
        lengths = paddle.to_tensor(exp["lengths"])
        logits = model.head_output(feats, lengths).numpy()
        probs = model.infer_forward(*feats, lengths).numpy()
    np.testing.assert_allclose(logits, exp["logits"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(probs, exp["probs"], rtol=0, atol=1e-5)


def test_paddlevideo_checkpoint_into_wrong_head_names_the_parameter(paddlevideo_pdparams):
    model = build_eval_model(pv_model_cfg(num_classes=65))
    with pytest.raises(CheckpointError, match=r"head\.fc_logit\.weight.*\[4096, 64\].*\[4096, 65\]") as e:
        load_weights(model, paddlevideo_pdparams)
    assert "PaddleVideo" in str(e.value) and paddlevideo_pdparams in str(e.value)


def test_paddlevideo_checkpoint_into_other_model_fails_clearly(paddlevideo_pdparams):
    model = build_eval_model(TINY_CFG["MODEL"])  # embedding 8, not 32
    with pytest.raises(CheckpointError, match=r"'backbone\.fc_feature\.0\.weight' has shape \[1024, 32\] in the "
                                              r"checkpoint but \[1024, 8\]"):
        load_weights(model, paddlevideo_pdparams)


def test_fewer_hidden_layers_fail_on_the_first_mismatch(paddlevideo_pdparams):
    model = build_eval_model(pv_model_cfg(hidden_sizes=[4096], activations=["relu"]))
    with pytest.raises(CheckpointError, match=r"'head\.fcs\.0\.weight' has shape \[192, 8192\]"):
        load_weights(model, paddlevideo_pdparams)
