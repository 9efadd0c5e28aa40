"""tf-models-official's own backbone checkpoints onto our `tf_models` models: a TF2 (object-graph) checkpoint whose
root has `backbone`, as its classification models save `checkpoint_items` and as its semantic_segmentation task reads
them with `init_checkpoint_modules: backbone`. The backbone loads; the ASPP and head start fresh; anything else in
the file (a classifier, the optimizer) is ignored."""
from pathlib import Path

import tensorflow as tf

from trainer.errors import UserError

ROOT = "backbone"
_OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


def find_backbone_checkpoint(path: Path) -> str | None:
    """The prefix of the TF2 checkpoint `path` (a prefix, or a folder: its latest, as tf-models-official reads an
    init_checkpoint folder) if its root has a `backbone`; else None."""
    prefix = tf.train.latest_checkpoint(str(path)) if path.is_dir() else str(path)
    if prefix is None or not Path(f"{prefix}.index").is_file():
        return None
    names = [name for name, _ in tf.train.list_variables(prefix)]
    return prefix if _OBJECT_GRAPH in names and any(n.startswith(ROOT + "/") for n in names) else None


def load_backbone(model, prefix: str, mode: str) -> str:
    """Restore the backbone of `model` (a tf-models-official SegmentationModel inside our DeepLab wrapper) from the
    checkpoint's `backbone`; returns the summary line. A backbone variable the file lacks, or holds with another
    shape, is a UserError."""
    backbone = model.network.backbone
    try:
        tf.train.Checkpoint(backbone=backbone).read(prefix).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError) as err:
        detail = str(err).strip().splitlines()[0]
        raise UserError(f"init_weights {prefix}: its `backbone` does not fit model.backbone of the config "
                        f"({detail})") from None
    theirs = [n for n, _ in tf.train.list_variables(prefix) if n != _OBJECT_GRAPH]
    ignored = sorted({n.split("/")[0] for n in theirs if not n.startswith(ROOT + "/")})
    ours = {id(v) for v in backbone.weights}
    fresh = [v for v in model.weights if id(v) not in ours]
    return (f"weights from tf-models-official backbone checkpoint {prefix} ({mode}): {len(backbone.weights)} loaded "
            f"(the backbone), {sum(not n.startswith(ROOT + '/') for n in theirs)} ignored (not the backbone: "
            f"{', '.join(ignored) or 'none'}), {len(fresh)} fresh (a backbone-only checkpoint; ASPP, decoder and "
            "classifier start from their initialisers)")
