"""OME ``Color``: a signed 32-bit RGBA integer, default -1 = opaque white (checklist R4).

The one place that packs and unpacks it: :func:`rgba_to_ome`, :func:`ome_to_rgba`,
hex text both ways (:func:`ome_to_hex`, :func:`hex_to_ome`), and
:func:`parse_color` for what users give ``ometiff.write`` and ``meta set``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from numbers import Integral

from ometiff.errors import InvalidValueError

#: The schema default: opaque white (R4).
OME_WHITE = -1

#: Named lookup tables (Leica LUTName, ImageJ LUT names) -> RGB: full intensity of
#: the named primary, so "green" is (0, 255, 0) here (CSS "green" is (0, 128, 0)).
LUT_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
    "yellow": (255, 255, 0),
    "gray": (255, 255, 255),
    "grey": (255, 255, 255),
    "grays": (255, 255, 255),
    "white": (255, 255, 255),
}

_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_INT = re.compile(r"[+-]?\d+")
_HEX_INT = re.compile(r"0[xX][0-9a-fA-F]{1,8}")


def rgba_to_ome(r: int, g: int, b: int, a: int = 255) -> int:
    """Pack 8-bit components into OME's signed 32-bit RGBA integer (R4).

    Raises
    ------
    InvalidValueError
        A component outside 0-255.
    """
    parts = (r, g, b, a)
    if any(isinstance(v, bool) or not isinstance(v, Integral) or not 0 <= v <= 255 for v in parts):
        raise InvalidValueError(f"colour components {parts!r} must be integers 0-255")
    value = (int(r) << 24) | (int(g) << 16) | (int(b) << 8) | int(a)
    return value - (1 << 32) if value >= (1 << 31) else value


def ome_to_rgba(value: int) -> tuple[int, int, int, int]:
    """Unpack an OME Color (signed, or the unsigned 32-bit spelling) into (r, g, b, a).

    Raises
    ------
    InvalidValueError
        Not an integer in -2**31 .. 2**32 - 1.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, Integral)
        or not (-(1 << 31) <= value < (1 << 32))
    ):
        raise InvalidValueError(f"{value!r} is not a 32-bit RGBA integer (R4)")
    v = int(value) & 0xFFFFFFFF
    return (v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255


def ome_to_hex(value: int | None) -> str | None:
    """``#RRGGBB`` of an OME Color (``#RRGGBBAA`` when not opaque); None stays None."""
    if value is None:
        return None
    r, g, b, a = ome_to_rgba(value)
    return f"#{r:02X}{g:02X}{b:02X}" + ("" if a == 255 else f"{a:02X}")


def hex_to_ome(text: str | None, *, alpha_first: bool = False) -> int | None:
    """OME Color of ``#RRGGBB`` or ``#RRGGBBAA`` text (``#`` optional); None if not hex.

    ``alpha_first`` reads 8 digits as ``#AARRGGBB`` (Zeiss CZI, Leica).
    """
    match = _HEX.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    digits = match.group(1)
    if len(digits) == 6:
        digits += "FF"
    elif alpha_first:
        digits = digits[2:] + digits[:2]
    r, g, b, a = (int(digits[k : k + 2], 16) for k in range(0, 8, 2))
    return rgba_to_ome(r, g, b, a)


def _css_name(name: str) -> tuple[int, int, int] | None:
    """RGB of a CSS colour name ("lime", "orange"), from pydantic-extra-types."""
    from pydantic_extra_types.color import COLORS_BY_NAME  # ome-types' own dependency

    rgb = COLORS_BY_NAME.get(name.strip().lower())
    return None if rgb is None else (int(rgb[0]), int(rgb[1]), int(rgb[2]))


def parse_color(value: object, *, what: str = "colour") -> int:
    """A user's colour as OME's signed 32-bit RGBA integer (R4).

    Accepts ``"#RRGGBB"``, ``"#RRGGBBAA"``, a CSS colour name (``"red"``,
    ``"lime"``), an ``(r, g, b)`` or ``(r, g, b, a)`` sequence of 0-255 integers,
    or the integer itself: signed (``-1`` is opaque white) or unsigned
    (``0xFF0000FF`` is opaque red), as an int, decimal text or ``0x`` hex text.

    Raises
    ------
    InvalidValueError
        Anything else; the message names ``what``.
    """
    hint = "use '#RRGGBB', '#RRGGBBAA', a name, an (r, g, b) tuple or a signed RGBA integer"
    try:
        if isinstance(value, Integral) and not isinstance(value, bool):
            return rgba_to_ome(*ome_to_rgba(int(value)))  # unsigned spelling -> signed
        if isinstance(value, str):
            text = value.strip()
            if _INT.fullmatch(text):
                return parse_color(int(text), what=what)
            if _HEX_INT.fullmatch(text):
                return parse_color(int(text, 16), what=what)
            if text.startswith("#"):
                packed = hex_to_ome(text)
                if packed is not None:
                    return packed
            elif text:
                rgb = _css_name(text)
                if rgb is not None:
                    return rgba_to_ome(*rgb)
        elif isinstance(value, Sequence) and len(value) in (3, 4):
            return rgba_to_ome(*value)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{what}: {value!r} is not a colour ({exc}; {hint})") from None
    raise InvalidValueError(f"{what}: {value!r} is not a colour ({hint})")
