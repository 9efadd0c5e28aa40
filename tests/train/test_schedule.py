import pytest

from trainer.train.schedule import ValidationSchedule, validation_epochs


@pytest.mark.parametrize("epochs, iters, val_every, expected", [
    (2, 4, 0.5, [0.5, 1.0, 1.5, 2.0]),          # twice per epoch
    (2, 3, 1, [1.0, 2.0]),
    (5, 2, 2, [2.0, 4.0, 5.0]),                  # every second epoch, plus the final one
    (2, 2, 5, [2.0]),                            # val_every > epochs: the plugin saved nothing, we validate at the end
    (1, 3, 0.5, [2 / 3, 1.0]),                   # due at the first iteration past the half
])
def test_validation_points(epochs, iters, val_every, expected):
    assert validation_epochs(epochs, iters, val_every) == pytest.approx(expected)


def test_due_counts_validations_already_run():
    schedule = ValidationSchedule(val_every=1, iters_per_epoch=2)
    assert not schedule.due(0, 0)
    assert schedule.due(0, 1)
    schedule.done = 1
    assert not schedule.due(1, 0)
    assert schedule.due(1, 1)
