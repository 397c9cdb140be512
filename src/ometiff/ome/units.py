"""OME units of length and time (checklist U1-U3): the one table and the one parser.

Every unit spelling ometiff understands lives here: the schema's symbols
(:data:`LENGTH_UNITS_M`, :data:`TIME_UNITS_S`) and the spellings vendors and
ImageJ write (``um``, ``micron``, ``μm`` with Greek mu, ``\\u00B5m`` as ImageJ
escapes it, ``sec``, ``hr``...). A spelling that is not in the table is *unknown*:
it is reported, never guessed (U3).

:func:`parse_length` and :func:`parse_time` turn user input (``"325nm"``,
``"0.325 µm"``, ``(0.325, "um")``, ``0.325``) into ``(value, symbol)``; both
``ometiff.write`` and ``meta set`` use them, so they accept the same input and
raise the same :class:`~ometiff.errors.InvalidValueError`.
"""

from __future__ import annotations

import math
import re
from numbers import Real
from typing import Literal

from ometiff.errors import InvalidValueError

#: UnitsLength symbol -> metres (U1).
LENGTH_UNITS_M: dict[str, float] = {
    "Ym": 1e24,
    "Zm": 1e21,
    "Em": 1e18,
    "Pm": 1e15,
    "Tm": 1e12,
    "Gm": 1e9,
    "Mm": 1e6,
    "km": 1e3,
    "hm": 1e2,
    "dam": 1e1,
    "m": 1.0,
    "dm": 1e-1,
    "cm": 1e-2,
    "mm": 1e-3,
    "µm": 1e-6,
    "nm": 1e-9,
    "pm": 1e-12,
    "fm": 1e-15,
    "am": 1e-18,
    "zm": 1e-21,
    "ym": 1e-24,
    "Å": 1e-10,
    "thou": 2.54e-5,
    "li": 2.54e-2 / 12,  # line = 1/12 inch
    "in": 2.54e-2,
    "ft": 0.3048,
    "yd": 0.9144,
    "mi": 1609.344,
    "ua": 1.495978707e11,
    "ly": 9.4607304725808e15,
    "pc": 3.0856775814913673e16,
    "pt": 2.54e-2 / 72,
}
#: Non-length units allowed in UnitsLength (no conversion to metres).
LENGTH_UNITS_OTHER = ("pixel", "reference frame")

#: UnitsTime symbol -> seconds (U2).
TIME_UNITS_S: dict[str, float] = {
    "Ys": 1e24,
    "Zs": 1e21,
    "Es": 1e18,
    "Ps": 1e15,
    "Ts": 1e12,
    "Gs": 1e9,
    "Ms": 1e6,
    "ks": 1e3,
    "hs": 1e2,
    "das": 1e1,
    "s": 1.0,
    "ds": 1e-1,
    "cs": 1e-2,
    "ms": 1e-3,
    "µs": 1e-6,
    "ns": 1e-9,
    "ps": 1e-12,
    "fs": 1e-15,
    "as": 1e-18,
    "zs": 1e-21,
    "ys": 1e-24,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}

#: OME length symbol -> the NGFF (OME-Zarr) axis unit, a UDUNITS-2 name (NGFF 0.4/0.5
#: "axes": units outside this table are converted to micrometer).
NGFF_LENGTH_UNITS: dict[str, str] = {
    "Ym": "yottameter",
    "Zm": "zettameter",
    "Em": "exameter",
    "Pm": "petameter",
    "Tm": "terameter",
    "Gm": "gigameter",
    "Mm": "megameter",
    "km": "kilometer",
    "hm": "hectometer",
    "dam": "decameter",
    "m": "meter",
    "dm": "decimeter",
    "cm": "centimeter",
    "mm": "millimeter",
    "µm": "micrometer",
    "nm": "nanometer",
    "pm": "picometer",
    "fm": "femtometer",
    "am": "attometer",
    "zm": "zeptometer",
    "ym": "yoctometer",
    "Å": "angstrom",
    "in": "inch",
    "ft": "foot",
    "yd": "yard",
    "mi": "mile",
    "pc": "parsec",
}
#: OME time symbol -> the NGFF axis unit (UDUNITS-2 name); others become second.
NGFF_TIME_UNITS: dict[str, str] = {
    "Ys": "yottasecond",
    "Zs": "zettasecond",
    "Es": "exasecond",
    "Ps": "petasecond",
    "Ts": "terasecond",
    "Gs": "gigasecond",
    "Ms": "megasecond",
    "ks": "kilosecond",
    "hs": "hectosecond",
    "ds": "decisecond",
    "s": "second",
    "cs": "centisecond",
    "ms": "millisecond",
    "µs": "microsecond",
    "ns": "nanosecond",
    "ps": "picosecond",
    "fs": "femtosecond",
    "as": "attosecond",
    "zs": "zeptosecond",
    "ys": "yoctosecond",
    "min": "minute",
    "h": "hour",
    "d": "day",
}


