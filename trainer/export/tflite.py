"""TFLite files: the network at the training input size, batch 1, RGB 0..255 in, logits [1, H, W, C] out (the
normalisation is inside). Each conversion runs in a child process: TF 2.20's TFLiteConverter.convert() leaks about
22 MB a call (tensorflow#122598). Files are read with ai-edge-litert: TF 2.20's bundled interpreter (its default
XNNPACK delegate) computed a stride-4 convolution wrongly on this machine."""
import json
import os
import sys
import tempfile
import threading
from pathlib import Path

import flatbuffers
import numpy as np

from trainer.export.child import run_child

# Quantisation → (full integer kernels, integer input and output). float16 stores weights as float16.
QUANTIZATIONS = {"float32": (False, False), "float16": (False, False), "int8": (True, False), "uint8": (True, True)}
_ALIGNMENT = 16   # of every array in a written file


def write_tflite(checkpoint: Path, model_cfg: dict, quantize: str, path: Path,
                 calibration: np.ndarray | None = None) -> None:
    """Convert in a child process; `calibration`: float32 RGB images [N, H, W, 3] at the input size (int8, uint8)."""
    with tempfile.TemporaryDirectory() as tmp:
        images = None
        if calibration is not None:
            images = str(Path(tmp) / "calibration.npy")
            np.save(images, calibration)
        job = {"checkpoint": str(checkpoint), "model": model_cfg, "quantize": quantize, "output": str(path),
               "calibration": images}
        run_child("trainer.export.tflite", job, f"TFLite conversion ({quantize})")


def io_contract(path: Path) -> dict:
    """The file's input and output as LiteRT reads them: name, shape, dtype, quantisation (scale, zero point)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))

    def describe(detail: dict) -> dict:
        scale, zero_point = detail["quantization"]
        return {"name": detail["name"], "shape": [int(v) for v in detail["shape"]],
                "dtype": np.dtype(detail["dtype"]).name,
                "quantization": {"scale": float(scale), "zero_point": int(zero_point)} if scale else None}

    [image], [logits] = interpreter.get_input_details(), interpreter.get_output_details()
    return {"input": {**describe(image), "values": "RGB 0..255 (normalised inside the model)"},
            "output": {**describe(logits), "values": "logits at the input size"}}


class TfliteModel:
    """A TFLite file as a model: float32 RGB 0..255 [N, H, W, 3] at the file's input size → float32 logits
    [N, H, W, C], one image per call (the file's batch is 1); quantised I/O is quantised and dequantised here.
    Called with a tensor (as the inference predictor calls its model) it runs as a NumPy function.

    Safe to call from several threads at once. A LiteRT interpreter runs one call at a time, so each concurrent
    caller gets its own, and the `threads` are shared out among them: once k callers have run at once, interpreters
    have threads // k threads each (at least one), so concurrent calls do not oversubscribe the cores (XNNPACK's
    workers synchronise at every operation: one waiting for a core holds up its whole call)."""

    def __init__(self, path: Path, threads: int | None = None):
        threads = threads or len(os.sched_getaffinity(0))   # default: every core this process may use
        self.path, self.threads = path, threads
        self.lock = threading.Lock()
        self.idle: list[tuple[int, object]] = []   # (threads, interpreter) ready for a call
        self.active = self.callers = 0             # calls running now; the most that ever ran at once
        first = self._interpreter(threads)
        [self.image], [self.output] = first[1].get_input_details(), first[1].get_output_details()
        self.idle.append(first)

    def _interpreter(self, threads: int) -> tuple[int, object]:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
        interpreter.allocate_tensors()
        return threads, interpreter

    def _share(self) -> int:
        return max(1, self.threads // self.callers)

    def _acquire(self) -> tuple[int, object]:
        with self.lock:
            self.active += 1
            self.callers = max(self.callers, self.active)
            self.idle = [entry for entry in self.idle if entry[0] == self._share()]
            if self.idle:
                return self.idle.pop()
            share = self._share()
        return self._interpreter(share)

    def _release(self, entry: tuple[int, object]) -> None:
        with self.lock:
            self.active -= 1
            if entry[0] == self._share():
                self.idle.append(entry)

    def logits(self, images: np.ndarray) -> np.ndarray:
        entry = self._acquire()
        try:
            interpreter, out = entry[1], []
            for pixels in images:
                interpreter.set_tensor(self.image["index"], _quantized(pixels[np.newaxis], self.image))
                interpreter.invoke()   # releases the GIL
                out.append(_dequantized(interpreter.get_tensor(self.output["index"]), self.output)[0])
            return np.stack(out)
        finally:
            self._release(entry)

    def __call__(self, images, training: bool = False):
        import tensorflow as tf

        logits = tf.numpy_function(self.logits, [images], tf.float32, stateful=True)
        logits.set_shape([None, *self.output["shape"][1:]])
        return logits


def run_tflite(path: Path, images: np.ndarray, threads: int | None = None) -> np.ndarray:
    """float32 logits of RGB 0..255 images at the file's input size."""
    return TfliteModel(path, threads).logits(images)


