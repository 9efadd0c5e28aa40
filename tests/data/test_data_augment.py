"""Augmentation pipelines from the config: albumentations' serialization, checked at load, mask rules enforced."""
import json

import albumentations as A
import numpy as np
import pytest

from tests.conftest import REPO
from trainer.config.resolve import resolve_train_config
from trainer.data import augment
from trainer.data.classes import IGNORE_LABEL
from trainer.errors import ConfigError


def pipeline(*transforms):
    return json.loads(json.dumps(A.to_dict(A.Compose(list(transforms)))))


def resolve(spec, split="train", size=64):
    return resolve_train_config(None, "demo", [f"augmentations.{split}={json.dumps(spec)}",
                                               f'input_size={{"width": {size}, "height": {size}}}'])


def config_error(spec, split="train", size=64) -> list[str]:
    with pytest.raises(ConfigError) as error:
        resolve(spec, split, size)
    return error.value.lines


def test_defaults_are_deeplabs_recipe_and_the_plugins_resize():
    train = augment.default_spec("train", 321, 257)["transform"]["transforms"]
    assert [t["__class_fullname__"] for t in train] == ["RandomScale", "PadIfNeeded", "RandomCrop", "HorizontalFlip"]
    assert train[0]["scale_limit"] == (-0.5, 1.0) and train[0]["p"] == 1.0     # scale 0.5–2.0, always
    assert (train[1]["min_height"], train[1]["min_width"], train[1]["position"]) == (321, 257, "top_left")
    assert (train[1]["fill"], train[1]["fill_mask"]) == (127.5, IGNORE_LABEL)
    assert (train[2]["height"], train[2]["width"], train[3]["p"]) == (321, 257, 0.5)
    [val] = augment.default_spec("val", 321, 257)["transform"]["transforms"]
    assert (val["__class_fullname__"], val["height"], val["width"], val["mask_interpolation"]) == ("Resize", 321, 257, 0)


def test_config_without_pipelines_uses_the_defaults_for_input_size_and_keeps_null():
    cfg = resolve_train_config(None, "demo", ['input_size={"width": 96, "height": 80}'])
    assert cfg["augmentations"] == {"train": None, "val": None}
    out = augment.transform_factory(cfg, "val")()(image=np.zeros((10, 20, 3), np.uint8), mask=np.zeros((10, 20), np.uint8))
    assert out["image"].shape == (80, 96, 3)


def test_a_configured_pipeline_is_used_and_saved_as_written():
    spec = pipeline(A.Resize(64, 64), A.RandomBrightnessContrast(p=1.0), A.HorizontalFlip(p=1.0))
    cfg = resolve(spec)
    assert cfg["augmentations"]["train"] == spec
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, 0] = 200
    transform = augment.transform_factory(cfg, "train")()
    transform.set_random_seed(0)
    out = transform(image=image, mask=np.zeros((8, 8), np.uint8))["image"]
    assert out.shape == (64, 64, 3) and out[:, -1].mean() > out[:, 0].mean()   # flipped: the bright edge moved


def test_masks_stay_nearest_and_pad_with_ignore_whatever_the_pipeline_says():
    spec = pipeline(A.Resize(8, 8, mask_interpolation=1), A.PadIfNeeded(10, 11, position="top_left", fill_mask=0),
                    A.CoarseDropout(p=0.0))
    transform = augment.build_transform(spec)
    mask = np.kron([[0, 5], [5, 0]], np.ones((2, 2), np.uint8)).astype(np.uint8)   # 4×4 quadrants
    out = transform(image=np.zeros((4, 4, 3), np.uint8), mask=mask)["mask"]
    expected = np.full((10, 11), IGNORE_LABEL, np.uint8)
    expected[:8, :8] = np.kron([[0, 5], [5, 0]], np.ones((4, 4), np.uint8))
    np.testing.assert_array_equal(out, expected)
    assert transform.transforms[2].fill_mask is None   # "leave the mask alone" is kept


def test_a_transform_without_p_gets_its_class_default():
    spec = {"transform": {"__class_fullname__": "Compose", "transforms": [
        {"__class_fullname__": "RandomCrop", "height": 4, "width": 4}]}}
    assert augment.build_transform(spec).transforms[0].p == 1.0   # from_dict alone would make it 0.5


@pytest.mark.parametrize(
    "spec, split, line",
    [
        ({"transform": {"__class_fullname__": "Compose", "transforms": [{"__class_fullname__": "Blurr"}]}}, "train",
         "augmentations.train.transform.transforms[0].__class_fullname__: unknown transform 'Blurr'"),
        ({"transform": {"__class_fullname__": "Compose", "transforms": [
            {"__class_fullname__": "Resize", "height": 0, "width": 64}]}}, "val",
         "augmentations.val.transform.transforms[0].height: Resize: Input should be greater than or equal to 1"),
        ({"transform": {"__class_fullname__": "Resize", "height": 64, "width": 64, "size": 3}}, "val",
         "augmentations.val.transform.size: unknown argument of Resize (allowed: area_for_downscale, height, "
         "interpolation, mask_interpolation, p, strict, width)"),
        ({"transform": {"__class_fullname__": "Compose", "transforms": "Resize"}}, "train",
         "augmentations.train.transform.transforms: expected a list of transforms"),
        ({"__version__": "2.0.8", "transforms": []}, "train",
         "augmentations.train: expected albumentations' serialization: "
         '{"__version__": ..., "transform": {...}}'),
        (5, "train", "augmentations.train: expected object or null, got number 5"),
    ],
    ids=["unknown-transform", "bad-argument", "unknown-argument", "not-a-list", "not-serialized", "not-an-object"],
)
def test_malformed_pipeline_is_a_config_error_naming_the_key_path(spec, split, line):
    assert config_error(spec, split) == [f"train config (+ --set): {line}"]


@pytest.mark.parametrize(
    "transforms, message",
    [
        ([A.Resize(32, 32)], "turns a 22×33 test image into 32×32, but input_size is 64×64: the pipeline must end "
                             "at that size (e.g. PadIfNeeded + RandomCrop, or Resize)"),
        ([A.RandomCrop(64, 64)], "fails on a 22×33 test image: Crop size (height, width) exceeds image dimensions"),
        ([A.Resize(64, 64), A.Normalize()], "makes float32 images: the model takes uint8 0-255 "
                                            "(leave out Normalize / ToFloat)"),
    ],
    ids=["size", "crop-too-big", "float"],
)
def test_pipeline_must_make_input_size_uint8_images(transforms, message):
    [line] = config_error(pipeline(*transforms))
    assert line.startswith(f"train config (+ --set): augmentations.train.transform: {message}")


def test_example_config_with_photometric_jitter_is_deeplabs_recipe_plus_colour():
    cfg = resolve_train_config(str(REPO / "configs" / "train_augment_jitter.json"), None, [])
    jitter = augment.build_transform(cfg["augmentations"]["train"])
    default = augment.build_transform(augment.default_spec("train", 513, 513))
    assert [type(t).__name__ for t in jitter.transforms] == [type(t).__name__ for t in default.transforms] + [
        "RandomBrightnessContrast", "HueSaturationValue"]
    assert [t.p for t in jitter.transforms] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.3]
