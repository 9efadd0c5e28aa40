"""Model-zoo-like TF1 checkpoints for tests, written from research/deeplab's own layout (reference/deeplab.md,
slim's V2_DEF and core/xception.py), not from our layers: names and shapes are the spec our import must meet."""
import zlib

import numpy as np
import tensorflow as tf

from trainer.model.backbones.mobilenet_v2 import EXPANDED_CONVS, channels, make_divisible


def _conv(scope, kh, cin, cout, depthwise=False):
    """One slim conv + BatchNorm (center and scale: gamma and beta): {name: shape}."""
    kernel = {f"{scope}/depthwise_weights": [kh, kh, cin, 1]} if depthwise else {f"{scope}/weights": [kh, kh, cin, cout]}
    return {**kernel, **{f"{scope}/BatchNorm/{v}": [cout] for v in ("gamma", "beta", "moving_mean", "moving_variance")}}


def _separable(scope, cin, cout):
    return {**_conv(f"{scope}_depthwise", 3, cin, cin, depthwise=True), **_conv(f"{scope}_pointwise", 1, cin, cout)}


# core/dense_prediction_cell_branch5_top1_cityscapes.json: each branch's input (-1: the backbone features).
DPC_INPUTS = [-1, 0, 1, 0, 0]


def _dpc(cin):
    """The Dense Prediction Cell under `meta_architecture`: split separable branches of 256, concat_projection."""
    names = {}
    for i, source in enumerate(DPC_INPUTS):
        names.update(_separable(f"meta_architecture/branch{i}", cin if source < 0 else 256, 256))
    return {**names, **_conv("meta_architecture/concat_projection", 1, 256 * len(DPC_INPUTS), 256)}


def _head(cin, rates, decoder_cin, classes, dpc=False):
    if dpc:
        names = _dpc(cin)
    else:
        names = {**_conv("image_pooling", 1, cin, 256), **_conv("aspp0", 1, cin, 256)}
        for i in range(1, len(rates) + 1):
            names.update(_separable(f"aspp{i}", cin, 256))
        names.update(_conv("concat_projection", 1, 256 * (2 + len(rates)), 256))
    if decoder_cin:
        names.update(_conv("decoder/feature_projection0", 1, decoder_cin, 48))
        names.update(_separable("decoder/decoder_conv0", 256 + 48, 256))
        names.update(_separable("decoder/decoder_conv1", 256, 256))
    return {**names, "logits/semantic/weights": [1, 1, 256, classes], "logits/semantic/biases": [classes]}


def mobilenet_v2_names(depth_multiplier: float, classes: int) -> dict[str, list[int]]:
    """DeepLabV3 MobileNetV2 (no ASPP rates, no decoder); V2_DEF gives its BatchNorm center and scale."""
    cin = channels(32, depth_multiplier)
    names = _conv("MobilenetV2/Conv", 3, 3, cin)
    for i, (t, c, _) in enumerate(EXPANDED_CONVS):
        scope, cout = "MobilenetV2/expanded_conv" + (f"_{i}" if i else ""), channels(c, depth_multiplier)
        inner = cin if t == 1 else make_divisible(cin * t, 8)
        if t != 1:
            names.update(_conv(f"{scope}/expand", 1, cin, inner))
        names.update(_conv(f"{scope}/depthwise", 3, inner, inner, depthwise=True))
        names.update(_conv(f"{scope}/project", 1, inner, cout))
        cin = cout
    return {**names, **_head(cin, [], 0, classes)}


# research/deeplab core/xception.py's block lists, (block, depths, units, conv shortcut), by TF1 scope.
_EXIT = [("exit_flow/block1", (728, 1024, 1024), 1, True), ("exit_flow/block2", (1536, 1536, 2048), 1, False)]
_ENTRY_41_65 = [("entry_flow/block1", (128,) * 3, 1, True), ("entry_flow/block2", (256,) * 3, 1, True),
                ("entry_flow/block3", (728,) * 3, 1, True)]
XCEPTION_BLOCKS = {
    "xception_41": [*_ENTRY_41_65, ("middle_flow/block1", (728,) * 3, 8, False), *_EXIT],
    "xception_65": [*_ENTRY_41_65, ("middle_flow/block1", (728,) * 3, 16, False), *_EXIT],
    "xception_71": [("entry_flow/block1", (128,) * 3, 1, True), ("entry_flow/block2", (256,) * 3, 1, True),
                    ("entry_flow/block3", (256,) * 3, 1, True), ("entry_flow/block4", (728,) * 3, 1, True),
                    ("entry_flow/block5", (728,) * 3, 1, True), ("middle_flow/block1", (728,) * 3, 16, False),
                    *_EXIT],
}


def xception_names(scope: str, classes: int, dpc: bool = False) -> dict[str, list[int]]:
    """DeepLabV3+ Xception-41 / 65 / 71 (`scope`), ASPP [6, 12, 18] (or the Dense Prediction Cell), decoder."""
    names = {**_conv(f"{scope}/entry_flow/conv1_1", 3, 3, 32), **_conv(f"{scope}/entry_flow/conv1_2", 3, 32, 64)}
    cin = 64
    for block, depths, units, conv_shortcut in XCEPTION_BLOCKS[scope]:
        for unit in range(1, units + 1):
            module = f"{scope}/{block}/unit_{unit}/xception_module"
            if conv_shortcut:
                names.update(_conv(f"{module}/shortcut", 1, cin, depths[-1]))
            c = cin
            for k, depth in enumerate(depths, 1):
                names.update(_separable(f"{module}/separable_conv{k}", c, depth))
                c = depth
            cin = depths[-1]
    return {**names, **_head(cin, [6, 12, 18], 256, classes, dpc)}


def value(name: str, shape: list[int]) -> np.ndarray:
    """Deterministic per name; variances positive; small enough that deep stacks stay finite."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    v = rng.normal(0.0, 0.1, shape).astype(np.float32)
    if name.endswith("moving_variance"):
        return np.abs(v) + 0.5
    if name.endswith("gamma"):
        return v + 1.0
    return v


def write_tf1_checkpoint(prefix: str, shapes: dict[str, list[int]], extra_training_state: bool = True) -> dict:
    """A TF1 Saver checkpoint with exactly these names (plus global_step and Momentum slots, as training
    checkpoints hold); returns the model values {name: array}."""
    values = {name: value(name, shape) for name, shape in shapes.items()}
    saved = dict(values)
    if extra_training_state:
        saved["global_step"] = np.int64(30000)
        for name in list(values)[:5]:
            saved[f"{name}/Momentum"] = np.zeros_like(values[name])
    with tf.Graph().as_default():
        variables = {name: tf.compat.v1.Variable(v, name=name.replace("/", "_")) for name, v in saved.items()}
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, prefix, write_meta_graph=False)
    return values
