"""A teaching picture of a TIFF file's layout: ``ometiff info PATH --diagram out.png``.

One row per file (a multi-file set draws each member). Each row starts with the
8- or 16-byte header and follows the IFD chain: every IFD is a block coloured by
the series it belongs to and labelled with its Z/C/T from the plane map (T1-T3),
with its byte offset. SubIFDs (pyramid levels, P-2) hang below their plane as
smaller blocks, the ImageDescription of IFD 0 (the OME-XML, M1) sits above it.
Long chains are summarised: the first blocks, every change of series, the last
block, and an ellipsis block that counts the IFDs left out. Drawn with Pillow's
ImageDraw only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ometiff.errors import OmeTiffError

if TYPE_CHECKING:
    from ometiff.inspection import FileInfo
    from ometiff.tiff.structure import IfdInfo, TiffStructure
    from ometiff.types import StrPath

#: Fill colour of each series' IFD blocks (cycled).
SERIES_COLORS: tuple[tuple[int, int, int], ...] = (
    (78, 121, 167),  # blue
    (242, 142, 43),  # orange
    (89, 161, 79),  # green
    (225, 87, 89),  # red
    (118, 183, 178),  # teal
    (237, 201, 72),  # yellow
    (176, 122, 161),  # purple
    (255, 157, 167),  # pink
    (156, 117, 95),  # brown
)
UNMAPPED = (200, 200, 200)
XML_FILL = (255, 247, 214)
XML_EDGE = (196, 160, 40)
HEADER_FILL = (236, 236, 236)
INK = (40, 40, 40)
MUTED = (120, 120, 120)
MISSING = (200, 40, 40)
BACKGROUND = (255, 255, 255)

BLOCK_W, BLOCK_H = 104, 60
GAP = 26
GAP_W = 86
SUB_H = 30
SUB_GAP = 10
XML_H = 38
HEAD_W = 64
MARGIN = 24
MAX_BLOCKS = 11
MAX_LEVELS = 6
MAX_LEGEND_SERIES = 12


def series_color(index: int) -> tuple[int, int, int]:
    """Block colour of series ``index``."""
    return SERIES_COLORS[index % len(SERIES_COLORS)]


def _lighter(rgb: tuple[int, int, int], amount: float = 0.45) -> tuple[int, int, int]:
    r, g, b = rgb
    return (
        int(r + (255 - r) * amount),
        int(g + (255 - g) * amount),
        int(b + (255 - b) * amount),
    )


def _darker(rgb: tuple[int, int, int], amount: float = 0.35) -> tuple[int, int, int]:
    r, g, b = rgb
    return int(r * (1 - amount)), int(g * (1 - amount)), int(b * (1 - amount))


def _text_on(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    return (255, 255, 255) if 0.299 * r + 0.587 * g + 0.114 * b < 150 else INK


def _bytes(n: int) -> str:
    if n < 10_000:
        return f"{n:,} bytes"
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{n} bytes"


# --- model of the picture ---------------------------------------------------------------


@dataclass
class _Block:
    ifd: int
    info: IfdInfo
    offset: int
    series: int | None
    label: str


@dataclass
class _Gap:
    count: int
    series: int | None  # when every skipped IFD belongs to one series


@dataclass
class _Row:
    name: str
    structure: TiffStructure | None
    items: list[_Block | _Gap] = field(default_factory=list)
    note: str = ""
    missing: bool = False
    xml_only: int | None = None  # a metadata-only file (companion): its size

    @property
    def has_description(self) -> bool:
        st = self.structure
        return bool(st and st.ifds and st.ifds[0].description_kind)

    @property
    def levels(self) -> int:
        return max(
            (min(len(b.info.subifds), MAX_LEVELS) for b in self.items if isinstance(b, _Block)),
            default=0,
        )


def _plane_labels(fi: FileInfo) -> dict[tuple[str, int], list[tuple[int, int, int, int]]]:
    """(file name, IFD) -> [(series, z, c, t)] from the plane map."""
    out: dict[tuple[str, int], list[tuple[int, int, int, int]]] = {}
    for s in fi.series:
        for p in s.planes:
            if p.ifd is None:
                continue
            name = Path(p.file).name if p.file else fi.path.name
            out.setdefault((name, p.ifd), []).append((s.index, p.z, p.c, p.t))
    return out


def _label(entries: list[tuple[int, int, int, int]], several: bool) -> str:
    if not entries:
        return "no plane"
    k, z, c, t = entries[0]
    text = f"{'S' + str(k) + ' ' if several else ''}Z{z} C{c} T{t}"
    return text if len(entries) == 1 else f"{text} +{len(entries) - 1}"


def _choose(series_of: list[int | None]) -> list[int | tuple[int, int]]:
    """IFD indices to draw, with (first, last) gaps for runs left out."""
    n = len(series_of)
    if n <= MAX_BLOCKS:
        return list(range(n))
    keep = {0, 1, 2, n - 1}
    for i in range(1, n):
        if series_of[i] != series_of[i - 1]:
            keep.update((i - 1, i))
    if len(keep) > MAX_BLOCKS + 4:  # many series interleaved: head and tail only
        keep = {0, 1, 2, 3, n - 2, n - 1}
    out: list[int | tuple[int, int]] = []
    prev = -1
    for i in sorted(keep):
        if i - prev > 2:
            out.append((prev + 1, i - 1))
        elif i - prev == 2:
            out.append(prev + 1)
        out.append(i)
        prev = i
    return out


def _row_for(
    name: str,
    st: TiffStructure,
    labels: dict[tuple[str, int], list[tuple[int, int, int, int]]],
    several: bool,
) -> _Row:
    entries = [labels.get((name, i), []) for i in range(st.ifd_count)]
    series_of = [e[0][0] if e else None for e in entries]
    row = _Row(name, st)
    for item in _choose(series_of):
        if isinstance(item, tuple):
            first, last = item
            kinds = set(series_of[first : last + 1])
            row.items.append(_Gap(last - first + 1, kinds.pop() if len(kinds) == 1 else None))
        else:
            row.items.append(
                _Block(
                    item,
                    st.ifds[item],
                    st.offsets[item],
                    series_of[item],
                    _label(entries[item], several),
                )
            )
    return row


def _rows(fi: FileInfo) -> list[_Row]:
    from ometiff.tiff.structure import inspect_tiff

    labels = _plane_labels(fi)
    rows: list[_Row] = []
    members = [f for f in fi.files if f.get("role") != "metadata"]
    meta = [f for f in fi.files if f.get("role") == "metadata"]
    for f in meta:
        path = fi.path.parent / str(f["name"])
        size = path.stat().st_size if path.is_file() else 0
        rows.append(_Row(str(f["name"]), None, xml_only=size, note="OME-XML metadata file"))
    if not members and fi.structure is not None:
        members = [{"name": fi.path.name, "exists": True}]
    for f in members:
        name = str(f["name"])
        path = fi.path.parent / name
        st: TiffStructure | None
        if fi.structure is not None and path.resolve() == fi.path.resolve():
            st = fi.structure
        elif f.get("exists", True) and path.is_file():
            try:
                st = inspect_tiff(path)
            except OmeTiffError:
                st = None
        else:
            st = None
        if st is None:
            rows.append(_Row(name, None, missing=True, note="missing or unreadable"))
            continue
        row = _row_for(Path(name).name, st, labels, len(fi.series) > 1)
        kind = "BigTIFF" if st.bigtiff else "TIFF"
        row.note = f"{kind}, {st.ifd_count:,} IFD{'s' if st.ifd_count != 1 else ''}, {_bytes(st.file_size)}"
        rows.append(row)
    return rows


# --- drawing ---------------------------------------------------------------------------


class _Pen:
    def __init__(self, draw: Any, fonts: dict[str, Any]) -> None:
        self.d = draw
        self.f = fonts

    def width(self, text: str, font: str) -> float:
        return float(self.f[font].getlength(text))

    def fit(self, text: str, font: str, room: float) -> str:
        if self.width(text, font) <= room:
            return text
        while text and self.width(text + "…", font) > room:
            text = text[:-1]
        return text + "…"

    def text(
        self, xy: tuple[float, float], text: str, font: str, fill: Any, anchor: str = "la"
    ) -> None:
        self.d.text(xy, text, font=self.f[font], fill=fill, anchor=anchor)

    def box(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        fill: Any,
        edge: Any,
        lines: list[tuple[str, str, Any]],
        *,
        dashed: bool = False,
    ) -> None:
        if dashed:
            self.d.rounded_rectangle((x, y, x + w, y + h), radius=7, fill=fill)
            self._dashed_rect(x, y, w, h, edge)
        else:
            self.d.rounded_rectangle(
                (x, y, x + w, y + h), radius=7, fill=fill, outline=edge, width=2
            )
        total = sum(self.f[font].size + 3 for _, font, _ in lines) - 3
        cy = y + (h - total) / 2
        for text, font, colour in lines:
            self.text((x + w / 2, cy), self.fit(text, font, w - 8), font, colour, anchor="ma")
            cy += self.f[font].size + 3

    def _dashed_rect(self, x: float, y: float, w: float, h: float, colour: Any) -> None:
        dash = 6
        for x0 in range(int(x), int(x + w), dash * 2):
            x1 = min(x0 + dash, x + w)
            self.d.line((x0, y, x1, y), fill=colour, width=2)
            self.d.line((x0, y + h, x1, y + h), fill=colour, width=2)
        for y0 in range(int(y), int(y + h), dash * 2):
            y1 = min(y0 + dash, y + h)
            self.d.line((x, y0, x, y1), fill=colour, width=2)
            self.d.line((x + w, y0, x + w, y1), fill=colour, width=2)

    def arrow(self, x0: float, y: float, x1: float, colour: Any = MUTED) -> None:
        self.d.line((x0, y, x1 - 6, y), fill=colour, width=2)
        self.d.polygon([(x1, y), (x1 - 8, y - 5), (x1 - 8, y + 5)], fill=colour)


def _row_height(row: _Row) -> int:
    if row.xml_only is not None:
        return 22 + XML_H + 26
    h = 20 + BLOCK_H  # file label + blocks
    if row.has_description or row.xml_only is not None:
        h += XML_H + 16
    if row.levels:
        h += row.levels * (SUB_H + SUB_GAP)
    return h + 26


def _row_width(row: _Row) -> int:
    if row.xml_only is not None or row.missing:
        return MARGIN * 2 + 320
    w = HEAD_W + GAP
    for item in row.items:
        w += (BLOCK_W if isinstance(item, _Block) else GAP_W) + GAP
    return MARGIN * 2 + w - GAP


def _draw_row(pen: _Pen, row: _Row, top: int) -> None:
    x = MARGIN
    pen.text((x, top), row.name, "bold", INK)
    pen.text((x + pen.width(row.name, "bold") + 10, top + 3), row.note, "small", MUTED)
    y = top + 22
    if row.xml_only is not None:
        pen.box(
            x,
            y,
            220,
            XML_H,
            XML_FILL,
            XML_EDGE,
            [("OME-XML", "normal", INK), (_bytes(row.xml_only), "small", MUTED)],
        )
        return
    if row.missing:
        pen.box(
            x,
            y,
            220,
            BLOCK_H,
            BACKGROUND,
            MISSING,
            [("file missing", "normal", MISSING)],
            dashed=True,
        )
        return
    st = row.structure
    assert st is not None
    if row.has_description:
        first = st.ifds[0]
        kind = first.description_kind or "description"
        xml_x = x + HEAD_W + GAP
        pen.box(
            xml_x - 6,
            y,
            BLOCK_W + 12,
            XML_H,
            XML_FILL,
            XML_EDGE,
            [(kind, "normal", INK), (_bytes(first.description_length), "small", MUTED)],
        )
        mid = xml_x + BLOCK_W / 2
        pen.d.line((mid, y + XML_H, mid, y + XML_H + 16), fill=XML_EDGE, width=2)
        y += XML_H + 16
    head = ("II" if st.byte_order == "<" else "MM") + (" 43" if st.bigtiff else " 42")
    pen.box(
        x,
        y + 8,
        HEAD_W,
        BLOCK_H - 16,
        HEADER_FILL,
        MUTED,
        [("header", "small", INK), (head, "small", MUTED)],
    )
    x += HEAD_W
    mid_y = y + BLOCK_H / 2
    for item in row.items:
        pen.arrow(x + 2, mid_y, x + GAP - 2)
        x += GAP
        if isinstance(item, _Gap):
            colour = series_color(item.series) if item.series is not None else UNMAPPED
            pen.box(
                x,
                y + 6,
                GAP_W,
                BLOCK_H - 12,
                _lighter(colour, 0.7),
                _darker(colour),
                [("· · ·", "bold", INK), (f"{item.count:,} IFDs", "small", INK)],
                dashed=True,
            )
            x += GAP_W
            continue
        colour = series_color(item.series) if item.series is not None else UNMAPPED
        ink = _text_on(colour)
        pen.box(
            x,
            y,
            BLOCK_W,
            BLOCK_H,
            colour,
            _darker(colour),
            [
                (f"IFD {item.ifd}", "bold", ink),
                (item.label, "normal", ink),
                (f"@ {item.offset:,}", "tiny", ink),
            ],
        )
        subs = item.info.subifds[:MAX_LEVELS]
        sy = y + BLOCK_H
        for level, sub in enumerate(subs, start=1):
            w = max(44.0, BLOCK_W * (0.82**level))
            sx = x + (BLOCK_W - w) / 2
            pen.d.line(
                (x + BLOCK_W / 2, sy, x + BLOCK_W / 2, sy + SUB_GAP), fill=_darker(colour), width=2
            )
            sy += SUB_GAP
            fill = _lighter(colour, 0.35 + 0.08 * level)
            pen.box(
                sx,
                sy,
                w,
                SUB_H,
                fill,
                _darker(colour),
                [(f"{sub.width}x{sub.height}", "tiny", _text_on(fill))],
            )
            sy += SUB_H
        if len(item.info.subifds) > MAX_LEVELS:
            pen.text(
                (x + BLOCK_W / 2, sy + 2),
                f"+{len(item.info.subifds) - MAX_LEVELS} more",
                "tiny",
                MUTED,
                anchor="ma",
            )
        x += BLOCK_W


def _legend_entries(fi: FileInfo, rows: list[_Row]) -> list[tuple[tuple[int, int, int], str, bool]]:
    out = []
    for s in fi.series[:MAX_LEGEND_SERIES]:
        name = f" {s.name!r}" if s.name else ""
        rgb = f" RGB{s.samples_per_pixel}" if s.samples_per_pixel > 1 else ""
        levels = f", {len(s.levels)} levels" if len(s.levels) > 1 else ""
        out.append(
            (
                series_color(s.index),
                f"Series {s.index}{name}: {s.size_x}x{s.size_y}, Z{s.size_z} "
                f"C{s.size_c} T{s.size_t}, {s.dtype}{rgb}{levels}",
                False,
            )
        )
    if len(fi.series) > MAX_LEGEND_SERIES:
        out.append((UNMAPPED, f"… {len(fi.series) - MAX_LEGEND_SERIES} more series", False))
    blocks = [b for r in rows for b in r.items if isinstance(b, _Block)]
    gaps = [g for r in rows for g in r.items if isinstance(g, _Gap)]
    kinds = {
        r.structure.ifds[0].description_kind for r in rows if r.has_description and r.structure
    }
    if kinds or any(r.xml_only is not None for r in rows):
        what = ", ".join(sorted(k for k in kinds if k)) or "OME-XML"
        out.append((XML_FILL, f"ImageDescription of IFD 0 ({what}), size in bytes", False))
    if any(b.series is None for b in blocks) or any(g.series is None for g in gaps):
        out.append((UNMAPPED, "IFD in no series' plane map (thumbnail, label, unused)", False))
    if any(b.info.subifds for b in blocks):
        out.append(
            (_lighter(SERIES_COLORS[0], 0.5), "SubIFD: a lower pyramid level of its plane", False)
        )
    if gaps:
        out.append((_lighter(UNMAPPED, 0.7), "run of IFDs not drawn (count inside)", True))
    out.append((HEADER_FILL, "header: byte order (II/MM) and 42 (TIFF) or 43 (BigTIFF)", False))
    return out


def _fonts() -> dict[str, Any]:
    from PIL import ImageFont

    return {
        "title": ImageFont.load_default(size=20),
        "bold": ImageFont.load_default(size=14),
        "normal": ImageFont.load_default(size=13),
        "small": ImageFont.load_default(size=12),
        "tiny": ImageFont.load_default(size=10),
    }


def draw_diagram(file_info: FileInfo, out_png: StrPath) -> Path:
    """Draw the layout of a file (IFD chain, series, planes, SubIFDs, OME-XML) as a PNG.

    Parameters
    ----------
    file_info
        The result of :func:`ometiff.info`.
    out_png
        The PNG to write (replaced if it exists; written atomically).

    Returns
    -------
    Path
        ``out_png``.

    Raises
    ------
    MissingDependencyError
        Pillow is not installed (``pip install "ometiff[render]"``).
    """
    from ometiff.render.pillow import require_pillow, save_png

    image_mod = require_pillow()
    from PIL import ImageDraw

    fi = file_info
    rows = _rows(fi)
    legend = _legend_entries(fi, rows)
    fonts = _fonts()
    probe = _Pen(ImageDraw.Draw(image_mod.new("RGB", (1, 1))), fonts)
    title = fi.path.name
    subtitle = f"{fi.variant}"
    if fi.structure is not None:
        order = "little-endian" if fi.structure.byte_order == "<" else "big-endian"
        subtitle += f" · {order} {'BigTIFF' if fi.bigtiff else 'classic TIFF'}"
    if len(rows) > 1:
        subtitle += f" · {len(rows)} files"
    legend_w = max(probe.width(text, "normal") for _, text, _ in legend) + 40
    width = int(
        max(
            [_row_width(r) for r in rows]
            + [
                probe.width(title, "title") + 2 * MARGIN,
                probe.width(subtitle, "small") + 2 * MARGIN,
            ]
            + [legend_w + 2 * MARGIN]
        )
    )
    height = MARGIN + 54 + sum(_row_height(r) for r in rows) + 16 + 22 * len(legend) + MARGIN
    image = image_mod.new("RGB", (width, height), BACKGROUND)
    pen = _Pen(ImageDraw.Draw(image), fonts)
    pen.text((MARGIN, MARGIN), title, "title", INK)
    pen.text((MARGIN, MARGIN + 28), subtitle, "small", MUTED)
    y = MARGIN + 54
    for row in rows:
        _draw_row(pen, row, y)
        y += _row_height(row)
    pen.d.line((MARGIN, y, width - MARGIN, y), fill=(225, 225, 225), width=1)
    y += 16
    for colour, text, dashed in legend:
        if dashed:
            pen.box(MARGIN, y, 24, 15, colour, MUTED, [], dashed=True)
        else:
            pen.d.rounded_rectangle(
                (MARGIN, y, MARGIN + 24, y + 15),
                radius=3,
                fill=colour,
                outline=_darker(colour),
                width=1,
            )
        pen.text((MARGIN + 34, y), text, "normal", INK)
        y += 22
    return save_png(image, out_png)
