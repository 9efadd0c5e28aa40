"""Device choice: only the GPUs the config lists are used; with none present the job runs on CPU and says so."""
import tensorflow as tf

from trainer.errors import UserError


def use_gpus(indices: list[int], key: str) -> str:
    """Make exactly the listed GPUs visible; returns a one-line description of where work runs."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "no GPU found: running on CPU"
    missing = [i for i in indices if i >= len(gpus)]
    if missing:
        raise UserError(f"{key}: GPU {missing} not found (this machine has {len(gpus)}: 0..{len(gpus) - 1})")
    tf.config.set_visible_devices([gpus[i] for i in indices], "GPU")
    return f"running on GPU {', '.join(f'{i} ({gpus[i].name})' for i in indices)}"
