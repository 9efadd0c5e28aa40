"""Each learning-rate schedule's curve, and the optimizer the config asks for."""
import math

import pytest

from trainer.config.resolve import resolve_train_config
from trainer.errors import ConfigError
from trainer.train.optim import lr_schedule, make_optimizer

TOTAL, ITERS = 100, 10


def _curve(*sets: str) -> list[float]:
    cfg = resolve_train_config(None, "demo", ["lr=0.01", *sets])
    at = lr_schedule(cfg, TOTAL, ITERS)
    return [at(step) for step in range(TOTAL)]


def test_constant_is_the_plugins_lr():
    assert _curve() == pytest.approx([0.01] * TOTAL)


def test_poly_is_deeplabs():
    curve = _curve("lr_schedule.name=poly")
    assert curve == pytest.approx([0.01 * (1 - s / TOTAL) ** 0.9 for s in range(TOTAL)], rel=1e-5)
    ends = _curve("lr_schedule.name=poly", "lr_schedule.power=2", "lr_schedule.end_lr=0.001")
    assert ends == pytest.approx([0.009 * (1 - s / TOTAL) ** 2 + 0.001 for s in range(TOTAL)], rel=1e-5)


def test_cosine():
    curve = _curve("lr_schedule.name=cosine", "lr_schedule.end_lr=0.002")
    assert curve == pytest.approx([0.002 + 0.008 * 0.5 * (1 + math.cos(math.pi * s / TOTAL)) for s in range(TOTAL)],
                                  rel=1e-5)


@pytest.mark.parametrize("name", ["constant", "poly", "cosine"])
def test_linear_warmup_then_the_schedule(name):
    plain = _curve(f"lr_schedule.name={name}")
    warm = _curve(f"lr_schedule.name={name}", "lr_schedule.warmup_epochs=0.5")   # 5 steps
    assert warm[:5] == pytest.approx([plain[5] * s / 5 for s in range(5)], rel=1e-5)
    assert warm[5:] == pytest.approx(plain[5:], rel=1e-6)


def test_end_lr_above_lr_is_a_config_error():
    with pytest.raises(ConfigError, match=r"lr_schedule.end_lr: 0.1 is greater than lr 0.01"):
        resolve_train_config(None, "demo", ["lr=0.01", "lr_schedule.name=poly", "lr_schedule.end_lr=0.1"])


def test_optimizer_choices():
    adam = make_optimizer(resolve_train_config(None, "demo", []))
    assert type(adam).__name__ == "Adam" and adam.weight_decay is None and adam.global_clipnorm is None
    sgd = make_optimizer(resolve_train_config(None, "demo", [
        'optimizer={"name": "sgd", "momentum": 0.8, "weight_decay": 0.0004, "clip_norm": 5}']))
    assert type(sgd).__name__ == "SGD" and sgd.momentum == pytest.approx(0.8)
    assert sgd.weight_decay == pytest.approx(0.0004) and sgd.global_clipnorm == 5
