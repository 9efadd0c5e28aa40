"""DeepLab Trainer: DeepLabV3/V3+ semantic segmentation driven by validated JSON configs."""
import os

# tf-models-official is built on tf_keras (Keras 2); this must hold before TensorFlow is imported.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
