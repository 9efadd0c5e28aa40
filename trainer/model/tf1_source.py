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
    """The checkpoint prefix `path` (…/model.ckpt), a `.pb` frozen graph, or what the folder `path` holds: its TF1
    checkpoint, else its frozen graph; looked for in the folder, then (the folder a tarball was unpacked into) in its
    subfolders. Checkpoints are prefixes with `.ckpt` in the name: the zoo's `model.ckpt-30000`, slim's
    `mobilenet_v2_1.0_224.ckpt`. The frozen graph is `frozen_inference_graph.pb`, else a folder's only `.pb` (slim's
    `…_frozen.pb`). None if `path` is none of these."""
    path = Path(path)
    if Path(f"{path}.index").is_file():
        return Tf1Source(str(path), CHECKPOINT)
    if path.suffix == ".pb" and path.is_file():
        return Tf1Source(str(path), FROZEN_GRAPH)
    if not path.is_dir():
        return None
    return _one_source(path, [path]) or _one_source(path, sorted(p for p in path.iterdir() if p.is_dir()))


def _one_source(path: Path, folders: list[Path]) -> Tf1Source | None:
    """The checkpoint in `folders`, else the frozen graph; several of the kind found first is an error."""
    for kind, find in ((CHECKPOINT, _checkpoint_prefixes), (FROZEN_GRAPH, _frozen_graphs)):
        found = [Tf1Source(str(p), kind) for folder in folders for p in find(folder)]
        if len(found) > 1:
            raise UserError(f"{path}: holds several TF1 {found[0].noun}s "
                            f"({', '.join(sorted(source.path for source in found))}): pass one of them")
        if found:
            return found[0]
    return None


def _checkpoint_prefixes(folder: Path) -> list[str]:
    return [str(index)[:-len(".index")] for index in folder.glob("*.ckpt*.index")]


def _frozen_graphs(folder: Path) -> list[Path]:
    graph = folder / FROZEN_GRAPH_FILE
    # an exported SavedModel's saved_model.pb is no frozen graph
    return [graph] if graph.is_file() else [p for p in folder.glob("*.pb") if p.name != "saved_model.pb"]


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
