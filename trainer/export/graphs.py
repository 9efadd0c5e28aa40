"""The SavedModel and the frozen graph: both run the inference session's full_image step (trainer.infer.predictor:
resize to the training input size and each TTA scale, softmax, resize back), so their labels are infer.py's."""
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from trainer.data.classes import ClassMapping
from trainer.infer.predictor import Predictor, class_labels

# research/deeplab's export contract, which the model zoo's frozen graphs and the tools reading them expect.
FROZEN_INPUT, FROZEN_OUTPUT = "ImageTensor", "SemanticPredictions"
NO_PIXEL = -1   # image_bytes: label of the padding when a batch holds images of different sizes


class Serving(tf.Module):
    """The SavedModel's signatures over one predictor."""

    def __init__(self, predictor: Predictor):
        super().__init__()
        self.predictor = predictor
        self.model = predictor.model   # tracked: its variables are saved

    def _outputs(self, images: tf.Tensor) -> dict:
        probabilities = self.predictor.scores_graph(images)
        return {"labels": class_labels(probabilities), "probabilities": probabilities}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def images(self, images):
        """uint8 RGB [B, H, W, 3] → labels int32 [B, H, W], probabilities float32 [B, H, W, C]."""
        return self._outputs(images)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def image_bytes(self, image_bytes):
        """JPEG / PNG / BMP / GIF bytes [B] → the same outputs at each image's size, in a batch padded to the largest
        (labels NO_PIXEL, probabilities 0 in the padding), and `image_size` int32 [B, 2] (height, width)."""
        def decode(data):
            return tf.io.decode_image(data, channels=3, expand_animations=False)

        sizes = tf.map_fn(lambda data: tf.shape(decode(data))[:2], image_bytes, fn_output_signature=tf.int32)
        height, width = tf.reduce_max(sizes[:, 0]), tf.reduce_max(sizes[:, 1])
        classes = len(self.predictor.classes.out_classes)

        def one(data):
            outputs = self._outputs(decode(data)[tf.newaxis])
            size = tf.shape(outputs["labels"])[1:3]
            pad = [[0, 0], [0, height - size[0]], [0, width - size[1]]]
            return (tf.pad(outputs["labels"], pad, constant_values=NO_PIXEL)[0],
                    tf.pad(outputs["probabilities"], [*pad, [0, 0]])[0])

        labels, probabilities = tf.map_fn(one, image_bytes, fn_output_signature=(
            tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None, classes], tf.float32)))
        return {"labels": labels, "probabilities": probabilities, "image_size": sizes}


def write_saved_model(predictor: Predictor, folder: Path) -> None:
    module = Serving(predictor)
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.images,
                                                         "image_bytes": module.image_bytes})


def write_frozen_graph(predictor: Predictor, path: Path) -> None:
    """A TF1 GraphDef with every weight a constant: `ImageTensor` uint8 [1, H, W, 3] → `SemanticPredictions` int64
    [1, H, W] labels (int64, as research/deeplab's argmax gives them)."""
    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name=FROZEN_INPUT)])
    def labels(images):
        return tf.identity(tf.argmax(predictor.scores_graph(images), axis=-1), name=FROZEN_OUTPUT)

    frozen = convert_variables_to_constants_v2(labels.get_concrete_function())
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())


class SavedModelScorer:
    """An exported SavedModel scoring crops for an inference session, through its serving_default signature."""

    def __init__(self, folder: Path, classes: ClassMapping):
        self.classes, self.source = classes, str(folder.resolve())
        self._serve = tf.saved_model.load(str(folder)).signatures["serving_default"]

    def scores(self, crops: np.ndarray) -> np.ndarray:
        return self.probabilities(crops).numpy()

    def labels(self, crops: np.ndarray) -> np.ndarray:
        return self._serve(images=tf.constant(crops))["labels"].numpy()   # the signature's own argmax

    # The predictor's stages (trainer.infer.predictor), for the server: the signature resizes inside, so its model
    # stage takes the crops themselves, and batches only crops of one size.
    def views(self, crops: np.ndarray) -> list[np.ndarray]:
        return [crops]

    def probabilities(self, crops: np.ndarray) -> tf.Tensor:
        return self._serve(images=tf.constant(crops))["probabilities"]

    def combine(self, per_view: list[tf.Tensor], size: tuple[int, int]) -> np.ndarray:
        return per_view[0].numpy()

    def combined_labels(self, per_view: list[tf.Tensor], size: tuple[int, int]) -> np.ndarray:
        return class_labels(per_view[0]).numpy()


def frozen_labels(path: Path, threads: int):
    """A frozen graph run as TF1 code runs it (a Session, by tensor names): RGB image [H, W, 3] → labels [H, W]."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph, config=tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads))
    return lambda image: session.run(f"{FROZEN_OUTPUT}:0", {f"{FROZEN_INPUT}:0": image[np.newaxis]})[0]
