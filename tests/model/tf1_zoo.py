"""Model-zoo-like TF1 checkpoints for tests, written from research/deeplab's own layout (reference/deeplab.md,
slim's V2_DEF, core/xception.py and core/resnet_v1_beta.py), not from our layers: names and shapes are the spec our
import must meet. The ImageNet ones ("for training your own models") are a backbone with its classification head."""
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


def _head(cin, rates, decoder_cin, classes, dpc=False, filters=256):
    """model.py's head; `filters`: --aspp_convs_filters (the ASPP's, 256 unless set)."""
    if dpc:
        names = _dpc(cin)
    else:
        names = {**_conv("image_pooling", 1, cin, filters), **_conv("aspp0", 1, cin, filters)}
        for i in range(1, len(rates) + 1):
            names.update(_separable(f"aspp{i}", cin, filters))
        names.update(_conv("concat_projection", 1, filters * (2 + len(rates)), filters))
    if decoder_cin:
        names.update(_conv("decoder/feature_projection0", 1, decoder_cin, 48))
        names.update(_separable("decoder/decoder_conv0", 256 + 48, 256))
        names.update(_separable("decoder/decoder_conv1", 256, 256))
    top = 256 if decoder_cin else filters
    return {**names, "logits/semantic/weights": [1, 1, top, classes], "logits/semantic/biases": [classes]}


def mobilenet_v2_backbone_names(depth_multiplier: float, slim_rounding: bool = False) -> tuple[dict, int]:
    """MobilenetV2 up to expanded_conv_16 (layer_18, where DeepLab stops), and its output channels. V2_DEF gives its
    BatchNorm center and scale. `slim_rounding`: slim's own defaults (min_depth = divisible_by = 8 at every
    multiplier, as its ImageNet checkpoints were built), where DeepLab passes 1 / 1 below ×1.0."""
    def width(base):
        return make_divisible(base * depth_multiplier, 8, 8) if slim_rounding else channels(base, depth_multiplier)

    cin = width(32)
    names = _conv("MobilenetV2/Conv", 3, 3, cin)
    for i, (t, c, _) in enumerate(EXPANDED_CONVS):
        scope, cout = "MobilenetV2/expanded_conv" + (f"_{i}" if i else ""), width(c)
        inner = cin if t == 1 else make_divisible(cin * t, 8)
        if t != 1:
            names.update(_conv(f"{scope}/expand", 1, cin, inner))
        names.update(_conv(f"{scope}/depthwise", 3, inner, inner, depthwise=True))
        names.update(_conv(f"{scope}/project", 1, inner, cout))
        cin = cout
    return names, cin


def mobilenet_v2_names(depth_multiplier: float, classes: int, atrous_rates=()) -> dict[str, list[int]]:
    """DeepLabV3 MobileNetV2 (the zoo's: no ASPP rates, no decoder; or with ASPP branches for `atrous_rates`)."""
    names, cin = mobilenet_v2_backbone_names(depth_multiplier)
    return {**names, **_head(cin, list(atrous_rates), 0, classes)}


def mobilenet_v2_imagenet_names(depth_multiplier: float = 1.0) -> dict[str, list[int]]:
    """slim's `mobilenet_v2_<multiplier>_224` ImageNet checkpoint: the backbone, layer_19 `Conv_1` (1280 channels,
    kept at 1280 below ×1.0: finegrain_classification_mode) and `Logits/Conv2d_1c_1x1` for 1001 classes."""
    names, cin = mobilenet_v2_backbone_names(depth_multiplier, slim_rounding=True)
    return {**names, **_conv("MobilenetV2/Conv_1", 1, cin, 1280),
            "MobilenetV2/Logits/Conv2d_1c_1x1/weights": [1, 1, 1280, 1001],
            "MobilenetV2/Logits/Conv2d_1c_1x1/biases": [1001]}


def _classification_logits(scope: str, cin: int) -> dict[str, list[int]]:
    """The `<scope>/logits` 1×1 conv with biases (no BatchNorm) of research/deeplab's xception.py / resnet_v1_beta.py
    built with num_classes (ImageNet's 1001), after global pooling."""
    return {f"{scope}/logits/weights": [1, 1, cin, 1001], f"{scope}/logits/biases": [1001]}


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


def xception_backbone_names(scope: str) -> dict[str, list[int]]:
    """DeepLab's aligned Xception-41 / 65 / 71 (`scope`), 2048 output channels."""
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
    return names


