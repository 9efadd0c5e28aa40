"""Where research/deeplab TF1 tensors come from: a checkpoint (`model.ckpt…`) or the constants of a
`frozen_inference_graph.pb` (freezing turns each variable into a Const node of the variable's name). Both give the
variables by their TF1 names, so the import (trainer.model.tf1_import) treats them alike.

Found without TensorFlow (bad input is refused first); read by `open`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.errors import UserError

CHECKPOINT, FROZEN_GRAPH = "checkpoint", "frozen_graph"
FROZEN_GRAPH_FILE = "frozen_inference_graph.pb"


@dataclass(frozen=True)
class Tf1Source:
    path: str
    kind: str   # CHECKPOINT (a prefix) or FROZEN_GRAPH (a .pb file)

    @property
    def noun(self) -> str:
        return "checkpoint" if self.kind == CHECKPOINT else "frozen graph"

    @property
    def label(self) -> str:
        return f"{'TF1 checkpoint' if self.kind == CHECKPOINT else 'frozen graph'} {self.path}"

    def open(self) -> Tf1Tensors:
        return _CheckpointTensors(self) if self.kind == CHECKPOINT else _GraphTensors(self)


def find_tf1_source(path: Path) -> Tf1Source | None:
    """The checkpoint prefix `path` (…/model.ckpt), a `.pb` frozen graph, or what the folder `path` (an unpacked zoo
    tarball) holds: its checkpoint, else its frozen_inference_graph.pb. None if `path` is none of these."""
    path = Path(path)
    if Path(f"{path}.index").is_file():
        return Tf1Source(str(path), CHECKPOINT)
    if path.suffix == ".pb" and path.is_file():
        return Tf1Source(str(path), FROZEN_GRAPH)
    if not path.is_dir():
        return None
    indexes = sorted(path.glob("model.ckpt*.index"))
    if len(indexes) > 1:
        raise UserError(f"{path}: holds several TF1 checkpoints ({', '.join(p.name[:-6] for p in indexes)}): "
                        "pass one model.ckpt… prefix")
    if indexes:
        return Tf1Source(str(indexes[0])[:-len(".index")], CHECKPOINT)
    graph = path / FROZEN_GRAPH_FILE
    return Tf1Source(str(graph), FROZEN_GRAPH) if graph.is_file() else None


@dataclass(frozen=True)
class Tf1Target:
    """The model the TF1 tensors go into, and how messages name each side: the source (`what`: "init_weights",
    "CHECKPOINT"), the settings (`config`: "the config", "preset xception65_voc") and the class count (`classes`)."""
    model_cfg: dict
    what: str = "init_weights"
    config: str = "the config"
    classes: str = "the model"


class Tf1Tensors:
    """`shapes`: every tensor the source gives by name; `variables`: those known to be variables (the rest of a
    graph's constants are its plumbing: block shapes, paddings, sizes), listed as ignored when no layer takes them."""
    source: Tf1Source
    shapes: dict[str, list[int]]
    variables: set[str]

    def get(self, name: str):
        raise NotImplementedError


class _CheckpointTensors(Tf1Tensors):
    def __init__(self, source: Tf1Source):
        import tensorflow as tf

        try:
            self._reader = tf.train.load_checkpoint(source.path)
        except (tf.errors.OpError, ValueError) as err:
            raise UserError(f"{source.path}: not a readable TF1 checkpoint ({str(err).splitlines()[0]})") from None
        self.source = source
        self.shapes = {n: list(s) for n, s in self._reader.get_variable_to_shape_map().items()}
        self.variables = set(self.shapes)

    def get(self, name: str):
        return self._reader.get_tensor(name)


class _GraphTensors(Tf1Tensors):
    def __init__(self, source: Tf1Source):
        from trainer.model.frozen_graph import FrozenGraph

        self.source, self.graph = source, FrozenGraph.load(Path(source.path))
        self.shapes = self.graph.constant_shapes()
        self.variables = self.graph.variable_names()

    def get(self, name: str):
        return self.graph.constant(name)
