"""Fixtures for the inference tests: a tiny AttentionLSTM, its saved weights and its export."""
import os

import numpy as np
import paddle
import pytest
from inference_helpers import DATA, TINY_CFG

from paddlevideo.inference.export import build_eval_model, export_model


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A .pdparams of the tiny model with non-trivial random weights."""
    paddle.seed(7)
    model = build_eval_model(TINY_CFG["MODEL"])
    path = str(tmp_path_factory.mktemp("weights") / "tiny.pdparams")
    paddle.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory, tiny_weights):
    """(export result, eager model with the same weights in eval mode)."""
    out = str(tmp_path_factory.mktemp("export"))
    result = export_model(TINY_CFG, out, weights=tiny_weights)
    return result, build_eval_model(TINY_CFG["MODEL"], tiny_weights)


@pytest.fixture(scope="session")
def paddlevideo_pdparams(tmp_path_factory):
    """The PaddleVideo AttentionLSTM test checkpoint written as PaddleVideo writes it (.pdparams)."""
    state = np.load(os.path.join(DATA, "paddlevideo", "AttentionLSTM_small.state.npz"))
    path = str(tmp_path_factory.mktemp("pv") / "AttentionLSTM_small.pdparams")
    paddle.save({k: paddle.to_tensor(state[k]) for k in state.files}, path)
    return path
