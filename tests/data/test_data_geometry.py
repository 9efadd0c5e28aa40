import base64
import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from trainer.data.geometry import LABEL_MASK, LabelMask, decode_bitmap, encode_bitmap, mask_bbox, outside_image, rasterize
from trainer.data.types import Box, ObjectAnn

VALUES = {"a": 1, "b": 2, "c": 3}


def polygon(title, exterior, interiors=()):
    return ObjectAnn(0, title, "polygon", (np.array(exterior, float), [np.array(r, float) for r in interiors]))


def rectangle(title, left, top, right, bottom):
    return ObjectAnn(0, title, "rectangle", (left, top, right, bottom))


def bitmap(title, mask, x, y):
    return ObjectAnn(0, title, "bitmap", (np.array(mask, bool), x, y))


def test_polygon_with_hole_fills_exterior_and_cuts_hole_including_its_border():
    square = [[1, 1], [6, 1], [6, 6], [1, 6]]
    hole = [[3, 3], [4, 3], [4, 4], [3, 4]]
    out = rasterize([polygon("a", square, [hole])], 8, 8, VALUES)
    expected = np.zeros((8, 8), np.uint8)
    expected[1:7, 1:7] = 1
    expected[3:5, 3:5] = 0
    np.testing.assert_array_equal(out, expected)


def test_triangle_includes_its_edges():
    out = rasterize([polygon("b", [[0, 0], [4, 0], [0, 4]])], 6, 6, VALUES)
    rows, cols = np.mgrid[0:6, 0:6]
    np.testing.assert_array_equal(out, np.where(rows + cols <= 4, 2, 0))


def test_polygon_coordinates_round_half_to_even_like_the_sdk():
    # 0.5 -> 0, 2.5 -> 2, 3.5 -> 4: the square covers columns/rows 0..2 then 0..4.
    out = rasterize([polygon("a", [[0.5, 0.5], [2.5, 0.5], [2.5, 3.5], [0.5, 3.5]])], 6, 6, VALUES)
    expected = np.zeros((6, 6), np.uint8)
    expected[0:5, 0:3] = 1
    np.testing.assert_array_equal(out, expected)


def test_polygon_outside_the_image_is_clipped():
    out = rasterize([polygon("a", [[-10, -10], [2, -10], [2, 1], [-10, 1]])], 4, 4, VALUES)
    expected = np.zeros((4, 4), np.uint8)
    expected[0:2, 0:3] = 1
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    "corners", [(2, 1, 4, 3), (4, 3, 2, 1), (4, 1, 2, 3), (2, 3, 4, 1)], ids=["tl-br", "br-tl", "tr-bl", "bl-tr"]
)
def test_rectangle_is_inclusive_in_any_corner_order(corners):
    out = rasterize([rectangle("c", *corners)], 5, 6, VALUES)
    expected = np.zeros((5, 6), np.uint8)
    expected[1:4, 2:5] = 3
    np.testing.assert_array_equal(out, expected)


def test_rectangle_is_clipped_to_the_image():
    out = rasterize([rectangle("a", -3, -2, 1, 1), rectangle("b", 8, 7, 20, 20)], 10, 10, VALUES)
    expected = np.zeros((10, 10), np.uint8)
    expected[0:2, 0:2] = 1
    expected[7:10, 8:10] = 2
    np.testing.assert_array_equal(out, expected)


def test_rectangle_entirely_outside_draws_nothing():
    # a negative bottom must not turn into a "from the end" slice
    out = rasterize([rectangle("a", -5, -5, -2, -1), rectangle("b", 3, 12, 5, 15)], 10, 10, VALUES)
    assert not out.any()


def test_bitmap_is_placed_at_origin_x_column_y_row():
    mask = [[1, 0], [1, 1], [0, 1]]
    out = rasterize([bitmap("b", mask, 2, 1)], 5, 5, VALUES)
    expected = np.zeros((5, 5), np.uint8)
    expected[1:4, 2:4] = np.array(mask) * 2
    np.testing.assert_array_equal(out, expected)


