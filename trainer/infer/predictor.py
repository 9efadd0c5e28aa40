"""A trained checkpoint applied to whole images (the plugin's full_image mode)."""
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from trainer.model.builder import build_model
from trainer.model.checkpoints import read_info, restore_model


class Predictor:
    """Resize to the training input size, softmax, resize the probabilities back (bilinear), argmax."""

    def __init__(self, checkpoint_dir: Path):
        self.info = read_info(checkpoint_dir)
        settings = self.info["settings"]
        self.out_classes = self.info["out_classes"]
        self.height, self.width = settings["input_size"]["height"], settings["input_size"]["width"]
        self.model = build_model(settings["model"], len(self.out_classes))
        restore_model(self.model, checkpoint_dir)
        self._scores = tf.function(self._scores_fn, input_signature=(
            tf.TensorSpec([1, self.height, self.width, 3], tf.float32), tf.TensorSpec([2], tf.int32)))

    def _scores_fn(self, image, size):
        probabilities = tf.nn.softmax(self.model(image, training=False), axis=-1)
        return tf.image.resize(probabilities, size, method="bilinear")[0]

    def class_map(self, image: np.ndarray) -> np.ndarray:
        """Class index per pixel of an RGB uint8 image, at the image's own size."""
        resized = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        scores = self._scores(resized[np.newaxis].astype(np.float32), np.array(image.shape[:2], np.int32))
        return np.argmax(scores.numpy(), axis=-1).astype(np.int32)
