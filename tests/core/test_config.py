import pytest

from genviz.core import config, registry
from genviz.core.config import ConfigError, TrainConfig


@pytest.mark.parametrize("field,value", [("lr", 0.0), ("lr", -1e-3), ("batch_size", 0), ("steps", 0),
                                         ("snapshot_every", 0), ("lr", float("nan")), ("device", "tpu")])
def test_train_config_refuses_bad_values_naming_the_field(field, value):
    with pytest.raises(ConfigError) as e:
        config.make(TrainConfig, {field: value})
    assert e.value.field == field
    assert field in str(e.value)


def test_model_config_refuses_zero_layers_and_unknown_names():
    with pytest.raises(ConfigError, match="n_layers"):
        registry.make_config("realnvp", {"n_layers": 0})
    with pytest.raises(ConfigError, match="known: "):
        registry.make_config("realnvp", {"layers": 3})
    with pytest.raises(ConfigError, match="base"):
        registry.make_config("realnvp", {"base": "laplace"})


def test_coerce_parses_cli_strings():
    cfg = config.make(TrainConfig, {"lr": "3e-4", "batch_size": "128", "steps": "1e3"})
    assert cfg.lr == pytest.approx(3e-4) and cfg.batch_size == 128 and cfg.steps == 1000
    with pytest.raises(ConfigError, match="batch_size"):
        config.make(TrainConfig, {"batch_size": "12.5"})


def test_every_registry_model_has_valid_defaults_and_metadata():
    from dataclasses import fields

    for name in registry.names():
        spec = registry.get(name)
        cfg = registry.make_config(name)  # defaults validate
        for f in fields(cfg):
            assert f.metadata.get("help"), f"{name}.{f.name} has no help text for its tooltip"
        registry.train_config(name)  # its train defaults validate too
        assert spec.family and spec.data_kinds
