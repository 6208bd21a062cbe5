import pytest

from mol.train.config import PRESET_DIR, load_config


def test_every_preset_loads_and_validates():
    names = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
    assert names == ["casme2-5cls", "megc2019-3cls", "reference", "samm-5cls", "smic-3cls", "synthetic-demo"]
    for name in names:
        config = load_config(name)
        assert config.loss_mer == 1.0 and config.weight_decay == 1e-3
    for name in ("casme2-5cls", "samm-5cls", "smic-3cls", "megc2019-3cls", "reference"):  # the reference's objective
        config = load_config(name)
        assert (config.lr, config.loss_flow, config.loss_landmark, config.crop_jitter) == (1e-4, 10.0, 0.1, 8)
    assert load_config("megc2019-3cls").protocol == "composite"
    assert load_config("casme2-5cls").batch_size == 32 and load_config("casme2-5cls").steps == 1000


def test_the_reference_preset_sets_each_of_the_authors_quirks():
    config = load_config("reference")
    quirks = (config.eval_mode_after_epochs, config.fcc_init, config.test_crops, config.normalize, config.flip)
    assert quirks == (1, "randn", 5, "subject", False)
    assert (config.steps, config.batch_size, config.lr, config.crop_jitter) == (1001, 32, 1e-4, 8)
    assert load_config(None).eval_mode_after_epochs == 0 and load_config(None).test_crops == 1  # defaults: off


def test_overrides_are_typed_and_checked(tmp_path):
    config = load_config("synthetic-demo", ["steps=7", "flip=false", "loss_flow=0", "cross_train=casme2,samm"])
    assert (config.steps, config.flip, config.loss_flow, config.cross_train) == (7, False, 0.0, ["casme2", "samm"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        load_config(None, ["learning_rate=1"])
    with pytest.raises(ValueError, match="protocol"):
        load_config(None, ["protocol=kfold"])
    with pytest.raises(ValueError, match="clip_sampling"):
        load_config(None, ["clip_sampling=apex"])
    with pytest.raises(ValueError, match="loss weight"):
        load_config(None, ["loss_mer=0", "loss_flow=0", "loss_landmark=0"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("iterations: 3\n")
    with pytest.raises(ValueError, match="unknown config keys"):
        load_config(str(bad))
    with pytest.raises(ValueError, match="presets"):
        load_config("nope")


def test_yaml_values_are_typed_and_ranged_with_the_key_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 1e-4\nsteps: 10.0\nloss_flow: 2\nflip: false\n")  # YAML 1.1 reads 1e-4 as text
    config = load_config(str(path))
    assert (config.lr, config.steps, config.loss_flow) == (1e-4, 10, 2.0)
    assert isinstance(config.lr, float) and isinstance(config.steps, int) and isinstance(config.loss_flow, float)
    for text, match in (
        ("lr: fast\n", "lr: expected a number"),
        ("steps: 2.5\n", "steps: expected a whole number"),
        ("flip: 3\n", "flip: expected true/false"),
        ("lr: -1.0\n", r"lr must lie in"),
        ("crop_jitter: 12\n", r"crop_jitter must lie in \[0, 8\]"),
        ("dropout: 1.0\n", "dropout must lie in"),
    ):
        path.write_text(text)
        with pytest.raises(ValueError, match=match):
            load_config(str(path))
    with pytest.raises(ValueError, match="batch_size must lie in"):
        load_config(None, ["batch_size=0"])


def test_only_the_synthetic_preset_starts_from_the_pretrained_weights():
    demo = load_config("synthetic-demo")
    assert (demo.init, demo.motion_input) == ("pretrained", "diff")
    for name in ("casme2-5cls", "samm-5cls", "smic-3cls", "megc2019-3cls", "reference"):  # the authors' start
        assert (load_config(name).init, load_config(name).motion_input) == ("scratch", "raw")


def test_init_is_checked(tmp_path):
    from mol.errors import ConfigError

    with pytest.raises(ConfigError, match="no file"):
        load_config(None, [f"init={tmp_path / 'missing.safetensors'}"])
    with pytest.raises(ConfigError, match="ststnet"):
        load_config(None, ["init=pretrained", "model=ststnet"])
    with pytest.raises(ConfigError, match="motion_input"):
        load_config(None, ["motion_input=optical"])


def test_train_layers_is_checked():
    from mol.errors import ConfigError

    assert load_config(None, ["train_layers=heads"]).train_layers == "heads"
    assert load_config(None, ["train_layers=class_layer"]).train_layers == "class_layer"
    with pytest.raises(ConfigError, match="train_layers must be one of"):
        load_config(None, ["train_layers=mer"])
    with pytest.raises(ConfigError, match="ststnet"):
        load_config(None, ["train_layers=heads", "model=ststnet"])
