"""Multiply-Adds of a model for one image, counted from its traced graph (never run at that size).

Convention (the research/deeplab model zoo's, checked against tf-models-official's mnv2_deeplabv3 config:
2.56M params, 2.79B): TensorFlow's profiler registry gives each op's float operations for the graph's
static shapes, counting one multiply-add of a convolution or matmul as 2 (elementwise ops as 1); we sum
the ops the logits depend on (graph pruning skips the rest, e.g. tf-models-official's unused 1280-channel
MobileNetV2 conv) and halve, so one Multiply-Add = one MAC. There is no softmax in the graph to exclude;
BatchNorm runs fused at inference and the resizes have no registered cost, as in the original's count.
"""
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops
from tensorflow.python.profiler.internal import flops_registry  # noqa: F401 — registers the op costs

from trainer.model.builder import build_model

# Classes of the datasets the model-zoo presets are named after (background included); the zoo's figures use them.
DATASET_CLASSES = {"voc": 21, "cityscapes": 19, "ade20k": 151}
DEFAULT_CLASSES = DATASET_CLASSES["voc"]
CONVENTION = ("Multiply-Adds for one image: TensorFlow profiler float ops of the ops the logits depend on, "
              "halved (one multiply-add = one MAC); no softmax")


def _ancestors(outputs) -> list:
    """Every op the output tensors depend on, through data and control edges."""
    seen, stack = set(), [t.op for t in outputs]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return [op for op in outputs[0].graph.get_operations() if op.name in seen]


def multiply_adds(model, height: int, width: int) -> int:
    """MACs of `model(images)` for one [1, height, width, 3] image, traced in inference mode."""
    traced = tf.function(lambda images: model(images, training=False)).get_concrete_function(
        tf.TensorSpec([1, height, width, 3], tf.float32))
    graph = traced.graph
    flops = 0
    for op in _ancestors(traced.outputs):
        try:
            stats = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops")
        except ValueError:   # an op type with no registered cost, or with an unknown shape
            continue
        flops += stats.value or 0
    return int(flops) // 2


def default_classes(preset: str | None) -> int:
    """A preset named `<model>_<dataset>` has that dataset's classes; anything else PASCAL VOC's 21."""
    return DATASET_CLASSES.get((preset or "").rpartition("_")[2], DEFAULT_CLASSES)


def describe(cfg: dict, height: int, width: int, num_classes: int) -> dict:
    """The configured model's size and cost: built (variables created at 64×64), traced at height × width."""
    model = build_model(cfg["model"], num_classes)
    madds = multiply_adds(model, height, width)
    trainable = sum(int(v.shape.num_elements()) for v in model.trainable_variables)
    return {"preset": cfg.get("preset"), "backbone": cfg["model"]["backbone"],
            "implementation": cfg["model"]["implementation"], "input_size": [height, width],
            "num_classes": num_classes, "output_stride": cfg["model"]["output_stride"],
            "params": int(model.count_params()), "trainable_params": trainable, "madds": madds,
            "madds_billions": round(madds / 1e9, 3), "madds_convention": CONVENTION}
