"""Which tf.distribute strategy a run trains with: one device, several GPUs of this machine (Mirrored), or
several machines described by the standard TF_CONFIG variable (MultiWorkerMirrored)."""
import json
import os

import tensorflow as tf

from trainer.devices import use_gpus


def make_strategy(gpu_devices: list[int]) -> tuple[tf.distribute.Strategy, str]:
    """Must run before any other TensorFlow work: a multi-worker strategy configures the runtime."""
    where = use_gpus(gpu_devices, "gpu_devices")
    if os.environ.get("TF_CONFIG"):
        task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        return strategy, (f"{where}; multi-worker training (TF_CONFIG): {task.get('type')} {task.get('index')}, "
                          f"{strategy.num_replicas_in_sync} replicas in all")
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
        return strategy, f"{where}; {len(gpus)} replicas (effective batch = batch_size.train x {len(gpus)})"
    return tf.distribute.get_strategy(), where
