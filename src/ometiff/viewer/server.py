"""The ``ometiff view`` web app: a Starlette application and its runner.

:func:`create_app` builds the app for the files and folders the user named;
:func:`serve` binds it to 127.0.0.1 (a free port unless one is given), prints the
URL with this run's token, opens the browser and serves until Ctrl-C.

Every request must carry the token: as ``?token=`` (the printed URL), as the
``X-Ometiff-Token`` header (the page's own requests) or as the cookie the first
page sets; anything else gets 403 and reads nothing. Requests whose ``Host`` is not
the loopback address are refused too (a web page elsewhere cannot rebind a name to
127.0.0.1 and talk to the app). Paths come through :class:`~ometiff.viewer.paths.Access`.
An error answers ``{"error": "<the one-line reason ometiff prints>"}`` and the
server keeps serving.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ometiff.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    MissingFileError,
    OmeTiffError,
)
from ometiff.viewer.images import ChannelSpec, OpenFiles, composite, encode_png
from ometiff.viewer.jobs import JobQueue, one_line
from ometiff.viewer.paths import Access, AccessDeniedError

try:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise MissingDependencyError(
        'ometiff view needs Starlette and uvicorn: pip install "ometiff[view]"'
    ) from exc

TOKEN_HEADER = "x-ometiff-token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

Scope = dict[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


def static_dir() -> Path:
    """The built front end shipped inside the package."""
    return Path(str(resources.files("ometiff.viewer") / "static"))


def cookie_name(scope: Mapping[str, Any]) -> str:
    server = scope.get("server") or ("", 0)
    return f"ometiff_view_{server[1]}"


class TokenGate:
    """ASGI middleware: the token on every request, and a loopback ``Host``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        given = (
            request.query_params.get("token")
            or request.headers.get(TOKEN_HEADER)
            or request.cookies.get(cookie_name(scope))
            or ""
        )
        if host not in LOOPBACK_HOSTS:
            response: Response = PlainTextResponse("ometiff view answers on 127.0.0.1 only", 403)
        elif not secrets.compare_digest(given.encode(), self.token.encode()):
            response = PlainTextResponse(
                "this page needs the URL with its token, as `ometiff view` printed it", 403
            )
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def _error(exc: BaseException) -> JSONResponse:
    status = 500
    if isinstance(exc, AccessDeniedError):
        status = 403
    elif isinstance(exc, MissingFileError):
        status = 404
    elif isinstance(exc, OmeTiffError):
        status = 400
    return JSONResponse({"error": one_line(exc)}, status_code=status)