#: Vendor, ImageJ and free-text spellings -> the schema's symbol (U1, U2). Keys are
#: lower case and matched case-insensitively; the schema's own symbols are matched
#: exactly (``Mm`` is a megametre, ``mm`` a millimetre). The micro sign may be
#: written as U+00B5, Greek mu U+03BC or ImageJ's ``\\u00B5`` escape (see
#: :func:`_clean`).
UNIT_ALIASES: dict[str, str] = {
    # lengths
    "um": "µm",
    "micron": "µm",
    "microns": "µm",
    "micrometer": "µm",
    "micrometre": "µm",
    "micrometers": "µm",
    "micrometres": "µm",
    "nanometer": "nm",
    "nanometre": "nm",
    "nanometers": "nm",
    "nanometres": "nm",
    "millimeter": "mm",
    "millimetre": "mm",
    "millimeters": "mm",
    "millimetres": "mm",
    "centimeter": "cm",
    "centimetre": "cm",
    "centimeters": "cm",
    "centimetres": "cm",
    "meter": "m",
    "metre": "m",
    "meters": "m",
    "metres": "m",
    "picometer": "pm",
    "picometre": "pm",
    "angstrom": "Å",
    "angstroms": "Å",
    "ångström": "Å",
    "inch": "in",
    "inches": "in",
    "foot": "ft",
    "feet": "ft",
    "pixels": "pixel",
    "px": "pixel",
    # times
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "msec": "ms",
    "msecs": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "us": "µs",
    "usec": "µs",
    "microsecond": "µs",
    "microseconds": "µs",
    "nsec": "ns",
    "nanosecond": "ns",
    "nanoseconds": "ns",
    "psec": "ps",
    "picosecond": "ps",
    "picoseconds": "ps",
    "minute": "min",
    "minutes": "min",
    "mins": "min",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
}
#: Spellings matched exactly (case matters): "A" is an ångström, "a" is not.
_EXACT_ALIASES = {"A": "Å", "Å": "Å"}  # ANGSTROM SIGN U+212B -> U+00C5


def _unique_lowercase() -> dict[str, str]:
    """Symbols that a case-insensitive match names unambiguously: "NM" is nm, but
    "MM" may be mm or Mm, so it stays unknown."""
    seen: dict[str, list[str]] = {}
    for symbol in (*LENGTH_UNITS_M, *LENGTH_UNITS_OTHER, *TIME_UNITS_S):
        seen.setdefault(symbol.lower(), []).append(symbol)
    return {low: found[0] for low, found in seen.items() if len(found) == 1}


_SYMBOLS_ANY_CASE = _unique_lowercase()

#: OME attributes whose value is a UnitsLength / a UnitsTime symbol (U1, U2).
LENGTH_UNIT_ATTRS = frozenset(
    {
        "PhysicalSizeXUnit", "PhysicalSizeYUnit", "PhysicalSizeZUnit",
        "PositionXUnit", "PositionYUnit", "PositionZUnit",
        "PinholeSizeUnit", "ExcitationWavelengthUnit", "EmissionWavelengthUnit",
        "WavelengthUnit", "WorkingDistanceUnit", "CutInUnit", "CutOutUnit",
        "CutInToleranceUnit", "CutOutToleranceUnit", "StrokeWidthUnit", "FontSizeUnit",
        "XUnit", "YUnit", "ZUnit",
    }
)  # fmt: skip
TIME_UNIT_ATTRS = frozenset({"TimeIncrementUnit", "DeltaTUnit", "ExposureTimeUnit"})

