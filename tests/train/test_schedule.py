import pytest

from trainer.train.schedule import ValidationSchedule


@pytest.mark.parametrize("epochs, iters, val_every, expected", [
    (2, 4, 0.5, [0.5, 1.0, 1.5, 2.0]),          # twice per epoch
    (2, 3, 1, [1.0, 2.0]),
    (5, 2, 2, [2.0, 4.0, 5.0]),                  # every second epoch, plus the final one
    (2, 2, 5, [2.0]),                            # val_every > epochs: the plugin saved nothing, we validate at the end
    (1, 3, 0.5, [2 / 3, 1.0]),                   # due at the first iteration past the half
    (1, 2, 0.25, [0.5, 1.0]),                    # two due at once: one validation per step, the count catches up
])
def test_validation_points(epochs, iters, val_every, expected):
    schedule = ValidationSchedule(val_every, iters, epochs)
    assert [schedule.progress(step) for step in schedule.steps] == pytest.approx(expected)


def test_progress_counts_whole_epochs_at_their_last_step():
    schedule = ValidationSchedule(val_every=1, iters_per_epoch=3, epochs=2)
    assert [schedule.progress(step) for step in range(1, 7)] == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    assert schedule.steps == [3, 6]
