"""When validations happen: the Supervisely plugin's `val_every` rule, plus a final one. The loop validates at the
steps this gives, so the schedule tested is the one that runs."""
import math


class ValidationSchedule:
    """After iteration `it` of epoch `e`, progress is e + (it + 1) / iters_per_epoch; a validation is due whenever
    floor(progress / val_every) exceeds the number already run (the plugin's rule). The plugin only validated on
    schedule, so `val_every > epochs` never saved a checkpoint; a validation is added at the end whenever the last
    iteration did not just run one."""

    def __init__(self, val_every: float, iters_per_epoch: int, epochs: int):
        self.val_every, self.iters_per_epoch, self.epochs = val_every, iters_per_epoch, epochs
        self.steps = self._steps()

    def progress(self, step: int) -> float:
        """Epochs done after `step` updates."""
        epoch, iteration = divmod(step - 1, self.iters_per_epoch)
        return epoch + (iteration + 1) / self.iters_per_epoch

    def _steps(self) -> list[int]:
        """The steps (updates made, 1-based) after which the run validates, in order."""
        total = self.epochs * self.iters_per_epoch
        steps: list[int] = []
        for step in range(1, total + 1):
            if math.floor(self.progress(step) / self.val_every + 1e-9) > len(steps):
                steps.append(step)
        if not steps or steps[-1] != total:
            steps.append(total)
        return steps
