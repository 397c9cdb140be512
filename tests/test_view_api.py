"""``ometiff view``'s server: token, path security, and every API endpoint against the data."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")
PIL = pytest.importorskip("PIL.Image")

from starlette.testclient import TestClient  # noqa: E402

import ometiff  # noqa: E402
from ometiff.cli.main import main  # noqa: E402
from ometiff.viewer.jobs import Job, JobCancelled  # noqa: E402
from ometiff.viewer.paths import Access  # noqa: E402
from ometiff.viewer.server import create_app  # noqa: E402
from view_fixtures import CHANNELS, SHAPE, composite_of, write_pyramid  # noqa: E402

TOKEN = "test-token-123"


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """A named folder with a pyramid, a file outside it, and a link that leads out."""
    root = tmp_path / "data"
    root.mkdir()
    (root / "sub").mkdir()
    path, _ = write_pyramid(root)
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    os.symlink(outside, root / "link-out.txt")
    os.symlink(tmp_path, root / "sub" / "dir-out")
    return {"root": root, "pyramid": path, "outside": outside}


def client_for(paths: list[Path], token: str = TOKEN) -> TestClient:
    app = create_app(Access.from_paths(paths), token)
    return TestClient(app, base_url="http://127.0.0.1:8000", headers={"X-Ometiff-Token": token})


@pytest.fixture
def client(tree: dict[str, Path]):
    with client_for([tree["root"]]) as c:
        yield c


def opened(client: TestClient, path: str, root: int | None = 0) -> dict:
    r = client.post("/api/open", json={"root": root, "path": path})
    assert r.status_code == 200, r.text
    return r.json()


# --- the token ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/api/session",
        "/static/app.js",
        "/api/list?root=0",
        "/api/tile/1/0/0/0_0.png",
        "/api/jobs",
    ],
)
def test_every_request_needs_the_token(tree, url):
    with TestClient(
        create_app(Access.from_paths([tree["root"]]), TOKEN), base_url="http://127.0.0.1:8000"
    ) as c:
        assert c.get(url).status_code == 403
        assert c.get(url, headers={"X-Ometiff-Token": "wrong"}).status_code == 403
        assert c.post("/api/open", json={"root": 0, "path": "pyramid.ome.tif"}).status_code == 403


def test_token_in_url_sets_a_cookie_for_the_page(tree):
    with TestClient(
        create_app(Access.from_paths([tree["root"]]), TOKEN), base_url="http://127.0.0.1:8000"
    ) as c:
        first = c.get(f"/?token={TOKEN}")
        assert first.status_code == 200 and "ometiff view" in first.text
        assert c.get("/static/app.js").status_code == 200  # the cookie now carries it
        assert c.get("/api/session").json()["roots"][0]["path"] == str(tree["root"])


def test_other_hosts_are_refused(tree):
    with TestClient(
        create_app(Access.from_paths([tree["root"]]), TOKEN), base_url="http://evil.example:8000"
    ) as c:
        assert c.get(f"/api/session?token={TOKEN}").status_code == 403


# --- paths ------------------------------------------------------------------------------


def test_traversal_is_refused(client, tree):
    for path in ("../secret.txt", "sub/../../secret.txt", "../data/../secret.txt"):
        r = client.post("/api/open", json={"root": 0, "path": path})
        assert r.status_code == 403, path
        assert "outside the files and folders" in r.json()["error"]
    assert client.get("/api/list", params={"root": 0, "path": ".."}).status_code == 403


def test_symlinks_out_are_refused_and_not_listed(client, tree):
    r = client.post("/api/open", json={"root": 0, "path": "link-out.txt"})
    assert r.status_code == 403
    assert client.get("/api/list", params={"root": 0, "path": "sub/dir-out"}).status_code == 403
    names = [e["name"] for e in client.get("/api/list", params={"root": 0}).json()["entries"]]
    assert "pyramid.ome.tif" in names and "sub" in names and "link-out.txt" not in names
    sub = client.get("/api/list", params={"root": 0, "path": "sub"}).json()
    assert sub["entries"] == [] and sub["parent"] == ""


def test_absolute_paths_elsewhere_are_refused(client, tree):
    r = client.post("/api/open", json={"root": None, "path": str(tree["outside"])})
    assert r.status_code == 403
    assert client.post("/api/open", json={"root": None, "path": "/etc/passwd"}).status_code == 403
    assert client.post("/api/open", json={"root": 0, "path": "/etc/passwd"}).status_code == 403
    assert client.get("/api/list", params={"root": 7}).status_code == 403
    # an absolute path inside the named folder is fine
    assert opened(client, str(tree["pyramid"]), None)["key"]


def test_a_named_file_does_not_open_its_folder(tree):
    other = tree["root"] / "other.ome.tif"
    other.write_bytes(tree["pyramid"].read_bytes())
    with client_for([tree["pyramid"]]) as c:
        assert c.get("/api/session").json()["files"] == [str(tree["pyramid"])]
        assert opened(c, str(tree["pyramid"]), None)["key"]
        assert c.post("/api/open", json={"root": None, "path": str(other)}).status_code == 403
        assert c.get("/api/list", params={"root": 0}).status_code == 403


# --- the image API ------------------------------------------------------------------------


def test_open_returns_the_info_document(client, tree):
    data = opened(client, "pyramid.ome.tif")
    expected = json.loads(json.dumps(ometiff.info(tree["pyramid"]).to_dict()))
    assert "info" not in data  # the first tiles need only the series
    assert client.get(f"/api/info/{data['key']}").json() == expected
    (s,) = data["series"]
    assert s["size"] == dict(zip("tczyx", SHAPE, strict=True))
    assert [c["name"] for c in s["channels"]] == list(CHANNELS)
    assert [c["color"] for c in s["channels"]] == ["0000ff", "00ff00", "ff0000"]
    assert s["levels"] == [[600, 700], [300, 350], [150, 175]]
    assert s["physical_size"]["x"] == 0.5
    # opening again gives the same key
    assert opened(client, "pyramid.ome.tif")["key"] == data["key"]


def png(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(PIL.open(io.BytesIO(response.content)).convert("RGB"))


def test_full_resolution_tiles_are_the_data(client, tree):
    from view_fixtures import pyramid_data

    data = pyramid_data()
    key = opened(client, "pyramid.ome.tif")["key"]
    top = 10  # 700 px needs 10 halvings
    t, z = 1, 2
    specs = [((0, 0, 255), 100.0, 20000.0), ((0, 255, 0), 0.0, 60000.0)]
    query = [("t", t), ("z", z), ("ch", "0:0000ff:100:20000"), ("ch", "1:00ff00:0:60000")]
    got = png(client.get(f"/api/tile/{key}/0/{top}/1_2.png", params=query))
    window = (slice(512, 600), slice(256, 512))
    assert got.shape == (88, 256, 3)
    want = composite_of([data[t, 0, z][window], data[t, 1, z][window]], specs)
    assert np.abs(got.astype(int) - want).max() <= 1
    raw = client.get(f"/api/tile/{key}/0/{top}/1_2.raw", params={"t": t, "z": z, "c": 2})
    arr = np.frombuffer(raw.content, raw.headers["x-dtype"]).reshape(
        [int(v) for v in raw.headers["x-shape"].split(",")]
    )
    np.testing.assert_array_equal(arr, data[t, 2, z][window])


def test_zoomed_out_tiles_come_from_the_pyramid(client, tree):
    key = opened(client, "pyramid.ome.tif")["key"]
    with ometiff.readers.open_image(tree["pyramid"]) as r:
        level1 = r.read_plane(0, 0, 1, 1, level=1)
    raw = client.get(f"/api/tile/{key}/0/9/0_0.raw", params={"t": 0, "z": 1, "c": 1})
    arr = np.frombuffer(raw.content, raw.headers["x-dtype"]).reshape(
        [int(v) for v in raw.headers["x-shape"].split(",")]
    )
    np.testing.assert_array_equal(arr, level1[:256, :256])
    # four times smaller than level 1: every other pixel of level 2... of level 1 here
    raw = client.get(f"/api/tile/{key}/0/7/0_0.raw", params={"c": 0})
    assert raw.headers["x-shape"] == "75,88"


def test_big_planes_without_a_pyramid_use_an_overview(tmp_path):
    from ometiff.viewer import images

    y, x = np.indices((4200, 4100), dtype=np.uint32)
    data = ((x + 2 * y) % 251).astype(np.uint8)
    ometiff.write(tmp_path / "flat.ome.tif", data, axes="YX", tile=(512, 512))
    with client_for([tmp_path]) as c:
        key = opened(c, "flat.ome.tif")["key"]
        raw = c.get(f"/api/tile/{key}/0/8/0_0.raw")  # 32x reduced: 132x129
        arr = np.frombuffer(raw.content, np.uint8).reshape(
            [int(v) for v in raw.headers["x-shape"].split(",")]
        )
        files = c.app.app.state.files  # the Starlette app behind the token gate
        assert len(files.get(key).overviews) == 1
    # nearest neighbours of the output pixels' centres among the overview's samples
    step, ov = 32, images.OVERVIEW_STEP
    kept_y, kept_x = np.arange(ov // 2, 4200, ov), np.arange(ov // 2, 4100, ov)
    rows = kept_y[
        np.minimum(((np.arange(arr.shape[0]) + 0.5) * step).astype(int) // ov, kept_y.size - 1)
    ]
    cols = kept_x[
        np.minimum(((np.arange(arr.shape[1]) + 0.5) * step).astype(int) // ov, kept_x.size - 1)
    ]
    assert arr.shape == (132, 129)
    np.testing.assert_array_equal(arr, data[np.ix_(rows, cols)])


def test_histogram_and_pixel_values(client, tree):
    from view_fixtures import pyramid_data

    data = pyramid_data()
    key = opened(client, "pyramid.ome.tif")["key"]
    h = client.get(f"/api/histogram/{key}", params={"series": 0, "t": 1, "c": 2, "z": 0}).json()
    plane = data[1, 2, 0]
    assert (h["min"], h["max"]) == (plane.min(), plane.max())
    assert sum(h["counts"]) == plane.size
    assert plane.min() <= h["auto"][0] < h["auto"][1] <= plane.max()
    v = client.get(f"/api/value/{key}", params={"t": 1, "z": 2, "x": 33, "y": 444}).json()
    assert v["values"] == [int(data[1, c, 2, 444, 33]) for c in range(3)]
    assert client.get(f"/api/value/{key}", params={"x": 9999, "y": 0}).json()["values"] is None


def test_validation_and_diagram(client):
    key = opened(client, "pyramid.ome.tif")["key"]
    report = client.get(f"/api/validate/{key}").json()
    assert report["ok"] is True and "issues" in report
    diagram = client.get(f"/api/diagram/{key}")
    assert diagram.status_code == 200 and diagram.content.startswith(b"\x89PNG")


def test_bad_input_shows_the_cli_reason_and_the_server_keeps_serving(client, tree, capsys):
    bad = tree["root"] / "bad.ome.tif"
    bad.write_bytes(b"II*\x00" + b"\xff" * 20)
    # `ometiff show` opens a file for its pixels the way the viewer does
    assert main(["show", str(bad), "-o", str(tree["root"] / "x.png")]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("ometiff: error: ")
    r = client.post("/api/open", json={"root": 0, "path": "bad.ome.tif"})
    assert r.status_code == 400
    assert r.json()["error"] == cli
    assert opened(client, "pyramid.ome.tif")["key"]
    key = opened(client, "pyramid.ome.tif")["key"]
    r = client.get(f"/api/tile/{key}/0/99/0_0.png")
    assert r.status_code == 400 and "zoom level 99" in r.json()["error"]
    assert client.get("/api/tile/nope/0/0/0_0.png").status_code == 400


# --- conversion jobs --------------------------------------------------------------------


def wait_for(client: TestClient, job_id: int, timeout: float = 60) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = next(j for j in client.get("/api/jobs").json() if j["id"] == job_id)
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_a_conversion_job_gives_a_receipt(client, tree):
    r = client.post(
        "/api/jobs",
        json={
            "sources": [{"root": 0, "path": "pyramid.ome.tif"}],
            "output": {"root": 0, "path": "sub/out.ome.tif"},
            "options": {"channels": [0, 2], "compression": "zstd", "pyramid": "none"},
        },
    )
    assert r.status_code == 200, r.text
    job = wait_for(client, r.json()["id"])
    assert job["state"] == "done", job
    out = tree["root"] / "sub" / "out.ome.tif"
    assert job["outputs"] == [str(out)]
    (receipt,) = job["receipts"]
    assert receipt["planes_written"] == receipt["planes_verified"] == 2 * 2 * 3
    assert ometiff.info(out).series[0].size_c == 2
    assert job["done"] == job["total"] and job["stage"] == "verify"


@pytest.mark.parametrize("ngff", ["0.5", "0.4"])
def test_a_conversion_job_writes_ome_zarr(client, tree, ngff):
    """The converter page's OME-Zarr format: a name ending .ome.zarr plus ``ngff``."""
    r = client.post(
        "/api/jobs",
        json={
            "sources": [{"root": 0, "path": "pyramid.ome.tif"}],
            "output": {"root": 0, "path": f"z{ngff}.ome.zarr"},
            "options": {"compression": "auto", "ngff": ngff},
        },
    )
    assert r.status_code == 200, r.text
    job = wait_for(client, r.json()["id"])
    assert job["state"] == "done", job
    out = tree["root"] / f"z{ngff}.ome.zarr"
    assert job["outputs"] == [str(out)]
    meta = "zarr.json" if ngff == "0.5" else ".zattrs"
    assert (out / "0" / meta).is_file()
    with ometiff.open(out) as f, ometiff.open(tree["root"] / "pyramid.ome.tif") as src:
        assert f.series[0].levels == src.series[0].levels
        np.testing.assert_array_equal(f.asarray(), src.asarray())