Kind = Literal["length", "time"]
_DEFAULT_UNIT = {"length": "µm", "time": "s"}  # U3
_EXAMPLES = {"length": "µm, nm, mm", "time": "s, ms, min"}


def _clean(unit: str) -> str:
    """Trim and write the micro sign as U+00B5 (Greek mu, ImageJ's escape)."""
    text = unit.strip()
    if "\\u" in text:
        text = text.replace("\\u00B5", "µ").replace("\\u00b5", "µ")
    return text.replace("μ", "µ")  # GREEK SMALL LETTER MU -> MICRO SIGN


def _symbol(unit: str) -> str | None:
    text = _clean(unit)
    if text in LENGTH_UNITS_M or text in TIME_UNITS_S or text in LENGTH_UNITS_OTHER:
        return text
    low = text.lower()
    return _EXACT_ALIASES.get(text) or UNIT_ALIASES.get(low) or _SYMBOLS_ANY_CASE.get(low)


def normalize_unit(unit: str) -> str:
    """The schema symbol of a unit spelling; an unknown spelling comes back trimmed."""
    return _symbol(unit) or unit.strip()


def length_symbol(unit: object) -> str | None:
    """The UnitsLength symbol of a spelling (``pixel`` included), or None if unknown."""
    if not isinstance(unit, str):
        return None
    symbol = _symbol(unit)
    return symbol if symbol in LENGTH_UNITS_M or symbol in LENGTH_UNITS_OTHER else None


def time_symbol(unit: object) -> str | None:
    """The UnitsTime symbol of a spelling, or None if unknown."""
    if not isinstance(unit, str):
        return None
    symbol = _symbol(unit)
    return symbol if symbol in TIME_UNITS_S else None


def unit_attr_symbol(attr: str, value: str) -> str | None:
    """The symbol the unit attribute ``attr`` (e.g. ``PhysicalSizeXUnit``) means by
    ``value``; None when ``value`` is unknown or of the other kind ("s" for a length)."""
    if attr in LENGTH_UNIT_ATTRS:
        return length_symbol(value)
    if attr in TIME_UNIT_ATTRS:
        return time_symbol(value)
    return None


def tidy(value: float) -> float:
    """Drop binary noise of a conversion: 1e-7 m -> 0.1 µm, not 0.09999999999999999."""
    return float(f"{value:.12g}")


def to_micrometres(value: float | None, unit: str | None) -> float | None:
    """A length in µm; None when unknown or not a physical length (pixel).

    A missing unit is the schema default µm (U3).
    """
    if value is None:
        return None
    factor = LENGTH_UNITS_M.get(length_symbol(unit) or "") if unit else 1e-6
    return None if factor is None else tidy(float(value) * factor / 1e-6)


def to_seconds(value: float | None, unit: str | None) -> float | None:
    """A time in seconds; None when the unit is unknown. A missing unit is s (U3)."""
    if value is None:
        return None
    factor = TIME_UNITS_S.get(time_symbol(unit) or "") if unit else 1.0
    return None if factor is None else tidy(float(value) * factor)


def convert(value: float, unit: str, to: str) -> float:
    """``value`` in ``unit`` expressed in ``to``: two lengths or two times of the table.

    Raises
    ------
    InvalidValueError
        A unit that is unknown, not physical (pixel) or of the other kind.
    """
    for table, symbol in ((LENGTH_UNITS_M, length_symbol), (TIME_UNITS_S, time_symbol)):
        src, dst = symbol(unit), symbol(to)
        if src in table and dst in table:
            return tidy(float(value) * table[src] / table[dst])
    raise InvalidValueError(f"cannot convert {unit!r} to {to!r}")


def ngff_quantity(
    value: float,
    unit: str | None,
    kind: Literal["length", "time"],
) -> tuple[float, str] | None:
    """``(value, NGFF unit name)`` of an OME quantity; None for a non-physical unit.

    A missing unit is the schema default (U3); a unit NGFF has no name for is
    converted to micrometer (lengths) or second (times).
    """
    symbol = (
        (length_symbol(unit) if kind == "length" else time_symbol(unit))
        if unit
        else _DEFAULT_UNIT[kind]
    )
    table = NGFF_LENGTH_UNITS if kind == "length" else NGFF_TIME_UNITS
    if symbol in table:
        return float(value), table[symbol]
    seconds_or_um = to_micrometres(value, symbol) if kind == "length" else to_seconds(value, symbol)
    if seconds_or_um is None:
        return None
    return seconds_or_um, "micrometer" if kind == "length" else "second"


