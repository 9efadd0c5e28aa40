"""DeepLab Trainer: DeepLabV3/V3+ semantic segmentation driven by validated JSON configs."""
import os

# tf-models-official is built on tf_keras (Keras 2); this must hold before TensorFlow is imported.
os.environ["TF_USE_LEGACY_KERAS"] = "1"


def load_model(path):
    """The model of a checkpoint folder, or of a run folder's best checkpoint, for use from Python.

    `model(images)` maps float32 RGB images [B, H, W, 3] with values 0..255 to float32 logits [B, H, W, classes]
    at the input resolution (align-corners bilinear from the output stride, as research/deeplab). TensorFlow is
    imported here, not by `import trainer`. A path that is neither raises trainer.errors.UserError.
    """
    from pathlib import Path

    from trainer.model.checkpoints import find_checkpoint, load_checkpoint_model

    model, _ = load_checkpoint_model(find_checkpoint(Path(path), "load_model"))
    return model
