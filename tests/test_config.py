import pytest

from umeval.core.config import compose_config
from umeval.core.errors import ConfigError


def test_defaults_and_overrides():
    cfg = compose_config(["batch_size=3", "model=ume-r1-7b", "task=[Mini-T2V,Mini-VisDoc]"])
    assert cfg.batch_size == 3
    assert cfg.model.path == "zhibinlan/UME-R1-7B"
    assert cfg.model.decoding.do_sample is True and cfg.model.decoding.top_k == 50
    assert list(cfg.task) == ["Mini-T2V", "Mini-VisDoc"]


@pytest.mark.parametrize("override, message", [
    ("batch_sise=2", "unknown setting 'batch_sise'; valid top-level settings: "),
    ("model.min_pixel=2", "unknown setting 'model.min_pixel'; valid settings of model: "),
    ("model=ume-r1-3b", "unknown model 'ume-r1-3b'; did you mean"),
    ("batch_size=many", "could not be converted to Integer"),
    ("mode=oracle", "mode=oracle is not one of disc, gen, both"),
    ("task", "bad argument 'task'"),
])
def test_bad_config_is_one_line(override, message):
    with pytest.raises(ConfigError) as e:
        compose_config([override])
    assert message in str(e.value)
    assert "\n" not in str(e.value)