def test_bitmap_is_clipped_on_every_side():
    mask = np.ones((3, 3), bool)
    mask[1, 1] = False
    out = rasterize([bitmap("a", mask, -1, 3), bitmap("b", mask, 3, -2)], 5, 4, VALUES)
    expected = np.zeros((5, 4), np.uint8)
    # image rows 3-4 show mask rows 0-1, image columns 0-1 show mask columns 1-2 (the hole is at mask [1, 1])
    expected[3, 0:2] = 1
    expected[4, 1] = 1
    expected[0, 3] = 2  # row 0 shows mask row 2, column 3 shows mask column 0
    np.testing.assert_array_equal(out, expected)


def test_bitmap_entirely_outside_draws_nothing():
    out = rasterize([bitmap("a", np.ones((2, 2)), 5, 0), bitmap("a", np.ones((2, 2)), -2, -2)], 4, 4, VALUES)
    assert not out.any()


def test_later_objects_are_drawn_over_earlier_ones():
    objects = [rectangle("a", 0, 0, 3, 3), rectangle("b", 2, 2, 5, 5), bitmap("c", [[1]], 2, 2)]
    out = rasterize(objects, 6, 6, VALUES)
    expected = np.zeros((6, 6), np.uint8)
    expected[0:4, 0:4] = 1
    expected[2:6, 2:6] = 2
    expected[2, 2] = 3
    np.testing.assert_array_equal(out, expected)
    reversed_out = rasterize(objects[::-1], 6, 6, VALUES)
    assert reversed_out[2, 2] == 1 and reversed_out[5, 5] == 2


def test_title_without_a_value_raises_key_error_naming_it():
    with pytest.raises(KeyError, match="dog"):
        rasterize([rectangle("dog", 0, 0, 1, 1)], 4, 4, VALUES)


@pytest.mark.parametrize("shape", [(17, 23), (1, 1), (5, 8), (600, 801)])
def test_encode_decode_round_trip(shape):
    mask = np.random.default_rng(3).random(shape) > 0.6
    mask.flat[0] = True
    decoded = decode_bitmap(encode_bitmap(mask))
    assert decoded.dtype == bool
    np.testing.assert_array_equal(decoded, mask)


def test_encoded_png_reads_in_pillow_as_the_sdk_writes_it():
    """The SDK's writer makes a palette image whose index 0 is transparent black; Pillow reads ours as that."""
    mask = np.random.default_rng(4).random((9, 13)) > 0.5
    image = Image.open(io.BytesIO(zlib.decompress(base64.b64decode(encode_bitmap(mask)))))
    assert image.mode == "P"
    assert image.info["transparency"] == 0
    assert image.getpalette()[:6] == [0, 0, 0, 255, 255, 255]
    np.testing.assert_array_equal(np.asarray(image), mask.astype(np.uint8))


def test_encoded_png_is_a_transparent_palette_image_like_the_sdk():
    mask = np.array([[0, 1], [1, 1]], bool)
    png = zlib.decompress(base64.b64decode(encode_bitmap(mask)))
    rgba = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (2, 2, 4)
    np.testing.assert_array_equal(rgba[:, :, 3], [[0, 255], [255, 255]])
    np.testing.assert_array_equal(rgba[:, :, 0], [[0, 255], [255, 255]])


def _png_b64(image):
    return base64.b64encode(zlib.compress(cv2.imencode(".png", image)[1].tobytes())).decode()


def test_decode_uses_the_2d_image_without_alpha():
    gray = np.array([[0, 7], [0, 0]], np.uint8)
    np.testing.assert_array_equal(decode_bitmap(_png_b64(gray)), [[False, True], [False, False]])


def test_decode_uses_the_alpha_of_a_4_channel_png():
    bgra = np.zeros((2, 3, 4), np.uint8)
    bgra[..., :3] = 255  # white everywhere: colour says nothing
    bgra[0, 2, 3] = bgra[1, 0, 3] = 200
    np.testing.assert_array_equal(decode_bitmap(_png_b64(bgra)), [[False, False, True], [True, False, False]])


def test_decode_uses_channel_0_of_a_3_channel_png():
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[1, 0, 0] = 255
    bgr[0, 1, 2] = 255  # red only: not part of the mask
    np.testing.assert_array_equal(decode_bitmap(_png_b64(bgr)), [[False, False], [True, False]])