def test_a_failing_job_shows_its_error_and_writes_nothing(client, tree):
    (tree["root"] / "bad.tif").write_bytes(b"II*\x00" + b"\x00" * 20)
    r = client.post(
        "/api/jobs",
        json={
            "sources": [{"root": 0, "path": "bad.tif"}],
            "output": {"root": 0, "path": "bad-out.ome.tif"},
        },
    )
    job = wait_for(client, r.json()["id"])
    assert job["state"] == "failed" and job["error"] and "\n" not in job["error"]
    assert not (tree["root"] / "bad-out.ome.tif").exists()
    # the existing output is refused with the library's reason
    r = client.post(
        "/api/jobs",
        json={
            "sources": [{"root": 0, "path": "pyramid.ome.tif"}],
            "output": {"root": 0, "path": "pyramid.ome.tif"},
        },
    )
    job = wait_for(client, r.json()["id"])
    assert job["state"] == "failed" and "overwrite" in job["error"]


def test_job_outputs_and_inputs_stay_inside(client, tree):
    for body in (
        {
            "sources": [{"root": 0, "path": "pyramid.ome.tif"}],
            "output": {"root": 0, "path": "../escaped.ome.tif"},
        },
        {
            "sources": [{"root": None, "path": str(tree["outside"])}],
            "output": {"root": 0, "path": "x.ome.tif"},
        },
        {
            "sources": [{"root": 0, "path": "pyramid.ome.tif"}],
            "output": {"root": None, "path": "/tmp/x.ome.tif"},
        },
    ):
        assert client.post("/api/jobs", json=body).status_code == 403, body
    assert not (tree["root"].parent / "escaped.ome.tif").exists()
    r = client.post(
        "/api/jobs",
        json={
            "sources": [{"root": 0, "path": "pyramid.ome.tif"}],
            "output": {"root": 0, "path": "y.ome.tif"},
            "options": {"split": "sideways"},
        },
    )
    assert r.status_code == 400 and "split" in r.json()["error"]


