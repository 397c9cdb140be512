"""OME units of length and time (checklist U1-U3): symbols, aliases, conversions."""

from __future__ import annotations

#: UnitsLength symbol -> metres.
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

#: UnitsTime symbol -> seconds.
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

#: Common non-conformant spellings -> the schema's symbol (checklist U1).
UNIT_ALIASES: dict[str, str] = {
    "um": "µm",
    "μm": "µm",
    "micron": "µm",
    "microns": "µm",
    "micrometer": "µm",
    "micrometre": "µm",
    "micrometers": "µm",
    "micrometres": "µm",
    "\\u00B5m": "µm",
    "nanometer": "nm",
    "nanometre": "nm",
    "millimeter": "mm",
    "millimetre": "mm",
    "A": "Å",
    "angstrom": "Å",
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "msec": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "us": "µs",
    "μs": "µs",
    "minute": "min",
    "minutes": "min",
    "hour": "h",
    "hours": "h",
}


def normalize_unit(unit: str) -> str:
    """The schema symbol for a unit spelled in a common non-conformant way."""
    return UNIT_ALIASES.get(unit.strip(), UNIT_ALIASES.get(unit.strip().lower(), unit.strip()))


def to_micrometres(value: float | None, unit: str | None) -> float | None:
    """Convert a length to µm; None when unknown or not a physical length."""
    if value is None:
        return None
    symbol = normalize_unit(unit) if unit else "µm"
    factor = LENGTH_UNITS_M.get(symbol)
    if factor is None:
        return None
    return value * factor / 1e-6


def to_seconds(value: float | None, unit: str | None) -> float | None:
    """Convert a time to seconds; None when unknown."""
    if value is None:
        return None
    symbol = normalize_unit(unit) if unit else "s"
    factor = TIME_UNITS_S.get(symbol)
    return None if factor is None else value * factor
