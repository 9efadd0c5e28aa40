"""The plugin's side amounts ("16px" or "5%" of a side), shared by roi bounds and bboxes padding."""
from trainer.data.types import Box


def side_pixels(amount: str, side: int) -> int:
    """Pixels for an amount; a percentage is of `side` and rounds down, as the plugin's int() did."""
    if amount.endswith("px"):
        return int(amount[:-2])
    return int(side * float(amount[:-1]) / 100.0)


def inset(sides: dict, height: int, width: int, sign: int) -> Box:
    """A height × width rectangle at the origin with each side moved inwards by its amount (sign 1: roi bounds cut)
    or outwards (sign -1: bbox padding grows)."""
    return Box(sign * side_pixels(sides["top"], height), sign * side_pixels(sides["left"], width),
               height - 1 - sign * side_pixels(sides["bottom"], height), width - 1 - sign * side_pixels(sides["right"], width))
