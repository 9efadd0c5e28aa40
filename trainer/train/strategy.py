"""Which tf.distribute strategy a run trains with: one device, several GPUs of this machine (Mirrored), or
several machines described by the standard TF_CONFIG variable (MultiWorkerMirrored)."""
import json
import os
import re

import tensorflow as tf

from trainer.devices import use_gpus
from trainer.errors import UserError


class WorkerLost(UserError):
    """A worker of a multi-worker run stopped answering: the others stop instead of waiting forever."""


def make_strategy(gpu_devices: list[int], multi_worker: dict) -> tuple[tf.distribute.Strategy, str]:
    """Must run before any other TensorFlow work: a multi-worker strategy configures the runtime."""
    where = use_gpus(gpu_devices, "gpu_devices")
    if os.environ.get("TF_CONFIG"):
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        _coordinate(resolver.cluster_spec(), multi_worker)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
        return strategy, (f"{where}; multi-worker training (TF_CONFIG): {resolver.task_type} {resolver.task_id}, "
                          f"{strategy.num_replicas_in_sync} replicas in all")
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
        return strategy, f"{where}; {len(gpus)} replicas (effective batch = batch_size.train x {len(gpus)})"
    return tf.distribute.get_strategy(), where


def _coordinate(cluster: tf.train.ClusterSpec, multi_worker: dict) -> None:
    """TensorFlow's coordination service as MultiWorkerMirroredStrategy would set it up, with the run's heartbeat timeout:
    its heartbeats are what turn a lost worker into an error on the others (collectives themselves wait forever)."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster.num_tasks(job))
            for job in ("chief", "worker") if job in cluster.jobs]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(cluster),
        coordinated_jobs=jobs, heartbeat_timeout_in_ms=round(multi_worker["heartbeat_timeout"] * 1000))


def lost_worker(error: tf.errors.OpError, run_dir, heartbeat_timeout: float) -> WorkerLost | None:
    """The error to report when `error` says a worker of the cluster stopped answering, else None: the workers
    TensorFlow's message names (the unhealthy ones where it lists them), this one left out."""
    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    if not tf_config.get("cluster") or not isinstance(error, (tf.errors.UnavailableError,
                                                              tf.errors.DeadlineExceededError)):
        return None
    cluster, task = tf_config["cluster"], tf_config.get("task", {})
    message = error.message
    heartbeats = "stopped sending heartbeats" in message
    named = re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", message.split("unhealthy", 1)[-1])
    lost = [(job, int(index)) for job, index in dict.fromkeys(named)
            if (job, int(index)) != (task.get("type"), task.get("index"))]
    who = ", ".join(f"{job} {index}" + (f" ({cluster[job][index]})" if index < len(cluster.get(job, [])) else "")
                    for job, index in lost) or "a worker"
    cause = (f"no heartbeat for {heartbeat_timeout:g} s" if heartbeats
             else message.splitlines()[0].rsplit("aborted by: ", 1)[-1].strip()[:200])
    return WorkerLost(f"lost {who}: {cause}; training stopped. Start every worker again with "
                      f"`train.py --resume {run_dir}`: the run continues from its newest checkpoint")
