"""The training loss: tf-models-official's SegmentationLoss (class weights, top-k hard-pixel mining), made
exact across replicas, and DeepLab's L2 penalty on kernels; and the plain cross-entropy that validation reports."""
import tensorflow as tf
from official.vision.losses.segmentation_losses import SegmentationLoss

from trainer.data.classes import IGNORE_LABEL, ClassMapping
from trainer.errors import UserError


def class_weight_list(weights: dict[str, float], mapping: ClassMapping) -> list[float]:
    """`loss.class_weights` by title → one weight per class index (unlisted classes weigh 1)."""
    unknown = sorted(set(weights) - set(mapping.class_title_to_idx))
    if unknown:
        known = ", ".join(mapping.class_title_to_idx)
        raise UserError(*(f'loss.class_weights.{title}: not a class of the model (classes: {known})' for title in unknown))
    return [float(weights.get(title, 1.0)) for title in mapping.class_title_to_idx]


def _valid_pixels(labels: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.cast(tf.not_equal(labels, IGNORE_LABEL), tf.float32))


class TrainLoss:
    """Each replica's mean, weighted by its share of the global batch's valid pixels: summed over replicas
    (as gradients are) it is the mean over the whole batch, the same as on one device."""

    def __init__(self, loss_cfg: dict, mapping: ClassMapping):
        self._loss = SegmentationLoss(label_smoothing=0.0, class_weights=class_weight_list(loss_cfg["class_weights"], mapping),
                                      ignore_label=IGNORE_LABEL, use_groundtruth_dimension=True,
                                      top_k_percent_pixels=loss_cfg["top_k_percent_pixels"])

    def __call__(self, logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        valid = _valid_pixels(labels)
        total = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, valid)
        return self._loss(logits, labels[..., tf.newaxis]) * valid / tf.maximum(total, 1.0)


def l2_penalty(kernels: list[tf.Variable], strength: float) -> tf.Tensor:
    """slim's l2_regularizer summed over `kernels`: strength·Σw²/2, in float32 whatever the compute dtype. Each
    replica adds 1/replicas of it, as TrainLoss adds its share, so the summed gradients hold it once."""
    replicas = tf.distribute.get_replica_context().num_replicas_in_sync
    total = tf.add_n([tf.nn.l2_loss(tf.cast(k, tf.float32)) for k in kernels])
    return total * (strength / replicas)


_CROSS_ENTROPY = SegmentationLoss(label_smoothing=0.0, class_weights=[], ignore_label=IGNORE_LABEL,
                                  use_groundtruth_dimension=True)


def cross_entropy_sum(logits: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(summed cross-entropy, valid pixel count): validation adds these over batches, then divides."""
    valid = _valid_pixels(labels)
    return _CROSS_ENTROPY(logits, labels[..., tf.newaxis]) * valid, valid
