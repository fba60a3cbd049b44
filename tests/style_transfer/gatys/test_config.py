"""GatysConfig: bad values refused; the options a user gave, the rest from the defaults."""

from __future__ import annotations

import pytest

from shared.cli import default_of
from shared.errors import UserError
from style_transfer.gatys.config import GatysConfig, config_from


@pytest.mark.parametrize(
    "bad",
    [
        {"optimizer": "rmsprop"},
        {"loss": "l3"},
        {"init": "zeros"},
        {"style_weight": -1.0},
        {"content_weight": float("nan")},
        {"scales": ()},
        {"iters": 0},
        {"style_scale": 0.0},
    ],
)
def test_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        GatysConfig(**bad)


def test_options_given_override_only_their_own_defaults() -> None:
    config = config_from({"iters": 7, "preserve_color": True}, size=96)
    assert (config.iters, config.preserve_color, tuple(config.scales)) == (7, True, (96,))
    assert config.style_weight == default_of(GatysConfig, "style_weight")
    assert tuple(config_from({}).scales) == tuple(default_of(GatysConfig, "scales"))
    assert tuple(config_from({"scales": [32, 64], "iters": (3, 2)}).scales) == (32, 64)


def test_bad_options_are_one_line_user_errors() -> None:
    with pytest.raises(UserError, match="not both"):
        config_from({"scales": (32, 64)}, size=64)
    with pytest.raises(UserError, match="tv_weight must be a finite number >= 0"):
        config_from({"tv_weight": -1.0})
