"""research/deeplab's `frozen_inference_graph.pb` (export_model.py): its variables as constants, what it was exported
with (atrous rates, image-pooling crop), and running it under tf.compat.v1 to check a conversion.

research/deeplab builds an atrous convolution as SpaceToBatchND (block_shape = the rate) → conv → BatchToSpaceND
(TF1's tf.nn.convolution / depthwise_conv2d); a conv op's own `dilations` attribute is read too. Its image pooling is
an AvgPool whose output is resized back to the feature map of the export's crop, ((crop − 1) / stride + 1) per side (a
constant size), and the logits are the input of the ArgMax that makes `SemanticPredictions` (the align-corners resize
to the image size: a `ResizeBilinear_*` node).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from trainer.errors import UserError

INPUT = "ImageTensor:0"   # uint8 [1, H, W, 3]
_CONVOLUTIONS = ("Conv2D", "DepthwiseConv2dNative")


def _node_name(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


@dataclass
class FrozenGraph:
    path: Path
    graph_def: tf.compat.v1.GraphDef
    nodes: dict

    @classmethod
    def load(cls, path: Path) -> FrozenGraph:
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(Path(path).read_bytes())
        except OSError as err:
            raise UserError(f"{path}: cannot read ({err.strerror})") from None
        except DecodeError:
            graph_def.Clear()
        if not any(node.op == "Const" for node in graph_def.node):
            raise UserError(f"{path}: not a frozen TF1 graph (no GraphDef with constants)")
        return cls(Path(path), graph_def, {node.name: node for node in graph_def.node})

    def constant_shapes(self) -> dict[str, list[int]]:
        return {n.name: [d.size for d in n.attr["value"].tensor.tensor_shape.dim]
                for n in self.graph_def.node if n.op == "Const"}

    def variable_names(self) -> set[str]:
        """Constants that were variables: freezing keeps each one's `<name>/read` Identity."""
        return {name[:-len("/read")] for name, node in self.nodes.items()
                if node.op == "Identity" and name.endswith("/read")
                and self.nodes.get(name[:-len("/read")], node).op == "Const"}

    def constant(self, name: str) -> np.ndarray:
        return tf.make_ndarray(self.nodes[name].attr["value"].tensor)

    def _const_input(self, node, index: int) -> np.ndarray | None:
        source = self.nodes.get(_node_name(node.input[index]))
        while source is not None and source.op == "Identity":
            source = self.nodes.get(_node_name(source.input[0]))
        return self.constant(source.name) if source is not None and source.op == "Const" else None

    def atrous_rates(self) -> dict[str, tuple[int, int]]:
        """Node name → (height, width) atrous rates (not both 1), for every atrous convolution. They may differ: the
        Dense Prediction Cell's branches have anisotropic rates (block_shape [2, 12] at output stride 8)."""
        rates = {}
        for node in self.graph_def.node:
            if node.op == "SpaceToBatchND":
                block = self._const_input(node, 1)
                if block is None or block.shape != (2,):
                    raise UserError(f"{self.path}: {node.name}: block_shape {block} is not a constant (height, width) "
                                    "rate")
                rate = (int(block[0]), int(block[1]))
            elif node.op in _CONVOLUTIONS and "dilations" in node.attr:
                dilations = list(node.attr["dilations"].list.i) or [1, 1, 1, 1]   # NHWC, as research/deeplab's
                rate = (dilations[1], dilations[2])
            else:
                continue
            if max(rate) > 1:
                rates[node.name] = rate
        return rates

    def pooling_crop(self, output_stride: int, outside: str) -> tuple[int, int] | None:
        """(height, width) of the crop the graph was exported for, read from its image pooling (the AvgPool not under
        the backbone scope `outside`): the first ResizeBilinear after it takes the pooled features back to the crop's
        feature map. Not the AvgPool's window: that is --image_pooling_crop_size's map (the zoo's MobileNetV3 graphs
        pool 769×769 windows with stride (4, 5) inside a 1025×2049 export). None without such a pooling."""
        pools = [n for n in self.graph_def.node if n.op == "AvgPool" and not n.name.startswith(outside + "/")]
        if len(pools) != 1:
            return None
        consumers: dict[str, list] = {}
        for node in self.graph_def.node:
            for name in node.input:
                consumers.setdefault(_node_name(name), []).append(node)
        queue, seen = deque(pools), {pools[0].name}
        while queue:
            node = queue.popleft()
            if node.op == "ResizeBilinear":
                size = self._const_input(node, 1)
                if size is None or size.shape != (2,):
                    return None
                return (int(size[0]) - 1) * output_stride + 1, (int(size[1]) - 1) * output_stride + 1
            for consumer in consumers.get(node.name, []):
                if consumer.name not in seen:
                    seen.add(consumer.name)
                    queue.append(consumer)
        return None

    def logits_tensor(self) -> str:
        """The logits at the image size: the input of the one ArgMax (the labels of SemanticPredictions)."""
        argmaxes = [n for n in self.graph_def.node if n.op == "ArgMax"]
        if len(argmaxes) != 1:
            raise UserError(f"{self.path}: {len(argmaxes)} ArgMax nodes, not research/deeplab's single-scale export "
                            "(one ArgMax over the logits): cannot tell which tensor holds the logits")
        logits = argmaxes[0].input[0]
        return logits if ":" in logits else f"{logits}:0"

    def run(self, images: list[np.ndarray], tensor: str) -> list[np.ndarray]:
        """`tensor` for each uint8 RGB image [H, W, 3], fed one at a time as `ImageTensor`."""
        if INPUT[:-2] not in self.nodes:
            raise UserError(f"{self.path}: no {INPUT[:-2]} input: not research/deeplab's export contract")
        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.import_graph_def(self.graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            return [session.run(tensor, {INPUT: image[None]})[0] for image in images]