@pytest.mark.parametrize(
    "data, message",
    [
        ("", "cannot be decoded"),
        ("not base64 at all!", "cannot be decoded"),
        (base64.b64encode(b"plain bytes").decode(), "cannot be decoded"),
        (base64.b64encode(zlib.compress(b"not a png")).decode(), "not a PNG"),
        (_png_b64(np.zeros((3, 3), np.uint8)), "empty"),
    ],
)
def test_decode_rejects_bad_data(data, message):
    with pytest.raises(ValueError, match=message):
        decode_bitmap(data)


def test_mask_bbox_is_inclusive_and_none_when_empty():
    mask = np.zeros((6, 7), bool)
    mask[2, 3] = mask[4, 1] = True
    assert mask_bbox(mask) == Box(top=2, left=1, bottom=4, right=3)
    assert mask_bbox(np.zeros((3, 3), bool)) is None


def test_polygon_with_several_holes_cuts_each_including_its_border():
    square = [[0, 0], [9, 0], [9, 5], [0, 5]]
    holes = [[[2, 2], [3, 2], [3, 3], [2, 3]], [[6, 1], [8, 1], [8, 4], [6, 4]]]
    out = rasterize([polygon("a", square, holes)], 7, 11, VALUES)
    expected = np.zeros((7, 11), np.uint8)
    expected[0:6, 0:10] = 1
    expected[2:4, 2:4] = 0
    expected[1:5, 6:9] = 0
    np.testing.assert_array_equal(out, expected)


def test_overlapping_polygon_over_bitmap_over_rectangle_then_clipped():
    objects = [
        rectangle("a", 5, 5, -2, -3),                      # corners in reverse order, clipped at the top-left
        bitmap("b", [[1, 1, 1], [1, 0, 1]], 1, 1),          # over the rectangle, its hole keeps the rectangle
        polygon("c", [[3, 0], [8, 0], [8, 2], [3, 2]]),     # over both, clipped on the right
    ]
    out = rasterize(objects, 4, 6, VALUES)
    np.testing.assert_array_equal(out, [
        [1, 1, 1, 3, 3, 3],
        [1, 2, 2, 3, 3, 3],
        [1, 2, 1, 3, 3, 3],
        [1, 1, 1, 1, 1, 1],
    ])


def test_label_mask_maps_file_values_through_titles_and_keeps_255(tmp_path):
    values = np.array([[0, 1, 2], [255, 2, 0]], np.uint8)
    cv2.imwrite(str(tmp_path / "m.png"), values)
    label = ObjectAnn(0, None, LABEL_MASK, LabelMask(tmp_path / "m.png", ("bg", "neutral", "c")))
    out = rasterize([label], 2, 3, {"bg": 0, "c": 3, "neutral": 255})
    np.testing.assert_array_equal(out, [[0, 255, 3], [255, 3, 0]])


@pytest.mark.parametrize(
    "obj, message",
    [
        (rectangle("a", 0, 0, 5, 3), None),
        (rectangle("a", 6, 4, -1, 0), "partly outside the 6×4 image: clipped"),
        (rectangle("a", 6, 0, 9, 3), "entirely outside the 6×4 image: draws nothing"),
        (polygon("a", [[0, 0], [5.4, 0], [0, 3.4]]), None),                       # rounds to (5, 0), (0, 3)
        (polygon("a", [[0, 0], [5.4, 0], [0, 3.5]]), "partly outside the 6×4 image: clipped"),  # 3.5 → row 4
        (polygon("a", [[-0.6, 0], [2, 0], [0, 2]]), "partly outside the 6×4 image: clipped"),
        (polygon("a", [[0, -3], [2, -3], [0, -1]]), "entirely outside the 6×4 image: draws nothing"),
        (bitmap("a", [[1, 0], [0, 0]], 5, 3), None),   # the mask overhangs, but its only pixel is (5, 3)
        (bitmap("a", [[0, 0], [0, 1]], 4, 2), None),
        (bitmap("a", [[1, 1], [0, 0]], 5, 3), "partly outside the 6×4 image: clipped"),
        (bitmap("a", [[0, 0], [0, 1]], 5, 3), "entirely outside the 6×4 image: draws nothing"),
        (bitmap("a", [[0, 0], [0, 1]], -2, -2), "entirely outside the 6×4 image: draws nothing"),
    ],
)
def test_outside_image_is_judged_on_the_pixels_drawn(obj, message):
    assert outside_image(obj, 4, 6) == message
