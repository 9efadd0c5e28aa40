"""Test-time augmentation: flipped views are flipped back, scales average, and nothing retraces per size."""
import numpy as np
import pytest

from tests.infer.known import TITLES, channel_model, class_image, column_model, predictor, random_classes

TABLE = [0.9, 0.65, 0.3, 0.1]


def test_flip_is_undone_before_averaging():
    # A pointwise model gives every view the same scores once the flip is undone: TTA changes nothing.
    image = class_image(random_classes(5, 7))[np.newaxis]
    plain = predictor(channel_model(), (5, 7)).scores(image)
    flipped = predictor(channel_model(), (5, 7), {"scales": [1.0], "flip": True}).scores(image)
    np.testing.assert_allclose(flipped, plain, atol=1e-6)


def test_flip_averages_mirrored_positions():
    scores = predictor(column_model(TABLE), (2, 4), {"scales": [1.0], "flip": True}).scores(
        np.zeros((1, 2, 4, 3), np.uint8))
    expected = [(TABLE[x] + TABLE[3 - x]) / 2 for x in range(4)]  # .5 .475 .475 .5
    np.testing.assert_allclose(scores[0, :, :, TITLES.index("a")], np.tile(expected, (2, 1)), atol=1e-6)


def test_flip_makes_predictions_mirror_symmetric():
    p = predictor(column_model(TABLE), (3, 8), {"scales": [1.0, 0.5], "flip": True})
    image = class_image(random_classes(3, 8))[np.newaxis]
    np.testing.assert_allclose(p.scores(image[:, :, ::-1].copy()), p.scores(image)[:, :, ::-1], atol=1e-6)


def test_scales_average_the_single_scale_scores():
    image = np.zeros((1, 4, 8, 3), np.uint8)
    both = predictor(column_model(TABLE), (4, 8), {"scales": [0.5, 1.0], "flip": False}).scores(image)
    half = predictor(column_model(TABLE), (4, 8), {"scales": [0.5], "flip": False}).scores(image)
    full = predictor(column_model(TABLE), (4, 8), {"scales": [1.0], "flip": False}).scores(image)
    np.testing.assert_allclose(both, (half + full) / 2, atol=1e-6)
    assert not np.allclose(half, full)  # the scales really saw different inputs


@pytest.mark.parametrize("tta", [{"scales": [1.0], "flip": False}, {"scales": [0.5, 0.75, 1.0], "flip": True}])
def test_crop_and_batch_sizes_do_not_retrace(tta):
    p = predictor(channel_model(), (8, 8), tta)
    for height, width, batch in [(5, 7, 1), (20, 9, 3), (64, 3, 2), (8, 8, 1)]:
        assert p.scores(np.zeros((batch, height, width, 3), np.uint8)).shape == (batch, height, width, len(TITLES))
    assert p.traces == 1
