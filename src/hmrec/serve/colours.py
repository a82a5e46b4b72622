"""A swatch colour for a catalogue colour name (``colour_group_name``)."""

from __future__ import annotations

BASE = {
    "black": "#1b1b1b",
    "white": "#f7f7f5",
    "grey": "#8e8e8e",
    "gray": "#8e8e8e",
    "beige": "#d8c6a5",
    "brown": "#7b5434",
    "red": "#c0282d",
    "pink": "#e58fb0",
    "orange": "#e8822c",
    "yellow": "#ecd03c",
    "green": "#3f8a46",
    "khaki": "#8f8b5a",
    "turquoise": "#2fb3b0",
    "blue": "#2f5fb3",
    "purple": "#7b4ea3",
    "lilac": "#b49ad6",
    "gold": "#c9a43a",
    "silver": "#c0c0c0",
    "bronze": "#a0703c",
    "copper": "#b0643a",
}
UNKNOWN = "#d0d0d0"


def _mix(colour: str, towards: str, share: float) -> str:
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(towards[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


def swatch(name: str | None) -> str:
    """``#rrggbb`` for names such as "Dark Blue", "Light Pink", "Greenish Khaki", "Off White".

    The last known colour word sets the hue; "light" and "dark" lighten or darken it;
    unknown names get a neutral grey.

    >>> swatch("Black"), swatch("Light Blue") != swatch("Blue"), swatch("Other")
    ('#1b1b1b', True, '#d0d0d0')
    """
    if not name:
        return UNKNOWN
    words = name.lower().replace("-", " ").split()
    hues = [BASE[w] for w in words if w in BASE]
    if not hues:
        return UNKNOWN
    colour = hues[-1]
    if "light" in words or "off" in words:
        colour = _mix(colour, "#ffffff", 0.45)
    if "dark" in words:
        colour = _mix(colour, "#000000", 0.4)
    return colour