def _int(request: Request, name: str, default: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None:
        if default is None:
            raise InvalidArgumentError(f"{name} is missing")
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidArgumentError(f"{name}={text!r} is not a whole number") from None


def _guarded(fn: Callable[..., Response]) -> Callable[[Request], Awaitable[Response]]:
    """Run a blocking endpoint on a worker thread; turn every failure into one line."""
    from starlette.concurrency import run_in_threadpool

    async def endpoint(request: Request) -> Response:
        body: Any = None
        if request.method == "POST":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                return _error(InvalidArgumentError("the request body is not JSON"))
        try:
            return await run_in_threadpool(fn, request, body)
        except Exception as exc:  # one line in the page; the server keeps serving
            return _error(exc)

    return endpoint


def _conversion_options(raw: dict[str, Any]) -> dict[str, Any]:
    """The converter form's fields as :func:`ometiff.convert` arguments."""
    out: dict[str, Any] = {}
    for name in ("series", "channels", "z", "t"):
        value = raw.get(name)
        if value in (None, "", []):
            continue
        if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
            raise InvalidArgumentError(f"{name}: give a list of 0-based indices")
        out[name] = value
    split = raw.get("split") or None
    if split not in (None, "series", "c", "t"):
        raise InvalidArgumentError(f"split {split!r}: use series, c or t")
    if split:
        out["split"] = split
    compression = raw.get("compression", "auto")
    out["compression"] = None if compression in (None, "", "none") else str(compression)
    tile = raw.get("tile")
    if tile not in (None, "", 0):
        out["tile"] = int(tile)
    pyramid = raw.get("pyramid", "auto")
    out["pyramid"] = (
        None
        if pyramid in (None, "none", 0, "0")
        else ("auto" if pyramid == "auto" else int(pyramid))
    )
    for flag in ("companion", "overwrite", "original_metadata"):
        if raw.get(flag):
            out[flag] = True
    if raw.get("verify") is False:
        out["verify"] = False
    ngff = raw.get("ngff")
    if ngff not in (None, ""):
        if str(ngff) not in ("0.4", "0.5"):
            raise InvalidArgumentError(f"ngff {ngff!r}: use 0.5 or 0.4")
        out["ngff"] = str(ngff)
    return out


def create_app(access: Access, token: str, *, opened: list[Path] | None = None) -> Any:
    """The ASGI app (wrapped in the token gate) for what the user named."""
    files = OpenFiles()
    jobs = JobQueue()

    def index(request: Request, body: Any) -> Response:
        response = FileResponse(static_dir() / "index.html")
        if request.query_params.get("token"):
            response.set_cookie(cookie_name(request.scope), token, httponly=True, samesite="strict")
        response.headers["Cache-Control"] = "no-store"
        return response

    def session(request: Request, body: Any) -> Response:
        from ometiff.version import __version__

        data = access.as_dict()
        data["version"] = __version__
        data["opened"] = [str(p) for p in (opened or [])]
        return JSONResponse(data)

    def listing(request: Request, body: Any) -> Response:
        return JSONResponse(
            access.listing(_int(request, "root"), request.query_params.get("path", ""))
        )

    def _path(spec: Any) -> Path:
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            raise InvalidArgumentError('give a path: {"path": ..., "root": N or null}')
        root = spec.get("root")
        return access.resolve(spec["path"], None if root is None else int(root))

    def open_file(request: Request, body: Any) -> Response:
        path = _path(body)
        f = files.open(path)
        # the info document (2 MB for 30,000 planes) comes from /api/info: the first
        # tiles need only the series
        return JSONResponse({"key": f.key, "path": str(path), "series": f.series_views()})

    def info_document(request: Request, body: Any) -> Response:
        return JSONResponse(files.get(request.path_params["key"]).info.to_dict())

    def tile(request: Request, body: Any) -> Response:
        f = files.get(request.path_params["key"])
        k, zoom = int(request.path_params["series"]), int(request.path_params["zoom"])
        tx, ty = int(request.path_params["x"]), int(request.path_params["y"])
        t, z = _int(request, "t", 0), _int(request, "z", 0)
        fmt = request.path_params["fmt"]
        if fmt == "raw":
            c = _int(request, "c", 0)
            data = np.ascontiguousarray(f.tile_data(k, t, c, z, zoom, tx, ty))
            little = data.astype(data.dtype.newbyteorder("<"), copy=False)
            return Response(
                little.tobytes(),
                media_type="application/octet-stream",
                headers={
                    "X-Shape": ",".join(map(str, data.shape)),
                    "X-Dtype": little.dtype.str,
                    "Cache-Control": "private, max-age=3600",
                },
            )
        specs = [ChannelSpec.parse(s) for s in request.query_params.getlist("ch")]
        key = (f.key, k, zoom, tx, ty, t, z, tuple(request.query_params.getlist("ch")))
        png = files.cached_tile(key)
        if png is None:
            tiles = [f.tile_data(k, t, s.index, z, zoom, tx, ty) for s in specs]
            if not tiles:  # every channel off: a black tile of the right size
                probe = f.tile_data(k, t, 0, z, zoom, tx, ty)
                tiles, specs = (
                    [np.zeros(probe.shape[:2], np.uint8)],
                    [ChannelSpec(0, (0, 0, 0), 0, 1)],
                )
            png = encode_png(composite(tiles, specs))
            files.keep_tile(key, png)
        return Response(
            png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
        )

    def histogram(request: Request, body: Any) -> Response:
        f = files.get(request.path_params["key"])
        return JSONResponse(
            f.histogram(
                _int(request, "series", 0),
                _int(request, "t", 0),
                _int(request, "c", 0),
                _int(request, "z", 0),
            )
        )

    def value(request: Request, body: Any) -> Response:
        f = files.get(request.path_params["key"])
        k = _int(request, "series", 0)
        x, y = _int(request, "x"), _int(request, "y")
        size_y, size_x = f.reader.level_shapes(k)[0][3:]
        if not (0 <= x < size_x and 0 <= y < size_y):
            return JSONResponse({"x": x, "y": y, "values": None})
        values = f.values_at(k, _int(request, "t", 0), _int(request, "z", 0), x, y)
        return JSONResponse({"x": x, "y": y, "values": values})

    def validation(request: Request, body: Any) -> Response:
        from ometiff.validation.validator import validate

        f = files.get(request.path_params["key"])
        if f.info.container is not None:
            raise InvalidArgumentError(
                f"{f.path}: validate checks OME-TIFF files; this is a {f.info.variant} input"
            )
        return JSONResponse(validate(f.path).to_dict())

    def diagram(request: Request, body: Any) -> Response:
        from ometiff.render.diagram import draw_diagram

        f = files.get(request.path_params["key"])
        if f.info.container is not None:
            raise InvalidArgumentError(
                f"{f.path}: the diagram shows the IFDs of a TIFF file; this is a "
                f"{f.info.variant} input without TIFF structure"
            )
        with tempfile.TemporaryDirectory(prefix="ometiff-view-") as tmp:
            out = draw_diagram(f.info, Path(tmp) / "diagram.png")
            data = out.read_bytes()
        return Response(data, media_type="image/png")

    def submit(request: Request, body: Any) -> Response:
        if not isinstance(body, dict):
            raise InvalidArgumentError("give sources, output and options")
        sources = [_path(s) for s in body.get("sources") or []]
        if not sources:
            raise InvalidArgumentError("choose at least one input")
        out = body.get("output")
        if not isinstance(out, dict) or not isinstance(out.get("path"), str) or not out["path"]:
            raise InvalidArgumentError("give the output name")
        rel = Path(out["path"])
        folder = access.resolve(str(rel.parent) if str(rel.parent) else ".", out.get("root"))
        if not folder.is_dir():
            raise InvalidArgumentError(f"{rel.parent}: not a folder")
        job = jobs.submit(
            sources, folder / rel.name, _conversion_options(body.get("options") or {})
        )
        return JSONResponse(job.as_dict())

    def job_list(request: Request, body: Any) -> Response:
        return JSONResponse([j.as_dict() for j in jobs.jobs()])

    def cancel(request: Request, body: Any) -> Response:
        job = jobs.cancel(int(request.path_params["job"]))
        if job is None:
            raise InvalidArgumentError(f"job {request.path_params['job']} does not exist")
        return JSONResponse(job.as_dict())

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        jobs.stop()
        files.close()

    g = _guarded
    routes = [
        Route("/", g(index)),
        Route("/api/session", g(session)),
        Route("/api/list", g(listing)),
        Route("/api/open", g(open_file), methods=["POST"]),
        Route("/api/tile/{key}/{series:int}/{zoom:int}/{x:int}_{y:int}.{fmt:str}", g(tile)),
        Route("/api/info/{key}", g(info_document)),
        Route("/api/histogram/{key}", g(histogram)),
        Route("/api/value/{key}", g(value)),
        Route("/api/validate/{key}", g(validation)),
        Route("/api/diagram/{key}", g(diagram)),
        Route("/api/jobs", g(job_list)),
        Route("/api/jobs", g(submit), methods=["POST"]),
        Route("/api/jobs/{job:int}/cancel", g(cancel), methods=["POST"]),
        Mount("/static", StaticFiles(directory=static_dir()), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.files, app.state.jobs = files, jobs
    return TokenGate(app, token)


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: a response's head and body go out at once,
    # never held back waiting for the client's delayed ACK (40 ms per request)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise InvalidArgumentError(
            f"port {port}: cannot listen on it ({exc.strerror})", option="port"
        ) from exc
    sock.listen(128)
    return sock


def serve(
    paths: list[Path],
    *,
    port: int = 0,
    open_browser: bool = True,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the app until Ctrl-C; print the URL with its token first."""
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(
            'ometiff view needs Starlette and uvicorn: pip install "ometiff[view]"'
        ) from exc

    named = paths or [Path.cwd()]
    access = Access.from_paths(named)
    token = secrets.token_urlsafe(24)
    sock = bind(port)
    actual = sock.getsockname()[1]
    url = f"http://127.0.0.1:{actual}/?token={token}"
    app = create_app(access, token, opened=list(access.files))
    echo(f"ometiff view: serving {', '.join(str(p) for p in named)}")
    echo(f"ometiff view: open {url}  (Ctrl-C stops)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    server = _server_class(uvicorn)(uvicorn.Config(app, log_level="warning", lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    echo("ometiff view: stopped")


def _server_class(uvicorn: Any) -> Any:
    """uvicorn's server, stopping quietly on Ctrl-C or SIGTERM.

    uvicorn raises the signal again once it has shut down, which ends the program
    with a traceback; here the signal only asks the server to finish (open files
    are closed and a running conversion is cancelled by the app's shutdown).
    """

    class QuietServer(uvicorn.Server):  # type: ignore[misc]
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            import signal

            previous = {
                sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return QuietServer
