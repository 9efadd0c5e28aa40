"""Image loading with one colour convention (RGB uint8, 3 channels) whatever the file holds.

The rule, as the Supervisely SDK reads images (OpenCV's colour decoding): EXIF orientation is applied, grey
levels are repeated into three channels, an alpha channel is dropped (colours as stored, no compositing),
16-bit samples are scaled to 8 bits by keeping the high byte. A truncated file is unreadable, not padded.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from trainer.errors import DataError

EXIF_ORIENTATION = 0x0112
TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})  # shown with width and height swapped
INDEX_MASK_MODES = frozenset({"L", "P", "1"})  # one value per pixel: greyscale, palette indices, bilevel
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".mpo", ".bmp", ".png", ".webp"})
_UNREADABLE = "not a readable image (unknown format, truncated or corrupted)"


def list_files(folder: Path, extensions=IMAGE_EXTENSIONS) -> list[Path]:
    """Files with one of the extensions, in any case. Hidden files (macOS `._a.jpg` forks) are not images even when
    their extension says so."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in extensions and not p.name.startswith(".")
    )


def decode_image(path: Path) -> np.ndarray:
    """The RGB image, or ValueError saying why the file is not one (callers add the file's name)."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as error:
        raise ValueError(f"cannot read image ({error.strerror or error})") from None
    return decode_image_bytes(data)


def image_pixels(data: bytes) -> int:
    """Height × width from the file's header alone, or ValueError if it is not an image: what a server checks
    before it decodes anything (a few kilobytes of PNG can hold a gigapixel image)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        return Image.MAX_IMAGE_PIXELS * 2 + 1   # PIL refuses to even describe it: more than any sane limit
    except (OSError, ValueError, SyntaxError):   # UnidentifiedImageError is an OSError; broken headers raise the others
        raise ValueError(_UNREADABLE) from None
    return width * height


def decode_image_bytes(data) -> np.ndarray:
    """`decode_image` of a file's bytes (bytes or a uint8 array)."""
    data = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB) if data.size else None
    except cv2.error:
        image = None
    if image is None:
        raise ValueError(_UNREADABLE)
    return image


def _complete(path: Path, image_format: str) -> bool:
    """Whether the file ends as a whole file of its format ends: a cut (partly copied or downloaded) file does not.
    False as well for formats whose end is not checked here, and for a valid file with bytes after its end."""
    with open(path, "rb") as file:
        head = file.read(12)
        size = file.seek(0, 2)
        file.seek(max(size - 12, 0))
        tail = file.read()
    if image_format in ("JPEG", "MPO"):
        return tail.endswith(b"\xff\xd9")
    if image_format == "PNG":
        return tail == b"\0\0\0\0IEND\xaeB`\x82"
    if image_format == "WEBP":
        return int.from_bytes(head[4:8], "little") + 8 == size
    if image_format == "BMP":
        return int.from_bytes(head[2:6], "little") == size
    return False


def header_size(path: Path) -> tuple[int, int] | None:
    """(height, width) that decode_image would give, read from the header without decoding a pixel, when the
    header vouches for it: a known format, the whole file there (its end marker), the EXIF orientation known (JPEG
    holds it in its header). None when it cannot tell: then only decoding says whether the file is an image.
    A file whose header and end are fine but whose body is damaged still passes: the loader reports it."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            image_format = image.format
            if image_format in ("JPEG", "MPO"):
                orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            elif "exif" in image.info:
                return None  # OpenCV's EXIF support for other formats varies: let the decoder decide
            else:
                orientation = 1
        if not _complete(path, image_format):
            return None
    except Exception:  # noqa: BLE001 — any failure to read a header means only the decoder can tell
        return None
    return (width, height) if orientation in TRANSPOSING_ORIENTATIONS else (height, width)


def read_image(path: Path) -> np.ndarray:
    """Decodes from bytes so non-ASCII paths work."""
    try:
        return decode_image(path)
    except ValueError as error:
        raise DataError(f"{path}: {error}") from None


def read_index_mask(path: Path) -> np.ndarray:
    """A PNG of class indices as uint8 [H, W]. PIL, not OpenCV: OpenCV turns palette indices into colours."""
    try:
        with Image.open(path) as image:
            if image.format != "PNG":
                raise ValueError(f"not a PNG ({image.format} image): masks must be lossless")
            if image.mode not in INDEX_MASK_MODES:
                raise ValueError(f"is a {image.mode} PNG: a mask must be 8-bit greyscale or palette "
                                 "(one class index per pixel)")
            return np.asarray(image, dtype=np.uint8)
    except OSError as error:  # PIL's UnidentifiedImageError and truncated data are OSErrors
        raise ValueError(f"not a readable PNG ({error})") from None
