"""A segmentation model applied to image crops: the one step every inference mode runs."""
import numpy as np
import tensorflow as tf

from trainer.data.classes import ClassMapping
from trainer.infer import tta
from trainer.model.checkpoint_folders import ModelSource
from trainer.model.checkpoints import load_checkpoint_model

_CROPS = tf.TensorSpec([None, None, None, 3], tf.uint8)


class Predictor:
    """Softmax scores of same-size crops at the crops' own size (the plugin's full_image step, per crop).

    Each crop is resized to the model's input size (times each TTA scale), scored, and the scores are resized
    back bilinearly; all of it in one TensorFlow function (`scores_graph`), which the exported SavedModel and frozen
    graph run as they are. The model is any tf_keras model mapping RGB 0..255 to logits at its input resolution, so
    tests can inject one whose scores are a known function of the pixels.

    The same computation is also offered in its three stages (`views`, `probabilities`, `combine`: trainer.infer.tta)
    for the server, which runs the model stage on the crops of many requests at once. The stages hand tensors to each
    other: an image's scores are 22 MB at 513², and a copy out to NumPy and back in would cost a lone request 4–6 ms.
    """

    def __init__(self, model, classes: ClassMapping, input_size: tuple[int, int], tta_cfg: dict, source: str):
        self.model, self.classes, self.source = model, classes, source
        self.input_size = input_size
        self.sizes = tta.scaled_sizes(*input_size, tta_cfg["scales"])
        self.flip = tta_cfg["flip"]
        # One trace for every crop size, batch size and image: shapes are left open.
        self._scores = tf.function(self.scores_graph, input_signature=(_CROPS,))
        self._labels = tf.function(lambda crops: class_labels(self.scores_graph(crops)), input_signature=(_CROPS,))
        self._views = tf.function(lambda crops: tta.views(tf.cast(crops, tf.float32), self.sizes, self.flip),
                                  input_signature=(_CROPS,))
        self._probabilities = tf.function(lambda images: tta.probabilities(self.model, images),
                                          input_signature=(tf.TensorSpec([None, None, None, 3], tf.float32),))
        per_view = [tf.TensorSpec([None, None, None, len(classes.out_classes)], tf.float32)] * len(self.sizes)
        self._combine = tf.function(lambda scores, size: tta.combine(scores, size, self.flip),
                                    input_signature=(per_view, tf.TensorSpec([2], tf.int32)))
        self._combined_labels = tf.function(lambda scores, size: class_labels(tta.combine(scores, size, self.flip)),
                                            input_signature=(per_view, tf.TensorSpec([2], tf.int32)))

    @classmethod
    def from_source(cls, source: ModelSource, tta_cfg: dict) -> "Predictor":
        return cls(load_checkpoint_model(source), source.info.classes, source.info.input_size, tta_cfg,
                   str(source.checkpoint.resolve()))

    @property
    def traces(self) -> int:
        """How many times the model graph was traced (1 unless something forces a retrace)."""
        return self._scores.experimental_get_tracing_count()

    def scores(self, crops: np.ndarray) -> np.ndarray:
        """[B, h, w, 3] uint8 crops → [B, h, w, classes] float32 mean softmax scores."""
        return self._scores(crops).numpy()

    def labels(self, crops: np.ndarray) -> np.ndarray:
        """[B, h, w, 3] uint8 crops → [B, h, w] int32: the argmax of `scores`, without handing the scores over (at
        full resolution they are the largest array of an image's inference, and NumPy's argmax over their short
        last axis is slow)."""
        return self._labels(crops).numpy()

    def scores_graph(self, crops: tf.Tensor) -> tf.Tensor:
        """`scores` as TensorFlow ops."""
        return tta.average_scores(self.model, tf.cast(crops, tf.float32), self.sizes, self.flip)

    def views(self, crops: np.ndarray) -> list[tf.Tensor]:
        """The model inputs of [B, h, w, 3] uint8 crops: per TTA scale, float32 [B (×2 with flips), H, W, 3]."""
        return self._views(crops)

    def probabilities(self, images: tf.Tensor) -> tf.Tensor:
        """The model stage: softmax scores of model inputs of one size, however many crops they come from."""
        return self._probabilities(images)

    def combine(self, per_view: list[tf.Tensor], size: tuple[int, int]) -> np.ndarray:
        """Each view's scores back at the crops' `size`, averaged: what `scores` returns."""
        return self._combine(per_view, np.asarray(size, np.int32)).numpy()

    def combined_labels(self, per_view: list[tf.Tensor], size: tuple[int, int]) -> np.ndarray:
        """The argmax of `combine`: what `labels` returns."""
        return self._combined_labels(per_view, np.asarray(size, np.int32)).numpy()


def class_labels(scores: tf.Tensor) -> tf.Tensor:
    """Each pixel's class: the argmax of its scores, int32; ties go to the lowest class index, as with NumPy.

    By top_k, whose k = 1 kernel scans a pixel's scores once: over 600×800×21 scores it takes half the CPU time of
    ArgMax's reduction, and the server spends that on every image."""
    return tf.math.top_k(scores, 1).indices[..., 0]