def xception_names(scope: str, classes: int, dpc: bool = False) -> dict[str, list[int]]:
    """DeepLabV3+ Xception-41 / 65 / 71 (`scope`), ASPP [6, 12, 18] (or the Dense Prediction Cell), decoder."""
    return {**xception_backbone_names(scope), **_head(2048, [6, 12, 18], 256, classes, dpc)}


def xception_imagenet_names(scope: str) -> dict[str, list[int]]:
    """The zoo's `xception_41/65/71_imagenet`: the backbone and its ImageNet logits."""
    return {**xception_backbone_names(scope), **_classification_logits(scope, 2048)}


# resnet_v1_beta.py: (bottleneck depth, units) of block1..3 (stride 2 in the last unit); block4 is 3 units of 512.
RESNET_BLOCKS = {50: [(64, 3), (128, 4), (256, 6), (512, 3)], 101: [(64, 3), (128, 4), (256, 23), (512, 3)]}


def resnet_v1_beta_backbone_names(layers: int) -> dict[str, list[int]]:
    """resnet_v1_{50,101}_beta under its ImageNet scope `resnet_v1_<layers>`: conv1_1..3 (3×3: 64, 64, 128), then
    bottleneck_v1 units (conv1 1×1, conv2 3×3, conv3 1×1 ×4 depth; a `shortcut` conv only where the depth changes:
    each block's unit_1), every conv with BatchNorm (scale: gamma)."""
    scope = f"resnet_v1_{layers}"
    names = {**_conv(f"{scope}/conv1_1", 3, 3, 64), **_conv(f"{scope}/conv1_2", 3, 64, 64),
             **_conv(f"{scope}/conv1_3", 3, 64, 128)}
    cin = 128
    for b, (depth, units) in enumerate(RESNET_BLOCKS[layers], 1):
        for unit in range(1, units + 1):
            unit_scope = f"{scope}/block{b}/unit_{unit}/bottleneck_v1"
            if cin != 4 * depth:
                names.update(_conv(f"{unit_scope}/shortcut", 1, cin, 4 * depth))
            names.update({**_conv(f"{unit_scope}/conv1", 1, cin, depth),
                          **_conv(f"{unit_scope}/conv2", 3, depth, depth),
                          **_conv(f"{unit_scope}/conv3", 1, depth, 4 * depth)})
            cin = 4 * depth
    return names


def resnet_v1_beta_names(layers: int, classes: int) -> dict[str, list[int]]:
    """DeepLabV3+ ResNet-v1-beta, ASPP [6, 12, 18] (split separable branches, as for Xception), decoder on block1's
    unit_2 (256 channels)."""
    return {**resnet_v1_beta_backbone_names(layers), **_head(2048, [6, 12, 18], 256, classes)}


def resnet_v1_beta_imagenet_names(layers: int) -> dict[str, list[int]]:
    """The zoo's `resnet_v1_<layers>_beta_imagenet`: the backbone and its ImageNet logits."""
    return {**resnet_v1_beta_backbone_names(layers), **_classification_logits(f"resnet_v1_{layers}", 2048)}


