"""DeepLab Trainer: DeepLabV3/V3+ semantic segmentation driven by validated JSON configs."""
import os

# tf-models-official is built on tf_keras (Keras 2); this must hold before TensorFlow is imported.
os.environ["TF_USE_LEGACY_KERAS"] = "1"


def load_model(path, output_stride=None, atrous_rates=None):
    """The model of a checkpoint folder, or of a run folder's best checkpoint, for use from Python.

    `model(images)` maps float32 RGB images [B, H, W, 3] with values 0..255 to float32 logits [B, H, W, classes]
    at the input resolution (align-corners bilinear from the output stride, as research/deeplab). TensorFlow is
    imported here, not by `import trainer`. `output_stride` / `atrous_rates` run the same weights differently, as
    infer.py's model.output_stride / model.atrous_rates do (None: as trained). A path that is neither, or rates that
    do not fit the model, raise trainer.errors.UserError.
    """
    from trainer.model.checkpoint_folders import ModelSource
    from trainer.model.checkpoints import load_checkpoint_model

    return load_checkpoint_model(ModelSource.locate(path, output_stride, atrous_rates, what="load_model", prefix=""))
