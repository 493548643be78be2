import os

import pytest

from paddlevideo.utils.config import ConfigError, apply_overrides, load_config
from paddlevideo.utils.registry import Registry, build

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "configs/recognition/attention_lstm/attention_lstm_youtube8m_demo.yaml")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_overrides_are_parsed_as_yaml_not_eval(tmp_path):
    cfg = {"epochs": 1, "MODEL": {"head": {"num_classes": 3}}, "PIPELINE": {"train": [{"max_frames": 300}]}}
    apply_overrides(cfg, ["epochs=7", "MODEL.head.num_classes=100", "new.key=[1, 2]",
                          "PIPELINE.train.0.max_frames=50", "name=__import__('os')", "flag=true"])
    assert cfg["epochs"] == 7 and isinstance(cfg["epochs"], int)
    assert cfg["MODEL"]["head"]["num_classes"] == 100
    assert cfg["new"]["key"] == [1, 2]
    assert cfg["PIPELINE"]["train"][0]["max_frames"] == 50
    assert cfg["name"] == "__import__('os')"  # a string, never evaluated
    assert cfg["flag"] is True


def test_bad_override_messages():
    with pytest.raises(ConfigError, match="KEY.SUB=VALUE"):
        apply_overrides({}, ["epochs"])
    with pytest.raises(ConfigError, match="not an index"):
        apply_overrides({"a": [1]}, ["a.5=2"])


def test_base_inheritance_and_delete(tmp_path):
    write(tmp_path, "base.yaml", "model_name: A\nMODEL: {framework: X, head: {num_classes: 5, w: 1}}\n"
                                 "OPTIMIZER: {name: RMSProp, centered: true}\nepochs: 3\n")
    top = write(tmp_path, "top.yaml", "_base_: base.yaml\nMODEL: {head: {num_classes: 7}}\n"
                                      "OPTIMIZER: {_delete_: true, name: Adam}\n")
    cfg = load_config(top, ["epochs=4"])
    assert cfg.MODEL.head.num_classes == 7 and cfg.MODEL.head.w == 1 and cfg.MODEL.framework == "X"
    assert dict(cfg.OPTIMIZER) == {"name": "Adam"}
    assert cfg.epochs == 4


def test_unknown_top_level_key_lists_valid_keys(tmp_path):
    p = write(tmp_path, "c.yaml", "model_name: A\nMODEL: {framework: X}\nepoch: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "'epoch'" in str(e.value) and "Did you mean 'epochs'" in str(e.value) and "log_interval" in str(e.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "nope.yaml"))
    p = write(tmp_path, "bad.yaml", "a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_registry_errors_list_valid_names_and_options():
    reg = Registry("thing")

    @reg.register()
    class Alpha:
        def __init__(self, size: int = 1):
            self.size = size

    assert build({"name": "Alpha", "size": 3}, reg).size == 3
    with pytest.raises(KeyError) as e:
        build({"name": "Alpah"}, reg)
    assert "Did you mean 'Alpha'" in str(e.value) and "Valid names: Alpha" in str(e.value)
    with pytest.raises(ValueError) as e:
        build({"name": "Alpha", "sise": 3}, reg)
    assert "'sise'" in str(e.value) and "Valid options: size" in str(e.value)
    with pytest.raises(KeyError, match="already registered"):
        reg.register("Alpha")(Alpha)


def test_demo_config_loads_and_builds():
    from paddlevideo.modeling import build_model

    cfg = load_config(DEMO)
    assert cfg.OPTIMIZER.name == "Adam" and "centered" not in cfg.OPTIMIZER
    model = build_model(cfg.MODEL)
    assert model.head.num_classes == 100


def test_typo_in_model_component_fails_at_build():
    from paddlevideo.modeling import build_model

    cfg = load_config(DEMO, ["MODEL.backbone.lstm_sise=8"])
    with pytest.raises(ValueError, match="lstm_sise.*Did you mean 'lstm_size'"):
        build_model(cfg.MODEL)
    cfg = load_config(DEMO, ["MODEL.head.name=MLPHaed"])
    with pytest.raises(KeyError, match="MLPHead"):
        build_model(cfg.MODEL)


def test_typo_in_dataset_or_pipeline_section_is_caught(tmp_path):
    from paddlevideo.utils.config import ConfigError, load_config

    base = os.path.join(ROOT, "configs", "recognition", "attention_lstm", "attention_lstm_youtube8m_demo.yaml")
    with pytest.raises(ConfigError, match=r"unknown key DATASET\.batch_sise\. Did you mean 'batch_size'"):
        load_config(base, ["DATASET.batch_sise=4"])
    with pytest.raises(ConfigError, match=r"unknown key PIPELINE\.tarin.*Valid keys: train, valid, test"):
        load_config(base, ["PIPELINE.tarin=[]"])
