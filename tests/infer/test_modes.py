"""Each mode's geometry, with models whose scores are known functions of the pixels: every region is as large
as the model input, so resizing is exact and the expected class of each pixel can be worked out by hand."""
import numpy as np

from tests.infer.known import (channel_model, class_image, column_model, predicted_map, random_classes, rectangle,
                               rectangles, run, write_project)
from trainer.data.types import Box
from trainer.infer.scores import crop
from trainer.infer.modes.sliding_window import window_starts

# Positional model for the overlap tests: P(a) at crop columns 0..3. Where crops overlap, their mean differs
# from both "first crop wins" and "last crop wins" (worked out below).
TABLE = [0.9, 0.65, 0.3, 0.1]


def _expected_inside(classes: np.ndarray, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    out = np.full(classes.shape, -1)
    out[top:bottom + 1, left:right + 1] = classes[top:bottom + 1, left:right + 1]
    return out


def test_full_image_is_the_pixels_class(tmp_path):
    classes = random_classes(6, 9)
    root = write_project(tmp_path / "p", {("ds", "x.png"): (class_image(classes), [], [])})
    run(root, tmp_path / "out", channel_model(), (6, 9), {"name": "full_image"})
    np.testing.assert_array_equal(predicted_map(tmp_path / "out", "ds", "x.png", (6, 9)), classes)


def test_roi_predictions_are_shifted_back_to_image_coordinates(tmp_path):
    classes = random_classes(45, 48)
    root = write_project(tmp_path / "p", {("ds", "x.png"): (class_image(classes), [], [])})
    # top 30% of 45 = 13.5 → 13 (the plugin rounds down); right 25% of 48 = 12: rows 13..44, columns 8..35.
    bounds = {"left": "8px", "top": "30%", "right": "25%", "bottom": "0px"}
    run(root, tmp_path / "out", channel_model(), (32, 28),
        {"name": "roi", "bounds": bounds, "save": True, "class_name": "roi"})
    np.testing.assert_array_equal(predicted_map(tmp_path / "out", "ds", "x.png", (45, 48)),
                                  _expected_inside(classes, 13, 8, 44, 35))
    assert rectangles(tmp_path / "out", "ds", "x.png") == [("roi", [[8, 13], [35, 44]])]


def test_roi_that_leaves_nothing_fails_that_image_only(tmp_path):
    root = write_project(tmp_path / "p", {("ds", "small.png"): (class_image(random_classes(4, 4)), [], []),
                                          ("ds", "big.png"): (class_image(random_classes(4, 40)), [], [])})
    problems = run(root, tmp_path / "out", channel_model(), (4, 8), {"name": "roi", "bounds": {"left": "32px"}})
    assert problems == ['failed: dataset "ds", img/small.png: mode.bounds leave nothing of this 4×4 image']
    assert (tmp_path / "out" / "ds" / "ann" / "big.png.json").is_file()
    assert not (tmp_path / "out" / "ds" / "img" / "small.png").exists()


def test_bbox_crops_padding_and_clipping(tmp_path):
    classes = random_classes(40, 60)
    objects = [
        rectangle("box", 10, 5, 19, 14),  # 10×10: padded to rows 3..19 (top 20% = 2, bottom 50% = 5), cols 8..22
        rectangle("box", 47, 20, 65, 29),  # reaches past the right edge: rows 18..34, cols 45..68 → clipped to 59
        rectangle("other", 0, 0, 59, 39),  # not in from_classes: no box
        rectangle("box", 70, 0, 80, 5),  # entirely outside the image: no box
    ]
    root = write_project(tmp_path / "p", {("ds", "x.png"): (class_image(classes), objects, [])},
                         [("a", "bitmap"), ("b", "bitmap"), ("box", "rectangle"), ("other", "rectangle")])
    padding = {"left": "2px", "top": "20%", "right": "3px", "bottom": "50%"}
    run(root, tmp_path / "out", channel_model(), (17, 15),
        {"name": "bboxes", "from_classes": ["box"], "padding": padding, "save": True})
    expected = np.maximum(_expected_inside(classes, 3, 8, 19, 22), _expected_inside(classes, 18, 45, 34, 59))
    np.testing.assert_array_equal(predicted_map(tmp_path / "out", "ds", "x.png", (40, 60)), expected)
    assert rectangles(tmp_path / "out", "ds", "x.png") == [
        *[(o["classTitle"], o["points"]["exterior"]) for o in objects],  # source objects kept, first
        ("box_input_bbox", [[8, 3], [22, 19]]), ("box_input_bbox", [[45, 18], [59, 34]])]


def test_overlapping_boxes_average_their_scores(tmp_path):
    objects = [rectangle("box", 0, 0, 3, 2), rectangle("box", 2, 0, 5, 2)]  # columns 0..3 and 2..5 overlap at 2, 3
    root = write_project(tmp_path / "p", {("ds", "x.png"): (np.zeros((3, 9, 3), np.uint8), objects, [])},
                         [("box", "rectangle")])
    run(root, tmp_path / "out", column_model(TABLE), (3, 4), {"name": "bboxes"})
    # column 2: mean(0.3 first box, 0.9 second) = 0.6 → a (first-wins: bg); column 3: mean(0.1, 0.65) = 0.375
    # → bg (last-wins: a); columns 4, 5: second box only (0.3, 0.1); 6..8: no box.
    expected = np.array([1, 1, 1, 0, 0, 0, -1, -1, -1])
    np.testing.assert_array_equal(predicted_map(tmp_path / "out", "ds", "x.png", (3, 9)), np.tile(expected, (3, 1)))


def test_window_positions_are_the_plugins():
    assert window_starts(9, 4, 2) == [0, 2, 4, 5]  # range(0, 5 + 2, 2) = 0, 2, 4, 6 → the last clamped to 5
    assert window_starts(8, 4, 2) == [0, 2, 4]  # the last one already flush: no extra window
    assert window_starts(4, 4, 3) == [0]
    assert window_starts(3, 4, 1) == [0]  # larger than the image: one window, padded


def test_sliding_windows_average_where_they_overlap(tmp_path):
    root = write_project(tmp_path / "p", {("ds", "x.png"): (np.zeros((4, 9, 3), np.uint8), [], [])})
    mode = {"name": "sliding_window", "window": {"width": 4, "height": 4}, "min_overlap": {"x": 2, "y": 0},
            "save": True, "class_name": "win"}
    run(root, tmp_path / "out", column_model(TABLE), (4, 4), mode)
    # windows at columns 0, 2, 4, 5. Mean P(a) per column: .9, .65, (.3+.9)/2, (.1+.65)/2, (.3+.9)/2,
    # (.1+.65+.9)/3, (.3+.65)/2, (.1+.3)/2, .1
    expected = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(predicted_map(tmp_path / "out", "ds", "x.png", (4, 9)), np.tile(expected, (4, 1)))
    assert rectangles(tmp_path / "out", "ds", "x.png") == [
        ("win", [[left, 0], [left + 3, 3]]) for left in (0, 2, 4, 5)]


def test_window_larger_than_the_image_pads_bottom_right(tmp_path):
    root = write_project(tmp_path / "p", {("ds", "x.png"): (np.zeros((3, 5, 3), np.uint8), [], [])})
    mode = {"name": "sliding_window", "window": {"width": 8, "height": 6}, "save": True, "class_name": "win"}
    run(root, tmp_path / "out", column_model(TABLE), (6, 8), mode)
    # image columns 0..4 are window columns 0..4: P(a) = TABLE[x // 2] = .9 .9 .65 .65 .3 (padding on the left
    # would have given .65 .3 .3 .1 .1)
    np.testing.assert_array_equal(predicted_map(tmp_path / "out", "ds", "x.png", (3, 5)),
                                  np.tile([1, 1, 1, 1, 0], (3, 1)))
    assert rectangles(tmp_path / "out", "ds", "x.png") == [("win", [[0, 0], [4, 2]])]  # clipped to the image


def test_crop_pads_with_the_mean_pixel():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = crop(image, Box.sized(1, 1, 3, 4))
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out[0, :2], image[1, 1:])
    assert (out[1:] == 128).all() and (out[:, 2:] == 128).all()