def value(name: str, shape: list[int]) -> np.ndarray:
    """Deterministic per name; variances positive; small enough that deep stacks stay finite."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    v = rng.normal(0.0, 0.1, shape).astype(np.float32)
    if name.endswith("moving_variance"):
        return np.abs(v) + 0.5
    if name.endswith("gamma"):
        return v + 1.0
    return v


def trained_value(name: str, shape: list[int]) -> np.ndarray:
    """`value` with convolution kernels scaled by 1/sqrt(fan-in), as training leaves them: activations keep their
    scale through a deep network run with its moving statistics (a 101-layer ResNet overflows with `value`)."""
    v = value(name, shape)
    return (v * 10 / np.sqrt(np.prod(shape[:-1]))).astype(np.float32) if name.endswith("/weights") else v


def write_tf1_checkpoint(prefix: str, shapes: dict[str, list[int]], extra_training_state: bool = True,
                         values_from=value) -> dict:
    """A TF1 Saver checkpoint with exactly these names (plus global_step and Momentum slots, as training
    checkpoints hold), values from `values_from(name, shape)`; returns the model values {name: array}."""
    values = {name: values_from(name, shape) for name, shape in shapes.items()}
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


def _mobilenet_v2_graph(x, conv, variables, output_stride):
    """slim's MobileNetV2 up to layer_18 (V2_DEF, ReLU6). slim's mobilenet_base: once output_stride is reached, a
    stride becomes 1 and multiplies the next rates."""
    x = conv(x, "MobilenetV2/Conv", "relu6", stride=2)
    current, rate = 2, 1
    for i, (t, _, nominal) in enumerate(EXPANDED_CONVS):
        scope = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
        if current == output_stride:
            stride, layer_rate, rate = 1, rate, rate * nominal
        else:
            stride, layer_rate, current = nominal, 1, current * nominal
        inputs = x
        if t != 1:
            x = conv(x, f"{scope}/expand", "relu6")
        x = conv(x, f"{scope}/depthwise", "relu6", stride, layer_rate, depthwise=True)
        x = conv(x, f"{scope}/project", None)
        if stride == 1 and inputs.shape[-1] == x.shape[-1]:
            x = x + inputs
    return x


def write_frozen_graph(path, values: dict[str, np.ndarray], *, output_stride: int, atrous_rates=(),
                       crop: int, backbone=_mobilenet_v2_graph) -> None:
    """research/deeplab's frozen_inference_graph.pb of DeepLabV3 MobileNetV2 (or `backbone`: (x, conv, variables,
    output_stride) → features), rebuilt in TF1 from the originals' rules (export_model.py, model.py, slim's
    mobilenet_v2; reference/deeplab.md), not from our layers, with `values` (mobilenet_v2_names' layout, or the
    backbone's; ASPP branches if `atrous_rates`): ImageTensor uint8 [1, H, W, 3] → padded to `crop`
    with the mean pixel → 2/255·x − 1 → network → logits/semantic → ResizeBilinear to the logits size →
    ResizeBilinear to the image → ArgMax → SemanticPredictions. Atrous depthwise convs are TF1's SpaceToBatchND form;
    variables are frozen by convert_variables_to_constants, each a Const of its name with a `/read` Identity."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        variables = {n: v1.get_variable(n, initializer=value, use_resource=False) for n, value in values.items()}

        def conv(x, scope, activation, stride=1, rate=1, epsilon=1e-3, depthwise=False):
            with v1.name_scope(scope + "/"):
                if depthwise:
                    x = tf.nn.depthwise_conv2d(x, variables[f"{scope}/depthwise_weights"], [1, stride, stride, 1],
                                               "SAME", dilations=[rate, rate], name="depthwise")
                else:
                    x = tf.nn.conv2d(x, variables[f"{scope}/weights"], stride, "SAME", name="Conv2D")
                bn = [variables[f"{scope}/BatchNorm/{k}"] for k in ("gamma", "beta", "moving_mean", "moving_variance")]
                x = v1.nn.fused_batch_norm(x, *bn, epsilon=epsilon, is_training=False, name="BatchNorm")[0]
                return {"relu6": tf.nn.relu6, "relu": tf.nn.relu, None: tf.identity}[activation](x)

        image = v1.placeholder(tf.uint8, [1, None, None, 3], name="ImageTensor")
        size = tf.shape(image)[1:3]
        padding = tf.maximum(crop - size, 0)
        x = tf.pad(tf.cast(image, tf.float32) - 127.5, [[0, 0], [0, padding[0]], [0, padding[1]], [0, 0]]) + 127.5
        padded_size = tf.shape(x)[1:3]
        x = backbone(x * (2 / 255) - 1, conv, variables, output_stride)
        pool = (crop - 1) // output_stride + 1   # model.py's scale_dimension(crop, 1 / output_stride)
        pooled = tf.nn.avg_pool2d(x, [pool, pool], [pool, pool], "VALID", name="AvgPool")
        pooled = conv(pooled, "image_pooling", "relu", epsilon=1e-5)
        branches = [v1.image.resize_bilinear(pooled, [pool, pool], align_corners=True),
                    conv(x, "aspp0", "relu", epsilon=1e-5)]
        for i, aspp_rate in enumerate(atrous_rates, 1):
            y = conv(x, f"aspp{i}_depthwise", "relu", rate=aspp_rate, epsilon=1e-5, depthwise=True)
            branches.append(conv(y, f"aspp{i}_pointwise", "relu", epsilon=1e-5))
        x = conv(tf.concat(branches, 3), "concat_projection", "relu", epsilon=1e-5)
        with v1.name_scope("logits/semantic/"):
            logits = tf.nn.conv2d(x, variables["logits/semantic/weights"], 1, "SAME") + variables[
                "logits/semantic/biases"]
        logits = v1.image.resize_bilinear(logits, [pool, pool], align_corners=True)
        logits = v1.image.resize_bilinear(logits, padded_size, align_corners=True)
        labels = tf.argmax(logits, 3)[:, :size[0], :size[1]]
        tf.identity(labels, name="SemanticPredictions")
        _freeze(graph, path)


def _freeze(graph: tf.Graph, path) -> None:
    """`graph` (the default graph) with its variables as constants, as export_model.py writes it, at `path`."""
    v1 = tf.compat.v1
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        frozen = v1.graph_util.convert_variables_to_constants(session, graph.as_graph_def(), ["SemanticPredictions"])
    with open(path, "wb") as f:
        f.write(frozen.SerializeToString())


def write_zoo_folder(folder, *, atrous_rates=(), output_stride: int = 8, crop: int = 65,
                     graph_changes: dict | None = None) -> dict:
    """An unpacked model-zoo tarball of MobileNetV2 ×0.5 for 21 classes: model.ckpt (trained at OS 16, ASPP rates
    half of `atrous_rates`) and the frozen_inference_graph.pb exported from it at `output_stride`; `graph_changes`
    {name: factor} makes the graph disagree with the checkpoint. Returns the checkpoint's values."""
    values = write_tf1_checkpoint(str(folder / "model.ckpt"), mobilenet_v2_names(0.5, 21, atrous_rates))
    frozen = {name: v * (graph_changes or {}).get(name, 1) for name, v in values.items()}
    write_frozen_graph(folder / "frozen_inference_graph.pb", frozen, output_stride=output_stride,
                       atrous_rates=atrous_rates, crop=crop)
    return values


# slim's nets/mobilenet/mobilenet_v3.py V3_LARGE / V3_SMALL, after the stem conv (16, hard-swish):
# (expansion factor, outputs, depthwise kernel, stride, activation, squeeze-excite), then the last 1×1 conv and the
# classification conv (no BatchNorm, biases).
MOBILENET_V3 = {
    "large": ([(1, 16, 3, 1, "relu", False), (4, 24, 3, 2, "relu", False), (3, 24, 3, 1, "relu", False),
               (3, 40, 5, 2, "relu", True), (3, 40, 5, 1, "relu", True), (3, 40, 5, 1, "relu", True),
               (6, 80, 3, 2, "hswish", False), (2.5, 80, 3, 1, "hswish", False), (184 / 80, 80, 3, 1, "hswish", False),
               (184 / 80, 80, 3, 1, "hswish", False), (6, 112, 3, 1, "hswish", True), (6, 112, 3, 1, "hswish", True),
               (6, 160, 5, 2, "hswish", True), (6, 160, 5, 1, "hswish", True), (6, 160, 5, 1, "hswish", True)],
              960, 1280),
    "small": ([(1, 16, 3, 2, "relu", True), (72 / 16, 24, 3, 2, "relu", False), (88 / 24, 24, 3, 1, "relu", False),
               (4, 40, 5, 2, "hswish", True), (6, 40, 5, 1, "hswish", True), (6, 40, 5, 1, "hswish", True),
               (3, 48, 5, 1, "hswish", True), (3, 48, 5, 1, "hswish", True), (6, 96, 5, 2, "hswish", True),
               (6, 96, 5, 1, "hswish", True), (6, 96, 5, 1, "hswish", True)], 576, 1024),
}
# research/deeplab core/feature_extractor.py's mobilenet_v3_{large,small}_seg: spec[layer] (the stem is spec[0]) has
# its num_outputs halved and, where given, its expansion set to that many channels (a factor of the unhalved
# previous output); the last entry is the last 1×1 conv. DECODER_END_POINTS: layer_N/depthwise_output by stride.
MOBILENET_V3_SEG = {"large": [(13, 336), (14, 480), (15, 480), (16, None)],
                    "small": [(9, 144), (10, 288), (11, 288), (12, None)]}
MOBILENET_V3_DECODER = {"large": {4: 4, 8: 7}, "small": {4: 2, 8: 4}}


def _with_biases(scope, kh, cin, cout):
    return {f"{scope}/weights": [kh, kh, cin, cout], f"{scope}/biases": [cout]}


def mobilenet_v3_spec(size: str, seg: bool = True) -> tuple[list, int]:
    """(blocks [(expansion factor, outputs, kernel, stride, activation, se)], last conv outputs) of slim's V3 spec,
    with feature_extractor.py's _seg changes if `seg`."""
    blocks, last, _ = MOBILENET_V3[size]
    blocks = [list(b) for b in blocks]
    if seg:
        for layer, expansion in MOBILENET_V3_SEG[size]:
            if layer == len(blocks) + 1:
                last //= 2
                continue
            previous = blocks[layer - 2][1] if layer >= 2 else 16
            blocks[layer - 1][1] //= 2
            blocks[layer - 1][0] = expansion / previous
    return [tuple(b) for b in blocks], last


def mobilenet_v3_backbone_names(size: str, seg: bool = True) -> tuple[dict, int, dict]:
    """MobilenetV3/… up to the last 1×1 conv: names, its output channels, and {stride: channels} of the decoder end
    points (each a block's depthwise output)."""
    blocks, last = mobilenet_v3_spec(size, seg)
    names, cin, decoder = _conv("MobilenetV3/Conv", 3, 3, 16), 16, {}
    for i, (factor, cout, kernel, _, _, se) in enumerate(blocks):
        scope = "MobilenetV3/expanded_conv" + (f"_{i}" if i else "")
        inner = make_divisible(cin * factor, 8)
        if inner > cin:
            names.update(_conv(f"{scope}/expand", 1, cin, inner))
        names.update(_conv(f"{scope}/depthwise", kernel, inner, inner, depthwise=True))
        if se:
            squeeze = make_divisible(inner / 4, 8)
            names.update({**_with_biases(f"{scope}/squeeze_excite/Conv", 1, inner, squeeze),
                          **_with_biases(f"{scope}/squeeze_excite/Conv_1", 1, squeeze, inner)})
        names.update(_conv(f"{scope}/project", 1, inner, cout))
        for stride, layer in MOBILENET_V3_DECODER[size].items():
            if layer == i + 2:
                decoder[stride] = inner
        cin = cout
    return {**names, **_conv("MobilenetV3/Conv_1", 1, cin, last)}, last, decoder


def mobilenet_v3_names(size: str, classes: int, filters: int = 128) -> dict[str, list[int]]:
    """The zoo's mobilenetv3_{size}_cityscapes: the _seg backbone, the ASPP of `filters` with the squeeze-excitation
    image pooling (biases, no BatchNorm) and no concat projection, the stride-8 sum-merge decoder giving the logits
    (feature_projection0 and decoder_conv0: 1×1, biases, `classes` filters); no logits/semantic."""
    names, cin, decoder = mobilenet_v3_backbone_names(size)
    return {**names, **_with_biases("image_pooling", 1, cin, filters), **_conv("aspp0", 1, cin, filters),
            **_with_biases("decoder/feature_projection0", 1, decoder[8], classes),
            **_with_biases("decoder/decoder_conv0", 1, filters, classes)}


def mobilenet_v3_imagenet_names(size: str, seg: bool = True) -> dict[str, list[int]]:
    """A slim MobileNetV3 ImageNet checkpoint: the backbone (the _seg widths, or slim's own if not `seg`), `Conv_2`
    (1280 / 1024, biases, no BatchNorm) and `Logits/Conv2d_1c_1x1` for 1001 classes."""
    names, cin, _ = mobilenet_v3_backbone_names(size, seg)
    head = MOBILENET_V3[size][2]
    return {**names, **_with_biases("MobilenetV3/Conv_2", 1, cin, head),
            **_with_biases("MobilenetV3/Logits/Conv2d_1c_1x1", 1, head, 1001)}


def write_mobilenet_v3_frozen_graph(path, size: str, values: dict[str, np.ndarray], *, crop: tuple[int, int],
                                    pool_crop: tuple[int, int], pool_stride: tuple[int, int]) -> None:
    """The zoo's MobileNetV3 frozen_inference_graph.pb (output stride 32), rebuilt in TF1 from the originals' rules
    (slim's mobilenet_v3.py / conv_blocks.py, research/deeplab's model.py with the zoo's flags), not from our layers,
    with `values` (mobilenet_v3_names' layout): ImageTensor → 2/255·x − 1 → backbone → AvgPool of the
    `pool_crop` window / `pool_stride` → image_pooling (q-sigmoid) × aspp0 → decoder sum at stride 8 → resize →
    ArgMax. Variables are frozen as in write_frozen_graph."""
    v1 = tf.compat.v1
    blocks, _ = mobilenet_v3_spec(size)
    graph = tf.Graph()
    with graph.as_default():
        variables = {n: v1.get_variable(n, initializer=value, use_resource=False) for n, value in values.items()}
        hswish = lambda x: x * tf.nn.relu6(x + np.float32(3)) * np.float32(1. / 6.)   # noqa: E731
        hsigmoid = lambda x: tf.nn.relu6(x + 3) * 0.16667   # noqa: E731 — slim's SE gate, deeplab's q_sigmoid
        acts = {"relu": tf.nn.relu, "hswish": hswish, "hsigmoid": hsigmoid, None: tf.identity}

        def conv(x, scope, activation, stride=1, epsilon=1e-3, depthwise=False, bn=True):
            with v1.name_scope(scope + "/"):
                if depthwise:
                    x = tf.nn.depthwise_conv2d(x, variables[f"{scope}/depthwise_weights"], [1, stride, stride, 1],
                                               "SAME", name="depthwise")
                else:
                    x = tf.nn.conv2d(x, variables[f"{scope}/weights"], stride, "SAME", name="Conv2D")
                if bn:
                    gamma_etc = [variables[f"{scope}/BatchNorm/{k}"]
                                 for k in ("gamma", "beta", "moving_mean", "moving_variance")]
                    x = v1.nn.fused_batch_norm(x, *gamma_etc, epsilon=epsilon, is_training=False, name="BatchNorm")[0]
                else:
                    x = tf.nn.bias_add(x, variables[f"{scope}/biases"])
                return acts[activation](x)

        image = v1.placeholder(tf.uint8, [1, None, None, 3], name="ImageTensor")
        x = tf.cast(image, tf.float32) * (2 / 255) - 1
        x = conv(x, "MobilenetV3/Conv", "hswish", stride=2)
        endpoints = {}
        for i, (_, _, _, stride, activation, se) in enumerate(blocks):
            scope = "MobilenetV3/expanded_conv" + (f"_{i}" if i else "")
            inputs = x
            if f"{scope}/expand/weights" in variables:
                x = conv(x, f"{scope}/expand", activation)
            x = endpoints[i + 2] = conv(x, f"{scope}/depthwise", activation, stride, depthwise=True)
            if se:
                gate = tf.reduce_mean(x, [1, 2], keepdims=True)
                gate = conv(gate, f"{scope}/squeeze_excite/Conv", "relu", bn=False)
                x = x * conv(gate, f"{scope}/squeeze_excite/Conv_1", "hsigmoid", bn=False)
            x = conv(x, f"{scope}/project", None)
            if stride == 1 and inputs.shape[-1] == x.shape[-1]:
                x = x + inputs
        x = conv(x, "MobilenetV3/Conv_1", "hswish")
        scale = lambda side, stride: (side - 1) // stride + 1   # noqa: E731 — model.py's scale_dimension
        window = [scale(side, 32) for side in pool_crop]
        pooled = tf.nn.avg_pool2d(x, window, list(pool_stride), "VALID", name="AvgPool")
        pooled = conv(pooled, "image_pooling", "hsigmoid", bn=False)
        features = [scale(side, 32) for side in crop]
        pooled = v1.image.resize_bilinear(pooled, features, align_corners=True)
        x = conv(x, "aspp0", "relu", epsilon=1e-5) * pooled
        decoder = [scale(side, 8) for side in crop]
        projected = v1.image.resize_bilinear(
            conv(endpoints[MOBILENET_V3_DECODER[size][8]], "decoder/feature_projection0", None, bn=False), decoder,
            align_corners=True)
        x = v1.image.resize_bilinear(x, decoder, align_corners=True)
        logits = conv(x, "decoder/decoder_conv0", None, bn=False) + projected
        logits = v1.image.resize_bilinear(logits, tf.shape(image)[1:3], align_corners=True)
        tf.identity(tf.argmax(logits, 3), name="SemanticPredictions")
        _freeze(graph, path)


# slim's nets/mobilenet/mobilenet_v3.py V3_EDGETPU after the stem conv (32, ReLU): (fused, kernel, stride, expansion
# factor, outputs, residual); mbv3_fused's expansion is a kernel×kernel conv with the stride and no depthwise follows.
# Then the 1280-channel 1×1 conv, layer_24: feature_extractor.py's _MOBILENET_EDGETPU final endpoint. ReLU throughout.
MOBILENET_EDGETPU = (
    [(True, 3, 1, 1, 16, True), (True, 3, 2, 8, 32, True), *[(True, 3, 1, 4, 32, True)] * 3,
     (True, 3, 2, 8, 48, True), *[(True, 3, 1, 4, 48, True)] * 3, (False, 3, 2, 8, 96, True),
     *[(False, 3, 1, 4, 96, True)] * 3, (False, 3, 1, 8, 96, False), *[(False, 3, 1, 4, 96, True)] * 3,
     (False, 5, 2, 8, 160, True), *[(False, 5, 1, 4, 160, True)] * 3, (False, 3, 1, 8, 192, True)], 1280)


def _edgetpu_scope(i: int) -> str:
    return "MobilenetEdgeTPU/expanded_conv" + (f"_{i}" if i else "")


def mobilenet_edgetpu_backbone_names(depth_multiplier: float = 1.0) -> tuple[dict, int]:
    """MobilenetEdgeTPU/… up to Conv_1 (layer_24) and its output channels: every num_outputs make_divisible(n ×
    multiplier, 8, 8) (mobilenet.py's depth_multiplier; finegrain_classification_mode off, so Conv_1 too), each
    expansion make_divisible(input × factor, 8) and only if wider (conv_blocks.expanded_conv)."""
    def width(base):
        return make_divisible(base * depth_multiplier, 8, 8)

    blocks, last = MOBILENET_EDGETPU
    cin = width(32)
    names = _conv("MobilenetEdgeTPU/Conv", 3, 3, cin)
    for i, (fused, kernel, _, factor, cout, _) in enumerate(blocks):
        inner = make_divisible(cin * factor, 8)
        if inner > cin:
            names.update(_conv(f"{_edgetpu_scope(i)}/expand", kernel if fused else 1, cin, inner))
        if not fused:
            names.update(_conv(f"{_edgetpu_scope(i)}/depthwise", kernel, inner, inner, depthwise=True))
        names.update(_conv(f"{_edgetpu_scope(i)}/project", 1, inner, width(cout)))
        cin = width(cout)
    return {**names, **_conv("MobilenetEdgeTPU/Conv_1", 1, cin, width(last))}, width(last)


def mobilenet_edgetpu_names(depth_multiplier: float, classes: int, filters: int) -> dict[str, list[int]]:
    """The zoo's EdgeTPU-DeepLab (×1.0, --aspp_convs_filters 256) / -slim (×0.75, 128): MobileNetV2's DeepLabV3 head
    (image pooling, aspp0, concat_projection; no rates, no decoder) of `filters`, logits/semantic."""
    names, cin = mobilenet_edgetpu_backbone_names(depth_multiplier)
    return {**names, **_head(cin, [], 0, classes, filters=filters)}


def mobilenet_edgetpu_imagenet_names() -> dict[str, list[int]]:
    """slim's mobilenet_edgetpu_224_1.0 ImageNet checkpoint: the backbone (Conv_1 included) and
    `Logits/Conv2d_1c_1x1` (biases) for 1001 classes after global pooling."""
    names, cin = mobilenet_edgetpu_backbone_names()
    return {**names, **_with_biases("MobilenetEdgeTPU/Logits/Conv2d_1c_1x1", 1, cin, 1001)}


def mobilenet_edgetpu_graph(x, conv, variables, output_stride):
    """write_frozen_graph's backbone for MobilenetEdgeTPU: slim's mobilenet_base rule (a stride reached becomes 1,
    the next layers take its rate) on the depthwise convs only: mbv3_fused binds its expansion's stride and no rate."""
    x = conv(x, "MobilenetEdgeTPU/Conv", "relu", stride=2)
    current, rate = 2, 1
    for i, (fused, _, nominal, _, _, residual) in enumerate(MOBILENET_EDGETPU[0]):
        scope = _edgetpu_scope(i)
        if current == output_stride:
            stride, layer_rate, rate = 1, rate, rate * nominal
        else:
            stride, layer_rate, current = nominal, 1, current * nominal
        inputs = x
        if f"{scope}/expand/weights" in variables:
            x = conv(x, f"{scope}/expand", "relu", stride=stride if fused else 1)
        if not fused:
            x = conv(x, f"{scope}/depthwise", "relu", stride, layer_rate, depthwise=True)
        x = conv(x, f"{scope}/project", None)
        if residual and stride == 1 and inputs.shape[-1] == x.shape[-1]:
            x = x + inputs
    return conv(x, "MobilenetEdgeTPU/Conv_1", "relu")


# ---- frozen graphs of every research-exact backbone: the variables as constants, the atrous convolutions as nodes

# core/xception.py's block strides (every unit of a block has the block's stride, on its last separable conv).
XCEPTION_STRIDES = {
    "xception_41": (2, 2, 2, 1, 2, 1), "xception_65": (2, 2, 2, 1, 2, 1),
    "xception_71": (2, 1, 2, 1, 2, 1, 2, 1),
}
RESNET_MULTI_GRID = (1, 2, 4)   # block4's unit_rate of every zoo ResNet-v1-beta model (feature_extractor's multi_grid)
ZOO_EXPORT_STRIDE, ZOO_EXPORT_ASPP = 8, (12, 24, 36)   # how the zoo exported its frozen_inference_graph.pb


def stacked_rates(strides, output_stride: int, current: int) -> list[int]:
    """The rate of each unit (of these nominal strides), as slim's stack_blocks_dense (resnet_utils.py, and
    xception.py's copy) runs them from stride `current`: once `output_stride` is reached a unit runs at stride 1
    and the current rate, and its stride multiplies the rate of the units after it."""
    rates, rate = [], 1
    for stride in strides:
        if current == output_stride:
            rates.append(rate)
            rate *= stride
        else:
            rates.append(1)
            current *= stride
    return rates


def xception_atrous(scope: str, output_stride: int) -> dict[str, int]:
    """Conv scope → rate (> 1) of Xception-41/65/71's depthwise convs: each unit's three separable convs take its
    rate (the zoo's unit_rate_list is 1, 1, 1); conv1_1 (stride 2) runs before the blocks."""
    units = [(block, unit, stride) for (block, _, count, _), stride in zip(XCEPTION_BLOCKS[scope],
                                                                           XCEPTION_STRIDES[scope])
             for unit in range(1, count + 1)]
    rates = stacked_rates([stride for *_, stride in units], output_stride, current=2)
    return {f"{scope}/{block}/unit_{unit}/xception_module/separable_conv{k}_depthwise": rate
            for (block, unit, _), rate in zip(units, rates) if rate > 1 for k in (1, 2, 3)}


def resnet_v1_beta_atrous(layers: int, output_stride: int) -> dict[str, int]:
    """Conv scope → rate (> 1) of ResNet-v1-beta's conv2 (3×3; the 1×1 convs take no rate): blocks 1–3 have their
    stride 2 in the last unit, block4's units multiply the rate by the multi-grid; the stem (stride 4) runs first."""
    units = [(b, unit, 2 if b < 4 and unit == count else 1, RESNET_MULTI_GRID[unit - 1] if b == 4 else 1)
             for b, (_, count) in enumerate(RESNET_BLOCKS[layers], 1) for unit in range(1, count + 1)]
    rates = stacked_rates([stride for _, _, stride, _ in units], output_stride, current=4)
    return {f"resnet_v1_{layers}/block{b}/unit_{unit}/bottleneck_v1/conv2": rate * grid
            for (b, unit, _, grid), rate in zip(units, rates) if rate * grid > 1}


def head_atrous(atrous_rates=(), dpc_rates=()) -> dict:
    """The head's atrous depthwise convs: ASPP branches at `atrous_rates`, or the Dense Prediction Cell's branches at
    `dpc_rates` ((height, width) each, already scaled to the export's stride)."""
    return {**{f"aspp{i}_depthwise": rate for i, rate in enumerate(atrous_rates, 1)},
            **{f"meta_architecture/branch{i}_depthwise": rate for i, rate in enumerate(dpc_rates)}}


def write_graph_def(path, values: dict[str, np.ndarray], atrous: dict) -> None:
    """A frozen_inference_graph.pb as convert_variables_to_constants leaves it, reduced to what the import reads:
    each variable a Const of its TF1 name with its `<name>/read` Identity, and each atrous conv of `atrous` ({conv
    scope: rate or (height, width) rates}) as TF1 builds it: SpaceToBatchND (its block_shape constant) → Conv2D, or
    DepthwiseConv2dNative under `<scope>/depthwise` → BatchToSpaceND, reading its kernel through `/read`."""
    graph = tf.Graph()
    with graph.as_default():
        read = {name: tf.identity(tf.constant(v, name=name), name=f"{name}/read") for name, v in values.items()}
        features = tf.compat.v1.placeholder(tf.float32, [1, None, None, None], name="features")
        for scope, rate in atrous.items():
            block = list(rate) if isinstance(rate, tuple) else [rate, rate]
            depthwise = f"{scope}/depthwise_weights" in values
            prefix = f"{scope}/depthwise/" if depthwise else f"{scope}/"
            block_shape = tf.constant(block, name=f"{prefix}SpaceToBatchND/block_shape")
            zeros = tf.constant([[0, 0], [0, 0]], name=f"{prefix}SpaceToBatchND/paddings")
            x = tf.raw_ops.SpaceToBatchND(input=features, block_shape=block_shape, paddings=zeros,
                                          name=f"{prefix}SpaceToBatchND")
            if depthwise:
                x = tf.raw_ops.DepthwiseConv2dNative(input=x, filter=read[f"{scope}/depthwise_weights"],
                                                     strides=[1, 1, 1, 1], padding="VALID", name=prefix[:-1])
            else:
                x = tf.raw_ops.Conv2D(input=x, filter=read[f"{scope}/weights"], strides=[1, 1, 1, 1],
                                      padding="VALID", name=f"{prefix}Conv2D")
            tf.raw_ops.BatchToSpaceND(input=x, block_shape=block_shape, crops=zeros, name=f"{prefix}BatchToSpaceND")
    with open(path, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())