# --- the quantity parser --------------------------------------------------------------

_NUMBER = re.compile(
    r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf)\b)\s*(.*?)\s*$",
    re.IGNORECASE,
)


def parse_quantity(
    value: object,
    *,
    kind: Kind,
    what: str,
    default_unit: str | None = None,
    positive: bool = True,
) -> tuple[float, str]:
    """Parse a user's length or time into ``(value, schema symbol)``.

    Parameters
    ----------
    value
        ``"325nm"``, ``"0.325 µm"``, ``"0.325um"``, ``(0.325, "µm")`` or a bare
        number in ``default_unit``.
    kind
        ``"length"`` (UnitsLength, U1) or ``"time"`` (UnitsTime, U2).
    what
        The field's name, for the error message.
    default_unit
        Unit of a bare number; the schema default (U3) when not given: µm, s.
    positive
        Refuse zero and negative values (sizes, wavelengths, increments; W3).

    Raises
    ------
    InvalidValueError
        Not a number, NaN or infinite, not positive, an unknown unit, or a unit of
        the other kind ("5 s" for a length).
    """
    default = default_unit or _DEFAULT_UNIT[kind]
    number: object
    unit: object
    if isinstance(value, tuple):
        if len(value) != 2:
            raise InvalidValueError(f"{what}: {value!r} is not a number or (number, unit)")
        number, unit = value
        unit = default if unit is None else unit
        if isinstance(number, str):
            number = number.strip()
    elif isinstance(value, str):
        match = _NUMBER.match(value)
        if match is None:
            raise InvalidValueError(
                f"{what}: {value!r} is not a number with a unit "
                f"(e.g. {'0.325µm' if default in LENGTH_UNITS_M else '2s'})"
            )
        number, unit = match.group(1), match.group(2) or default
    else:
        number, unit = value, default
    if isinstance(number, bool) or not isinstance(number, Real | str):
        raise InvalidValueError(f"{what}: {value!r} is not a number with a unit")
    try:
        number = float(number)
    except ValueError:
        raise InvalidValueError(f"{what}: {value!r} is not a number with a unit") from None
    if not isinstance(unit, str):
        raise InvalidValueError(f"{what}: {value!r} has a unit that is not text")
    symbol = length_symbol(unit) if kind == "length" else time_symbol(unit)
    if symbol is None:
        other = "time" if kind == "length" else "length"
        if (time_symbol(unit) if kind == "length" else length_symbol(unit)) is not None:
            raise InvalidValueError(
                f"{what}: {value!r} is a {other}, not a {kind} (use e.g. {_EXAMPLES[kind]})"
            )
        raise InvalidValueError(
            f"{what}: {value!r} has an unknown {kind} unit {unit.strip()!r} "
            f"(use e.g. {_EXAMPLES[kind]})"
        )
    if not math.isfinite(number):
        raise InvalidValueError(f"{what}: {value!r} is not a finite number")
    if positive and not number > 0:
        raise InvalidValueError(
            f"{what}: {value!r} must be greater than 0"  # W3: no placeholder values
        )
    return number, symbol


def parse_length(
    value: object, *, what: str = "length", default_unit: str = "µm", positive: bool = True
) -> tuple[float, str]:
    """``"325nm"``, ``"0.325 µm"``, ``(0.325, "um")``, ``0.325`` -> (value, UnitsLength symbol).

    See :func:`parse_quantity`; a bare number is in ``default_unit`` (U3: µm).
    """
    return parse_quantity(
        value, kind="length", what=what, default_unit=default_unit, positive=positive
    )


def parse_time(
    value: object, *, what: str = "time", default_unit: str = "s", positive: bool = True
) -> tuple[float, str]:
    """``"500 ms"``, ``"2s"``, ``(2, "min")``, ``2`` -> (value, UnitsTime symbol).

    See :func:`parse_quantity`; a bare number is in ``default_unit`` (U3: s).
    """
    return parse_quantity(
        value, kind="time", what=what, default_unit=default_unit, positive=positive
    )
