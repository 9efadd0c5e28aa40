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
