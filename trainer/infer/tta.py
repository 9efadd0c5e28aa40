"""Test-time augmentation as research DeepLab's multi-scale evaluation does it: softmax scores averaged over
input scales and left-right flips (its published setting: scales 0.5…1.75 in steps of 0.25, plus flips)."""
import tensorflow as tf


def scaled_sizes(height: int, width: int, scales: list[float]) -> list[tuple[int, int]]:
    """The model input size at each scale (at least one pixel)."""
    return [(max(1, round(height * s)), max(1, round(width * s))) for s in scales]


def average_scores(model, batches: list[tf.Tensor], size: tf.Tensor, flip: bool) -> tf.Tensor:
    """Mean softmax over every (scale, flip) view, each resized back to `size` before averaging.

    `batches` holds the same crops resized to each scale. A flipped view's scores are flipped back, so every
    view votes for the same pixel; the flip runs in the same model call as the original (one batch of 2B).
    """
    total = 0.0
    for images in batches:
        count = tf.shape(images)[0]
        views = tf.concat([images, tf.reverse(images, axis=[2])], axis=0) if flip else images
        probabilities = tf.nn.softmax(model(views, training=False), axis=-1)
        if flip:
            probabilities = probabilities[:count] + tf.reverse(probabilities[count:], axis=[2])
        total += tf.image.resize(probabilities, size, method="bilinear")
    return total / (len(batches) * (2 if flip else 1))
