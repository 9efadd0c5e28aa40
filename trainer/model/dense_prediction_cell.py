"""research/deeplab's Dense Prediction Cell (core/dense_prediction_cell.py), the head of its xception71_dpc models:
in place of the ASPP, five split separable 3×3 branches at searched (height, width) rates, each fed by the features
or by an earlier branch, concatenated → dropout 0.1 → `concat_projection` 1×1. TF1 scope `meta_architecture`."""
import tf_keras

from trainer.model.deeplab_layers import Norm, conv_bn, split_separable

SCOPE = "meta_architecture"
DEPTH = 256          # hparams reduction_size and concat_channels
DROPOUT = 0.1        # dropout_on_concat_features with keep_prob 0.9, training only
# core/dense_prediction_cell_branch5_top1_cityscapes.json, the cell of every published DPC checkpoint:
# (input: -1 = the backbone features, else that branch's output; rate (height, width) at output stride 16).
CELL = (
    (-1, (1, 6)),
    (0, (18, 15)),
    (1, (6, 3)),
    (0, (1, 1)),
    (0, (6, 21)),
)


def dense_prediction_cell(features, output_stride: int, norm: Norm):
    """The cell's 256-channel output at the features' stride. Its rates are for output stride 16 and scale by
    16 / output_stride (model.py's conv_rate_multiplier), so output stride 32 has no cell (validation refuses it)."""
    multiplier = 16 // output_stride
    branches = []
    for i, (source, rate) in enumerate(CELL):
        x = features if source < 0 else branches[source]
        branches.append(split_separable(x, DEPTH, f"{SCOPE}/branch{i}", norm, "relu",
                                        rate=tuple(r * multiplier for r in rate)))
    x = tf_keras.layers.Concatenate(name=f"{SCOPE}-concat")(branches)
    x = tf_keras.layers.Dropout(DROPOUT, name=f"{SCOPE}-concat_projection_dropout")(x)
    return conv_bn(x, DEPTH, 1, f"{SCOPE}/concat_projection", norm, "relu")