def _quantized(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if not scale:
        return values.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return np.clip(np.rint(values / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def _dequantized(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale if scale else values.astype(np.float32)


def _convert(job: dict) -> None:
    """The child process: build the network from the checkpoint, convert, write the file."""
    import tensorflow as tf

    from trainer.model.checkpoint_folders import ModelSource
    from trainer.model.checkpoint_info import CheckpointInfo
    from trainer.model.checkpoints import load_checkpoint_model

    checkpoint = Path(job["checkpoint"])
    source = ModelSource(checkpoint, CheckpointInfo.read(checkpoint), job["model"])
    model = load_checkpoint_model(source)
    height, width = source.info.input_size

    @tf.function(input_signature=[tf.TensorSpec([1, height, width, 3], tf.float32, name="image")])
    def logits(image):
        return {"logits": model(image, training=False)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([logits.get_concrete_function()], model)
    full_integer, integer_io = QUANTIZATIONS[job["quantize"]]
    if job["quantize"] != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if job["quantize"] == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if full_integer:
        images = np.load(job["calibration"])
        converter.representative_dataset = lambda: ([image[np.newaxis]] for image in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if integer_io:
        converter.inference_input_type = converter.inference_output_type = tf.uint8
    Path(job["output"]).write_bytes(compact(converter.convert()))


def compact(model: bytes) -> bytes:
    """The same model with identical arrays stored once. The converter writes each per-channel quantised tensor's
    zero points as a vector of its own (int64, all zeros for weights and biases): about a tenth of an int8
    MobileNetV2 file (265 kB of 2.53 MB at ×1.0). FlatBuffers tables may point at one shared copy, so what LiteRT
    reads, and computes, is unchanged."""
    from tensorflow.lite.tools import flatbuffer_utils

    builder = _SharingBuilder(1024)
    builder.Finish(flatbuffer_utils.convert_bytearray_to_object(model).Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class _SharingBuilder(flatbuffers.Builder):
    """Writes each distinct array once (the schema's object API packs every array as a numpy vector), 16-byte
    aligned as the converter aligns weight buffers."""

    def __init__(self, size: int):
        super().__init__(size)
        self.written: dict[tuple[str, bytes], int] = {}

    def CreateNumpyVector(self, x: np.ndarray) -> int:  # noqa: N802 — flatbuffers' name
        data = x.astype(x.dtype.newbyteorder("<"), copy=False).tobytes()
        key = (x.dtype.str, data)
        if key not in self.written:
            self.StartVector(x.itemsize, x.size, _ALIGNMENT)
            self.head -= len(data)
            self.Bytes[self.head:self.head + len(data)] = data
            self.vectorNumElems = x.size
            self.written[key] = self.EndVector()
        return self.written[key]


if __name__ == "__main__":   # `python -m trainer.export.tflite`: `import trainer` has set TF_USE_LEGACY_KERAS
    _convert(json.loads(sys.argv[1]))