def test_cancel_stops_the_conversion_and_removes_its_output(tree):
    out = tree["root"] / "cancelled.ome.tif"
    job = Job(1, [str(tree["pyramid"])], str(out), {})
    calls = []

    def on_plane(stage: str, done: int, total: int) -> None:
        calls.append(done)
        if done == 3:
            job.cancel.set()
        job.progress(stage, done, total)

    with pytest.raises(JobCancelled):
        ometiff.convert(tree["pyramid"], out, on_plane=on_plane)
    assert calls[-1] == 3  # stopped at the plane where it was cancelled
    assert sorted(p.name for p in tree["root"].iterdir()) == [
        "link-out.txt",
        "pyramid.ome.tif",
        "sub",
    ]


def test_rgb_is_shown_as_it_is(tmp_path):
    y, x = np.indices((300, 400))
    rgb = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    ometiff.write(tmp_path / "rgb.ome.tif", rgb)
    with client_for([tmp_path]) as c:
        data = opened(c, "rgb.ome.tif")
        (s,) = data["series"]
        assert s["rgb"] is True and s["size"]["c"] == 1
        key = data["key"]
        h = c.get(f"/api/histogram/{key}", params={"c": 0}).json()
        assert h["auto"] == [0.0, 255.0]
        got = png(c.get(f"/api/tile/{key}/0/9/0_0.png", params={"ch": "0:ffffff:0:255"}))
        np.testing.assert_array_equal(got, rgb[:256, :256])
        v = c.get(f"/api/value/{key}", params={"x": 5, "y": 7}).json()
        assert v["values"] == [rgb[7, 5].tolist()]


def test_the_built_page_is_current_and_self_contained():
    """static/ holds the page itself plus OpenSeadragon (`npm run build` copies it)."""
    from ometiff.viewer.server import static_dir

    static = static_dir()
    for name in ("index.html", "app.js", "app.css"):
        assert (static / name).is_file(), name
    assert (static / "vendor" / "openseadragon" / "openseadragon.min.js").is_file()
    html = (static / "index.html").read_text()
    assert "http://" not in html and "https://" not in html  # no internet at run time
