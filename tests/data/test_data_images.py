import cv2
import numpy as np
import pytest
from PIL import Image

from trainer.data.images import header_size, read_image, read_index_mask
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


# --- the decoding rule: as the annotation tool showed the image ------------------------------------------------


def _exif_jpeg(path, rgb, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, format="JPEG", quality=100, subsampling=0, exif=exif.tobytes())


def test_exif_orientation_is_applied(tmp_path):
    # stored 16 rows × 24 columns, the right third bright; orientation 6 = shown rotated 90° clockwise
    stored = np.zeros((16, 24, 3), np.uint8)
    stored[:, 16:] = 250
    _exif_jpeg(tmp_path / "r.jpg", stored, 6)
    image = read_image(tmp_path / "r.jpg")
    assert image.shape == (24, 16, 3)
    assert image[17:, :].min() > 200 and image[:15, :].max() < 50   # the bright third is now at the bottom


def test_16_bit_keeps_the_high_byte(tmp_path):
    gray16 = np.array([[0, 255, 256, 65535], [1000, 30000, 40000, 512]], np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), gray16)
    expected = (gray16 >> 8).astype(np.uint8)
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png"), np.repeat(expected[..., None], 3, axis=2))
    bgr16 = np.stack([gray16, gray16 // 2, gray16 // 4], axis=-1)
    cv2.imwrite(str(tmp_path / "c16.png"), bgr16)
    np.testing.assert_array_equal(read_image(tmp_path / "c16.png"), (bgr16[..., ::-1] >> 8).astype(np.uint8))


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_file_is_unreadable_not_padded(tmp_path, ext):
    data = cv2.imencode(ext, np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8))[1].tobytes()
    path = tmp_path / f"t{ext}"
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(DataError, match=rf"t\{ext}: not a readable image \(unknown format, truncated or corrupted\)"):
        read_image(path)


# --- index masks -----------------------------------------------------------------------------------------------

VALUES = np.array([[0, 1, 2], [255, 7, 0]], np.uint8)


def test_index_mask_from_greyscale_palette_and_bilevel_pngs(tmp_path):
    Image.fromarray(VALUES, mode="L").save(tmp_path / "l.png")
    palette = Image.fromarray(VALUES, mode="P")
    palette.putpalette([255 - i % 256 for i in range(768)])  # colours unrelated to the indices
    palette.save(tmp_path / "p.png")
    Image.fromarray(VALUES > 1).save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_index_mask(tmp_path / "l.png"), VALUES)
    np.testing.assert_array_equal(read_index_mask(tmp_path / "p.png"), VALUES)
    np.testing.assert_array_equal(read_index_mask(tmp_path / "b.png"), (VALUES > 1).astype(np.uint8))


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(p, format="PNG"),
         "is a RGB PNG: a mask must be 8-bit greyscale or palette (one class index per pixel)"),
        (lambda p: cv2.imwrite(str(p), np.zeros((2, 2), np.uint16) + 300),
         "is a I;16 PNG: a mask must be 8-bit greyscale or palette"),
        (lambda p: Image.fromarray(VALUES).save(p, format="JPEG"), "not a PNG (JPEG image): masks must be lossless"),
        (lambda p: p.write_bytes(b"junk"), "not a readable PNG"),
    ],
    ids=["rgb", "16-bit", "jpeg", "junk"],
)
def test_index_mask_refusals(tmp_path, write, message):
    path = tmp_path / "m.png"
    write(path)
    with pytest.raises(ValueError) as error:
        read_index_mask(path)
    assert str(error.value).startswith(message)


# --- header check: the size decode_image gives, without decoding -------------------------------------------------


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".bmp"])
def test_header_size_is_the_decoded_size_and_a_cut_file_is_not_vouched_for(tmp_path, ext):
    data = cv2.imencode(ext, np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8))[1].tobytes()
    (tmp_path / f"whole{ext}").write_bytes(data)
    (tmp_path / f"cut{ext}").write_bytes(data[:-40])
    assert header_size(tmp_path / f"whole{ext}") == read_image(tmp_path / f"whole{ext}").shape[:2] == (40, 50)
    assert header_size(tmp_path / f"cut{ext}") is None


def test_header_size_follows_exif_orientation(tmp_path):
    _exif_jpeg(tmp_path / "r.jpg", np.zeros((16, 24, 3), np.uint8), 6)
    _exif_jpeg(tmp_path / "f.jpg", np.zeros((16, 24, 3), np.uint8), 3)
    assert header_size(tmp_path / "r.jpg") == read_image(tmp_path / "r.jpg").shape[:2] == (24, 16)
    assert header_size(tmp_path / "f.jpg") == (16, 24)


@pytest.mark.parametrize("content", [b"", b"not an image", b"\xff\xd8\xff\xd9"])
def test_header_size_leaves_unidentified_files_to_the_decoder(tmp_path, content):
    (tmp_path / "x.jpg").write_bytes(content)
    assert header_size(tmp_path / "x.jpg") is None
