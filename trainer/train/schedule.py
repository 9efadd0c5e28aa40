"""When validations happen: the Supervisely plugin's `val_every` rule, plus a final one."""
import math


class ValidationSchedule:
    """After iteration `it` of epoch `e`, progress is e + (it + 1) / iters_per_epoch; a validation is
    due whenever floor(progress / val_every) exceeds the number already run (the plugin's rule)."""

    def __init__(self, val_every: float, iters_per_epoch: int, done: int = 0):
        self.val_every = val_every
        self.iters_per_epoch = iters_per_epoch
        self.done = done

    def progress(self, epoch: int, iteration: int) -> float:
        return epoch + (iteration + 1) / self.iters_per_epoch

    def due(self, epoch: int, iteration: int) -> bool:
        return math.floor(self.progress(epoch, iteration) / self.val_every + 1e-9) > self.done


def validation_epochs(epochs: int, iters_per_epoch: int, val_every: float) -> list[float]:
    """The epochs (as progress values) at which a run validates, the final validation included.

    The plugin only validated on schedule, so `val_every > epochs` never saved a checkpoint; we add a
    validation at the end whenever the last iteration did not just run one.
    """
    schedule = ValidationSchedule(val_every, iters_per_epoch)
    points = []
    for epoch in range(epochs):
        for it in range(iters_per_epoch):
            if schedule.due(epoch, it):
                schedule.done += 1
                points.append(schedule.progress(epoch, it))
    if not points or points[-1] != float(epochs):
        points.append(float(epochs))
    return points
