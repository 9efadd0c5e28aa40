"""The output stride and ASPP rates a frozen graph was exported with, read from its atrous convolutions
(SpaceToBatchND block shapes under the zoo's node names), for Xception-65 as the model zoo exports it (OS 8)."""
import pytest
import tensorflow as tf

from tests.model.test_tf1_import import MNV2, XCEPTION
from trainer.errors import UserError
from trainer.model.builder import build_model
from trainer.model.frozen_graph import FrozenGraph
from trainer.model.zoo_graph import exported_settings

MODULE = "xception_65/{}/unit_{}/xception_module/separable_conv{}_depthwise/depthwise/SpaceToBatchND"
# slim's stack_blocks_dense at OS 8, written from the rule (not from our builder): entry block 3's stride-2 unit runs
# at stride 1, rate 1; then the rate doubles: middle flow 2, exit block 1 (its stride turned 1) 2, exit block 2 4.
XCEPTION_OS8 = {
    **{MODULE.format("middle_flow/block1", u, k): 2 for u in range(1, 17) for k in (1, 2, 3)},
    **{MODULE.format("exit_flow/block1", 1, k): 2 for k in (1, 2, 3)},
    **{MODULE.format("exit_flow/block2", 1, k): 4 for k in (1, 2, 3)},
    **{f"aspp{i}_depthwise/depthwise/SpaceToBatchND": rate for i, rate in enumerate([12, 24, 36], 1)},
}


def _graph(tmp_path, rates: dict[str, int]) -> FrozenGraph:
    """A GraphDef holding only atrous SpaceToBatchND nodes, each with its block_shape constant."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, None, None, 1], name="features")
        for name, rate in rates.items():
            tf.space_to_batch_nd(x, tf.constant([rate, rate], name=f"{name}/block_shape"), [[0, 0], [0, 0]],
                                 name=name)
    path = tmp_path / "frozen_inference_graph.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return FrozenGraph.load(path)


@pytest.mark.slow   # the default run reads stride-8 exports in test_tf1_graphs.py and test_convert_zoo_cli.py
def test_xception_graph_exported_at_output_stride_8(tmp_path):
    settings, built = exported_settings(_graph(tmp_path, XCEPTION_OS8), XCEPTION, 21, build_model(XCEPTION, 21))
    assert (settings["output_stride"], settings["atrous_rates"]) == (8, [12, 24, 36])
    assert {k: settings[k] for k in ("backbone", "decoder")} == {"backbone": "xception_65", "decoder": True}
    depthwise = built.network.get_layer("xception_65-exit_flow-block2-unit_1-xception_module-separable_conv1_depthwise")
    assert depthwise.dilation_rate == (4, 4)


def test_rates_on_layers_no_stride_explains_are_refused(tmp_path):
    """A rate where our network never puts one (MobileNetV2's expanded_conv_14–16 at rate 3)."""
    rates = {f"MobilenetV2/expanded_conv_{i}/depthwise/depthwise/SpaceToBatchND": 3 for i in (14, 15, 16)}
    with pytest.raises(UserError, match=r"its atrous convolutions \(MobilenetV2/expanded_conv_14/depthwise rate 3, "
                                        r".*\) are those of model.backbone 'mobilenet_v2' at no output stride of "
                                        r"\[8, 16, 32\]"):
        exported_settings(_graph(tmp_path, rates), MNV2, 21, build_model(MNV2, 21))
