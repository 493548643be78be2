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


# ---- typed values: every mistake of the issue gives one line naming the key, the value and what was expected

BAD_VALUES = [
    (["epochs=abc"], "-o epochs='abc': should be a valid integer, unable to parse string as an integer"),
    (["seed=abc"], "-o seed='abc': should be a valid integer, unable to parse string as an integer"),
    (["DATASET.batch_size=abc"],
     "-o DATASET.batch_size='abc': should be a valid integer, unable to parse string as an integer"),
    (["MODEL.head.num_classes=abc"],
     "-o MODEL.head.num_classes='abc': should be a valid integer, unable to parse string as an integer"),
    (["DATASET.num_workers=-3"], "-o DATASET.num_workers=-3: should be greater than or equal to 0"),
    (["MODEL.backbone.embedding_size=-4"], "-o MODEL.backbone.embedding_size=-4: should be greater than or equal to 1"),
    (["epochs=[1,2]"], "-o epochs=[1, 2]: should be a valid integer"),
    (["output_dir=[a]"], "-o output_dir=['a']: should be a valid string"),
    (["epochs=0"], "-o epochs=0: should be greater than or equal to 1"),
    (["OPTIMIZER.learning_rate=abc"],
     "-o OPTIMIZER.learning_rate='abc': should be a valid number, unable to parse string as a number"),
    (["MODEL.head.hidden_sizes=[16,-1]"],
     "-o MODEL.head.hidden_sizes=[16, -1]: item 1 should be greater than or equal to 1"),
    (["MODEL.head.drop_rate=1.5"], "-o MODEL.head.drop_rate=1.5: should be less than 1"),
    (["PIPELINE.train.0.max_frames=0"], "-o PIPELINE.train.0.max_frames=0: should be greater than or equal to 1"),
    (["DATASET.train.shuffle=maybe"],
     "-o DATASET.train.shuffle='maybe': should be a valid boolean, unable to interpret input"),
    (["OPTIMIZER.learning_rate.values=[1,x,2]"],
     "-o OPTIMIZER.learning_rate.values=[1, 'x', 2]: item 1 should be a valid number, "
     "unable to parse string as a number"),
    (["OPTIMIZER.beta1=abc"], "-o OPTIMIZER.beta1='abc': should be a valid number, unable to parse string as a number"),
    (["OPTIMIZER.weight_decay.value=-1"], "-o OPTIMIZER.weight_decay.value=-1: should be greater than or equal to 0"),
    (["METRIC.top_k=0"], "-o METRIC.top_k=0: should be greater than or equal to 1"),
]


def _load_and_check(overrides, path=DEMO):
    from paddlevideo.tasks.config_check import check_components
    from paddlevideo.utils.config import overridden_keys

    cfg = load_config(path, overrides)
    check_components(cfg, path, overridden_keys(overrides))
    return cfg


@pytest.mark.parametrize("overrides,message", BAD_VALUES, ids=[o[0] for o, _ in BAD_VALUES])
def test_bad_values_name_the_key_the_value_and_what_was_expected(overrides, message):
    with pytest.raises(ConfigError) as e:
        _load_and_check(overrides)
    assert str(e.value) == message


def test_a_bad_value_from_the_file_names_the_file(tmp_path):
    p = write(tmp_path, "c.yaml", f"_base_: {DEMO}\nMODEL: {{backbone: {{lstm_size: 0}}}}\n")
    with pytest.raises(ConfigError) as e:
        _load_and_check([], p)
    assert str(e.value) == f"{p}: MODEL.backbone.lstm_size=0: should be greater than or equal to 1"


def test_unknown_names_and_options_keep_their_did_you_mean_hints_with_the_key_path():
    with pytest.raises(ConfigError) as e:
        _load_and_check(["MODEL.backbone.lstm_sise=3"])
    assert str(e.value).startswith("-o MODEL.backbone: backbone 'AttentionLSTM' has no option 'lstm_sise'. "
                                   "Did you mean 'lstm_size'?")
    with pytest.raises(ConfigError) as e:
        _load_and_check(["MODEL.backbone.name=AttentionLTSM"])
    assert str(e.value) == ("-o MODEL.backbone.name: unknown backbone 'AttentionLTSM'. Did you mean 'AttentionLSTM'? "
                            "Valid names: AttentionCluster, AttentionLSTM, DBoF, HierarchicalAttention, "
                            "NeXtVLAD, NetFV, NetVLAD, SoftDBoW")
    with pytest.raises(ConfigError, match=r"^-o MODEL.head: head 'MLPHead' needs the option 'num_classes'"):
        _load_and_check(["MODEL.head={name: MLPHead}"])


def test_numbers_written_as_strings_are_taken_as_the_number():
    """YAML 1.1 reads 1e-3 (no dot) as a string: where a float is expected it is the number 0.001, and
    training builds its optimizer with that rate; a quoted integer is the integer."""
    from paddlevideo.modeling import build_model
    from paddlevideo.solver import build_optimizer

    cfg = _load_and_check(["OPTIMIZER.learning_rate=1e-3", "epochs='3'", "OPTIMIZER.weight_decay.value=1e-5"])
    assert cfg.OPTIMIZER.learning_rate == 0.001 and isinstance(cfg.OPTIMIZER.learning_rate, float)
    assert cfg.epochs == 3 and isinstance(cfg.epochs, int)
    assert cfg.OPTIMIZER.weight_decay.value == 1e-5
    opt, scheduler, _ = build_optimizer(cfg.OPTIMIZER, build_model(cfg.MODEL).parameters())
    assert scheduler is None and opt.get_lr() == pytest.approx(1e-3)


def test_every_shipped_config_passes_the_checks():
    import glob

    for path in sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True)):
        _load_and_check([], path)


# ---- YAML that is cheap to write and costly to read

BOMB = ("model_name: A\nMODEL: {framework: Recognizer1D}\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")))


def test_alias_bomb_is_refused_fast_in_one_line(tmp_path):
    import time

    p = write(tmp_path, "bomb.yaml", BOMB)               # 9**9 = 387 million strings when expanded
    start = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert time.perf_counter() - start < 5
    assert str(e.value) == (f"{p}: refused: its aliases expand to more than 100000 nodes (line 8); a config this "
                            "large is refused (a YAML alias bomb?)")
    chain = ", ".join(["&a0 [1, 1]"] + [f"&a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 20)])   # 2**20 ones
    with pytest.raises(ConfigError, match=r"^override 'x=\[&a0 \[1, 1\], .*\]': refused: its aliases expand to more"):
        apply_overrides({}, [f"x=[{chain}]"])


def test_recursive_alias_and_deep_nesting_are_refused_in_one_line(tmp_path):
    p = write(tmp_path, "rec.yaml", "model_name: A\nMODEL: &m {framework: Recognizer1D, self: *m}\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value) == f"{p}: refused: an alias refers to the node of line 2 from inside it (a recursive structure)"
    p = write(tmp_path, "deep.yaml", "model_name: A\nx: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value) == f"{p}: refused: nested deeper than 64 levels"
    # an ordinary alias is still fine
    p = write(tmp_path, "ok.yaml", "model_name: A\nMODEL: {framework: X}\nINFERENCE: {a: &s [1, 2], b: *s}\n")
    assert load_config(p).INFERENCE == {"a": [1, 2], "b": [1, 2]}
