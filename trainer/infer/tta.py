"""Test-time augmentation as research DeepLab's multi-scale evaluation does it: softmax scores averaged over
input scales and left-right flips (its published setting: scales 0.5…1.75 in steps of 0.25, plus flips).

Three stages, so a server can run the model stage on crops of many requests at once: `views` (the model inputs of
some crops), `probabilities` (the model), `combine` (back to the crops' size, averaged)."""
import tensorflow as tf


def scaled_sizes(height: int, width: int, scales: list[float]) -> list[tuple[int, int]]:
    """The model input size at each scale (at least one pixel)."""
    return [(max(1, round(height * s)), max(1, round(width * s))) for s in scales]


def views(pixels: tf.Tensor, sizes: list[tuple[int, int]], flip: bool) -> list[tf.Tensor]:
    """Per scale, float crops resized to that model input size (bilinear, half-pixel centres, as OpenCV's), their
    mirror images appended after them when flipping (the flip runs in the same model call, one batch of 2B)."""
    batches = []
    for size in sizes:
        images = tf.image.resize(pixels, size, method="bilinear")
        batches.append(tf.concat([images, tf.reverse(images, axis=[2])], axis=0) if flip else images)
    return batches


def probabilities(model, images: tf.Tensor) -> tf.Tensor:
    return tf.nn.softmax(model(images, training=False), axis=-1)


def combine(per_view: list[tf.Tensor], size: tf.Tensor, flip: bool) -> tf.Tensor:
    """Mean of every view's scores resized back to `size`; a flipped view's scores are flipped back first, so every
    view votes for the same pixel."""
    total = 0.0
    for scores in per_view:
        if flip:
            count = tf.shape(scores)[0] // 2
            scores = scores[:count] + tf.reverse(scores[count:], axis=[2])
        total += tf.image.resize(scores, size, method="bilinear")
    return total / (len(per_view) * (2 if flip else 1))


def average_scores(model, pixels: tf.Tensor, sizes: list[tuple[int, int]], flip: bool) -> tf.Tensor:
    """The three stages as one computation: float crops [B, h, w, 3] → mean softmax scores [B, h, w, C]."""
    return combine([probabilities(model, images) for images in views(pixels, sizes, flip)], tf.shape(pixels)[1:3],
                   flip)
