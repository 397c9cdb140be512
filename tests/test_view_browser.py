"""``ometiff view`` in a real browser: Playwright driving Debian's Chromium, headless.

Skipped when Playwright or ``/usr/bin/chromium`` is missing (Playwright's own browser
download is not used). The server runs in a thread on a free port of 127.0.0.1.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
PIL = pytest.importorskip("PIL.Image")
sync_api = pytest.importorskip("playwright.sync_api")

from conftest import CORPUS  # noqa: E402
from ometiff.viewer.paths import Access  # noqa: E402
from ometiff.viewer.server import bind, create_app  # noqa: E402
from view_fixtures import CHANNELS, composite_of, pyramid_data, write_pyramid  # noqa: E402

CHROMIUM = os.environ.get("OMETIFF_CHROMIUM", "/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "img"
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


class Server:
    """The app on a free port, served by uvicorn in a thread."""

    def __init__(self, paths: list[Path]) -> None:
        import uvicorn

        self.token = "browser-test-token"
        self.sock = bind(0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/?token={self.token}"
        app = create_app(Access.from_paths(paths), self.token, opened=[])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.thread.start()
        end = time.monotonic() + 10
        while not self.server.started and time.monotonic() < end:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("view")
    write_pyramid(root)
    return root


@pytest.fixture
def server(folder: Path) -> Iterator[Server]:
    s = Server([folder])
    yield s
    s.stop()


@pytest.fixture
def page(chromium, server):
    context = chromium.new_context(viewport={"width": 1400, "height": 820}, device_scale_factor=1)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(server.url)
    pg.wait_for_selector("body[data-ready=true]")
    yield pg
    context.close()
    assert not errors, errors


def wait_tiles(page, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "document.querySelector('#osd').dataset.tiles === 'ready'", timeout=timeout
    )


def open_in_browser(page, name: str) -> None:
    page.click(f"#browser div[data-path='{name}']")
    page.wait_for_selector(".meta-series")
    wait_tiles(page)


def shot(page, name: str) -> None:
    if os.environ.get("OMETIFF_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / name))


def test_open_a_pyramid_and_read_the_metadata_panel(page):
    open_in_browser(page, "pyramid.ome.tif")
    names = page.locator(".meta-channel-name").all_inner_texts()
    assert names == list(CHANNELS)
    series = page.locator(".meta-series").first
    assert series.get_attribute("data-size-x") == "700"
    assert series.get_attribute("data-size-c") == "3"
    assert series.get_attribute("data-size-t") == "2"
    assert "X 700 × Y 600 × Z 3 × C 3 × T 2" in series.inner_text()
    assert page.locator(".channel").count() == 3
    assert not page.locator("#scalebar").is_hidden()
    shot(page, "view-viewer.png")


def changed(page, action) -> None:
    """Do ``action`` and wait until the tiles of the view it asks for are all drawn."""
    generation = page.evaluate("() => ometiffView.generation")
    action()
    page.wait_for_function(
        f"ometiffView.generation > {generation} && "
        "document.querySelector('#osd').dataset.tiles === 'ready'",
        timeout=30_000,
    )


def test_channels_colour_contrast_z_t_and_full_resolution_tiles(page):
    open_in_browser(page, "pyramid.ome.tif")
    responses: list = []
    page.on("response", lambda r: responses.append(r) if "/api/tile/" in r.url else None)
    # channel 0 off, channel 1 red with a narrow range, channel 2 as it is
    changed(page, lambda: page.locator(".channel[data-channel='0'] .visible").uncheck())
    changed(
        page,
        lambda: page.locator(".channel[data-channel='1'] .color").evaluate(
            "(el) => { el.value = '#ff0000'; el.dispatchEvent(new Event('change')); }"
        ),
    )
    lo = page.locator(".channel[data-channel='1'] .lo")
    hi = page.locator(".channel[data-channel='1'] .hi")
    lo.fill("2000")
    changed(page, lambda: lo.dispatch_event("change"))
    hi.fill("4000")
    changed(page, lambda: hi.dispatch_event("change"))
    for axis, value in (("z", 2), ("t", 1)):
        changed(
            page,
            lambda axis=axis, value=value: page.locator(f"#{axis}").evaluate(
                f"(el) => {{ el.value = {value}; el.dispatchEvent(new Event('change')); }}"
            ),
        )
    state = page.evaluate(
        "() => ({t: ometiffView.t, z: ometiffView.z, "
        "ch: ometiffView.channels.map(c => [c.visible, c.color, c.lo, c.hi])})"
    )
    assert (state["t"], state["z"]) == (1, 2)
    assert state["ch"][0][0] is False and state["ch"][1][1:] == ["ff0000", 2000, 4000]
    # zoom to full resolution: one image pixel per screen pixel, tiles from level 0
    page.evaluate("""() => {
        const item = window.ometiffViewer.world.getItemAt(0);
        const zoom = item.imageToViewportZoom(1);
        window.ometiffViewer.viewport.zoomTo(zoom, null, true);
        window.ometiffViewer.viewport.panTo(item.imageToViewportCoordinates(350, 300), true);
    }""")
    page.wait_for_function("ometiffViewer.world.getItemAt(0).getFullyLoaded()")
    page.wait_for_timeout(300)
    full = [
        r
        for r in responses
        if "/10/" in r.url
        and "t=1&z=2" in r.url
        and "ch=1%3Aff0000%3A2000%3A4000" in r.url
        and r.ok
    ]
    assert full, [r.url for r in responses]
    data = pyramid_data()
    c2 = page.evaluate("() => ometiffView.channels[2]")
    for r in full:
        tx, ty = (int(v) for v in r.url.split("/10/")[1].split(".")[0].split("_"))
        got = np.asarray(PIL.open(io.BytesIO(r.body())).convert("RGB")).astype(int)
        win = (slice(ty * 256, ty * 256 + got.shape[0]), slice(tx * 256, tx * 256 + got.shape[1]))
        rgb2 = tuple(int(c2["color"][i : i + 2], 16) for i in (0, 2, 4))
        want = composite_of(
            [data[1, 1, 2][win], data[1, 2, 2][win]],
            [((255, 0, 0), 2000.0, 4000.0), (rgb2, c2["lo"], c2["hi"])],
        )
        assert np.abs(got - want).max() <= 1
    # the screen shows those pixels: the canvas centre against the data (tolerance)
    canvas = np.asarray(
        PIL.open(io.BytesIO(page.locator("#osd canvas").first.screenshot())).convert("RGB")
    ).astype(int)
    centre = canvas[
        canvas.shape[0] // 2 - 20 : canvas.shape[0] // 2 + 20,
        canvas.shape[1] // 2 - 20 : canvas.shape[1] // 2 + 20,
    ].reshape(-1, 3)
    assert centre.max() > 0  # something drawn where the image is
    # the pixel value readout under the cursor
    box = page.locator("#osd").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.querySelector('#pixel').textContent.includes('DAPI')")
    x = int(page.get_attribute("#pixel", "data-x"))
    y = int(page.get_attribute("#pixel", "data-y"))
    text = page.inner_text("#pixel")
    assert f"GFP {data[1, 1, 2, y, x]}" in text


def test_validation_and_diagram_panels(page):
    open_in_browser(page, "pyramid.ome.tif")
    page.click(".ptab[data-panel='validation']")
    page.wait_for_selector("#panel-validation p.ok, #panel-validation p.issue-error")
    assert "valid" in page.inner_text("#panel-validation")
    page.click(".ptab[data-panel='diagram']")
    page.wait_for_selector("#diagram-img")
    page.wait_for_function("document.querySelector('#diagram-img').naturalWidth > 100")
    shot(page, "view-diagram.png")


def test_bad_file_shows_the_reason_and_the_app_keeps_working(page, folder, capsys):
    from ometiff.cli.main import main

    broken = folder / "broken.ome.tif"
    broken.write_bytes(b"II*\x00" + b"\xff" * 20)
    assert main(["show", str(broken), "-o", str(folder / "x.png")]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("ometiff: error: ")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.click("#browser div[data-path='broken.ome.tif']")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error-text") == cli
    open_in_browser(page, "pyramid.ome.tif")
    (folder / "broken.ome.tif").unlink()


def test_pixels_that_cannot_be_decoded_show_the_cli_reason(page, folder, capsys):
    import tifffile

    import ometiff
    from ometiff.cli.main import main

    garbled = folder / "garbled.ome.tif"
    plane = (np.arange(300 * 300) % 251).astype(np.uint8).reshape(300, 300)
    ometiff.write(garbled, plane, axes="YX", tile=(256, 256), compression="zlib")
    with tifffile.TiffFile(garbled) as tf:
        offset = tf.pages[0].dataoffsets[0]
    with open(garbled, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xab" * 40)
    assert main(["show", str(garbled), "-o", str(folder / "x.png")]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("ometiff: error: ")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.click("#browser div[data-path='garbled.ome.tif']")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error-text") == cli  # the histogram's read fails first
    garbled.unlink()
    open_in_browser(page, "pyramid.ome.tif")  # the server still serves


def test_convert_from_the_converter_page(page, folder):
    page.click("#tab-convert")
    page.click("#cbrowser div[data-path='pyramid.ome.tif'] .add")
    page.fill("#out-name", "from-page.ome.tif")
    page.select_option("#opt-compression", "zstd")
    page.fill("#opt-channels", "1")
    page.click("#convert-go")
    page.wait_for_selector("#jobs tr[data-state=done]", timeout=60_000)
    row = page.locator("#jobs tr[data-state=done]").first
    row.locator("summary").click()
    receipt = row.locator(".receipt").inner_text()
    assert "from-page.ome.tif" in receipt and "verified" in receipt
    assert (folder / "from-page.ome.tif").exists()
    shot(page, "view-convert.png")
    # a failing job shows its reason
    page.click("#convert-go")  # same output again: exists
    page.wait_for_selector("#jobs tr[data-state=failed] .job-error", timeout=60_000)
    assert "overwrite" in page.inner_text("#jobs tr[data-state=failed] .job-error")
    (folder / "from-page.ome.tif").unlink()


def test_drop_a_path_on_the_converter(page, folder):
    page.click("#tab-convert")
    target = str(folder / "pyramid.ome.tif")
    page.evaluate(
        """(path) => {
            const dt = new DataTransfer();
            dt.setData("text/uri-list", "file://" + path);
            document.querySelector("#drop").dispatchEvent(
                new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""",
        target,
    )
    assert page.locator("#inputs li").inner_text().startswith(target)
    page.fill("#out-name", "dropped.ome.tif")
    page.click("#convert-go")
    page.wait_for_selector("#jobs tr[data-state=done]", timeout=60_000)
    assert (folder / "dropped.ome.tif").exists()
    (folder / "dropped.ome.tif").unlink()


def corpus_page(chromium, server: Server):
    context = chromium.new_context(viewport={"width": 1400, "height": 820})
    pg = context.new_page()
    pg.goto(server.url)
    pg.wait_for_selector("body[data-ready=true]")
    return context, pg


def test_multifile_set_from_a_member(chromium, tmp_path):
    import ometiff

    data = pyramid_data()[:, :, :, :64, :80]
    ometiff.write(tmp_path / "set.ome.tif", data, axes="TCZYX", split="t")
    members = sorted(p.name for p in tmp_path.glob("*.ome.tif*"))
    assert len(members) == 2
    s = Server([tmp_path])
    try:
        context, pg = corpus_page(chromium, s)
        open_in_browser(pg, members[1])
        assert pg.get_attribute(".meta-series", "data-size-t") == "2"
        assert "2 files" in pg.inner_text("#panel-meta")
        context.close()
    finally:
        s.stop()


def test_open_a_corpus_lif(chromium):
    pytest.importorskip("liffile")
    lifs = sorted(CORPUS.glob("**/*.lif")) if CORPUS.is_dir() else []
    if not lifs:
        pytest.skip("no LIF in the corpus")
    lif = min(lifs, key=lambda p: p.stat().st_size)
    s = Server([lif])
    try:
        context, pg = corpus_page(chromium, s)
        pg.click(f"#browser div.file:has-text('{lif.name}')")
        pg.wait_for_selector(".meta-series")
        wait_tiles(pg, 60_000)
        assert "lif" in pg.inner_text("#panel-meta")
        assert pg.locator(".channel").count() >= 1
        shot(pg, "view-lif.png")
        context.close()
    finally:
        s.stop()


def test_open_a_corpus_ome_zarr_folder(chromium):
    pytest.importorskip("zarr")
    folder = CORPUS / "ome-zarr" / "ome-zarr-py-0.18.0"
    if not (folder / "cluster_5d_v05.ome.zarr").is_dir():
        pytest.skip("no OME-Zarr in the corpus")
    s = Server([folder])
    try:
        context, pg = corpus_page(chromium, s)
        pg.click("#browser div[data-path='cluster_5d_v05.ome.zarr'] .open")
        pg.wait_for_selector(".meta-series")
        wait_tiles(pg, 60_000)
        assert "ome-zarr" in pg.inner_text("#panel-meta")
        assert not pg.locator("#error").is_visible()
        context.close()
    finally:
        s.stop()
