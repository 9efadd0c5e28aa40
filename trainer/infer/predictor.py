"""A segmentation model applied to image crops: the one step every inference mode runs."""
import numpy as np
import tensorflow as tf

from trainer.data.classes import ClassMapping
from trainer.infer.tta import average_scores, scaled_sizes
from trainer.model.checkpoint_folders import ModelSource
from trainer.model.checkpoints import load_checkpoint_model


class Predictor:
    """Softmax scores of same-size crops at the crops' own size (the plugin's full_image step, per crop).

    Each crop is resized to the model's input size (times each TTA scale), scored, and the scores are resized
    back bilinearly; all of it in one TensorFlow function (`scores_graph`), which the exported SavedModel and frozen
    graph run as they are. The model is any tf_keras model mapping RGB 0..255 to logits at its input resolution, so
    tests can inject one whose scores are a known function of the pixels.
    """

    def __init__(self, model, classes: ClassMapping, input_size: tuple[int, int], tta: dict, source: str):
        self.model, self.classes, self.source = model, classes, source
        self.input_size = input_size
        self.sizes = scaled_sizes(*input_size, tta["scales"])
        self.flip = tta["flip"]
        # One trace for every crop size, batch size and image: shapes are left open.
        self._scores = tf.function(self.scores_graph, input_signature=(tf.TensorSpec([None, None, None, 3], tf.uint8),))

    @classmethod
    def from_source(cls, source: ModelSource, tta: dict) -> "Predictor":
        return cls(load_checkpoint_model(source), source.info.classes, source.info.input_size, tta,
                   str(source.checkpoint.resolve()))

    @property
    def traces(self) -> int:
        """How many times the model graph was traced (1 unless something forces a retrace)."""
        return self._scores.experimental_get_tracing_count()

    def scores(self, crops: np.ndarray) -> np.ndarray:
        """[B, h, w, 3] uint8 crops → [B, h, w, classes] float32 mean softmax scores."""
        return self._scores(crops).numpy()

    def scores_graph(self, crops: tf.Tensor) -> tf.Tensor:
        """`scores` as TensorFlow ops: bilinear (half-pixel centres, as OpenCV's) to each view size, in float."""
        pixels = tf.cast(crops, tf.float32)
        views = [tf.image.resize(pixels, size, method="bilinear") for size in self.sizes]
        return average_scores(self.model, views, tf.shape(crops)[1:3], self.flip)
