import cv2
import numpy as np
import pytest

from trainer.data.images import read_image
from trainer.errors import DataError


def test_colour_png_is_returned_as_rgb(tmp_path):
    rgb = np.zeros((3, 5, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[1, 2] = (10, 20, 30)
    path = tmp_path / "c.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    image = read_image(path)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, rgb)


def test_grayscale_gets_three_equal_channels(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    path = tmp_path / "g.png"
    cv2.imwrite(str(path), gray)
    np.testing.assert_array_equal(read_image(path), np.repeat(gray[..., None], 3, axis=2))


def test_alpha_is_dropped(tmp_path):
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0] = 255  # blue
    bgra[..., 3] = 7
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), bgra)
    image = read_image(path)
    assert image.shape == (2, 2, 3)
    np.testing.assert_array_equal(image[0, 0], (0, 0, 255))


def test_non_ascii_path(tmp_path):
    path = tmp_path / "фото é.jpg"
    path.write_bytes(cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))[1].tobytes())
    assert read_image(path).shape == (8, 8, 3)


@pytest.mark.parametrize("content", [b"", b"definitely not an image"])
def test_unreadable_file_names_the_file(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(DataError, match="bad.jpg: not a readable image"):
        read_image(path)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match="missing.png: cannot read image"):
        read_image(tmp_path / "missing.png")
