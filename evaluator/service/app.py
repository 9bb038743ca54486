"""The HTTP service: the API for incident systems, and the interview page (docs/service.md).

    POST /v1/evaluate          incidents (an object, an array, or JSON Lines) -> results, as `irmer evaluate`
    POST /v1/explain           the same, each result with its explanation, as `irmer explain --format json`
    GET  /v1/versions          the shipped versions of the guidance
    GET  /v1/criteria/{v}      a version: its source, its file's SHA-256, links to its table
    GET  /v1/criteria/{v}/table   the version as the regulator prints the table (HTML)
    GET  /v1/criteria/{v}/source  the criteria file itself
    POST /v1/diff              what changes from one version to another, as `irmer diff --format json`
    GET  /v1/schemas/incident, /v1/schemas/result   the published JSON Schemas
    GET  /healthz, GET /metrics (Prometheus text), GET /openapi.json
    GET  /                     the interview page

Every error is a problem document (RFC 9457, application/problem+json) with a
sentence and a hint; no traceback reaches a client. Every request has an id
(the client's X-Request-ID when it sends a sensible one), returned in
X-Request-ID and kept with each of its decisions in the decision log.

>>> from fastapi.testclient import TestClient
>>> with TestClient(create_app(Settings(log=None))) as client:
...     answer = client.post("/v1/evaluate", json={"jurisdiction": "Wales", "exposure": "accidental"})
>>> answer.status_code, answer.json()["codes"], answer.json()["authority"]["name"]
(200, ['1'], 'Healthcare Inspectorate Wales (HIW)')
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException

from .. import __version__
from .decide import LINES_OUT, Cancelled, Decider, Refused, lines_wanted
from .decision_log import DecisionLog, LogError
from .metrics import CONTENT_TYPE, Metrics

STATIC = Path(__file__).resolve().parent.parent / "pages" / "static"
PROBLEM = "application/problem+json"
# A client's request id is kept when it is short and plain (it goes into the log and a header).
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


@dataclass(frozen=True)
class Settings:
    """How the service runs (`irmer serve` options)."""

    log: Path | None = Path("irmer-decisions.jsonl")  # the decision log; None: no log (for development)
    log_input: str = "full"  # full: the incident itself; sha256: only its hash
    log_max_bytes: int = 100 << 20  # rotate the log at this size (0: never)
    log_keep: int = 0  # rotated files kept (0: all)
    max_body: int = 16 << 20  # the largest request body, in bytes (413 beyond)
    timeout: float = 30.0  # seconds a request may take (503 beyond)


class Problem(BaseModel):
    """Why a request was not answered (RFC 9457 problem details)."""

    type: str = "about:blank"
    title: str = Field(description="the HTTP status in words")
    status: int
    detail: str = Field(description="what went wrong, in a sentence")
    hint: str | None = Field(None, description="what to do about it")
    request_id: str | None = Field(None, description="the request's id, as in X-Request-ID and the decision log")


class DiffRequest(BaseModel):
    """Two versions of the guidance to compare."""

    old: str = Field(description="2023, 2024 or a version id", examples=["2023"])
    new: str = Field(description="2023, 2024 or a version id", examples=["2024"])
    renames: dict[str, str] = Field(default_factory=dict, description="renumbered codes, old to new: {\"9.3\": \"9.2\"}")


class VersionOut(BaseModel):
    """A shipped version of the guidance."""

    version: str
    published: str | None
    in_force: str | None = Field(description="the day from which incidents discovered are evaluated under it")
    file: str
    sha256: str = Field(description="the SHA-256 of the criteria file, as the decision log records it")
    links: dict[str, str]


class CriteriaOut(VersionOut):
    source: str = Field(description="the criteria file, as written")


class BodyTooLarge(Exception):
    """A request body beyond the limit (raised while it is being received)."""


def problem(status: int, detail: str, hint: str | None = None, request_id: str | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, hint=hint, request_id=request_id)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM, headers=headers)


def request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


# ----------------------------------------------------------------------------- the edge

class Edge:
    """Pure ASGI middleware: the request id, the body limit, the metrics of every request."""

    def __init__(self, app: Any, service: "Service"):
        self.app = app
        self.service = service

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        ident = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = ident
        metrics, limit = self.service.metrics, self.service.settings.max_body
        status = 500
        started = anyio.current_time()

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("x-request-id", ident)
            await send(message)

        length = dict(scope["headers"]).get(b"content-length", b"")
        metrics.in_flight.inc()
        try:
            if length.isdigit() and int(length) > limit:
                await _send_problem(sending, 413, f"the body is {int(length):,} bytes; the limit is {limit:,}",
                                    "send fewer incidents in one request", ident)
                return
            received = 0

            async def receiving() -> dict:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        state["too_large"] = True
                        raise BodyTooLarge()
                return message

            await self.app(scope, receiving, sending)
        finally:
            metrics.in_flight.dec()
            route = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            metrics.requests.labels(scope["method"], name, str(status)).inc()
            metrics.latency.labels(name).observe(anyio.current_time() - started)


async def _send_problem(send: Callable, status: int, detail: str, hint: str | None, ident: str) -> None:
    response = problem(status, detail, hint, ident)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


# ----------------------------------------------------------------------------- the service

class Service:
    """What the routes share: the settings, the decider, the decision log, the metrics, caches."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.metrics = Metrics()
        self.decider = Decider(settings.log_input)
        self.decider.warm()
        self.log = None if settings.log is None else DecisionLog(
            settings.log, settings.log_max_bytes, settings.log_keep, on_flush=self.metrics.flushed)
        # z3 and the pipeline's caches are not for two threads at once: diffs and pages take turns.
        self.pipeline = threading.Lock()
        self.diffs: dict[tuple, str] = {}
        self.tables: dict[str, str] = {}

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    def deadline(self) -> float:
        """When a request that starts now must be answered (the event loop's clock)."""
        return asyncio.get_running_loop().time() + self.settings.timeout

    def too_late(self, what: str) -> Refused:
        self.metrics.timeouts.inc()
        return Refused(503, f"{what} took longer than the time limit of {self.settings.timeout:g} s, so nothing was "
                       "answered", "send fewer incidents in one request, or try again")

    async def limited(self, work: Callable[[threading.Event], Any], what: str, deadline: float | None = None) -> Any:
        """Run `work` in a worker thread by the deadline (the time limit from now); raises Refused(503) past it."""
        cancelled = threading.Event()
        try:
            async with asyncio.timeout_at(deadline or self.deadline()):
                return await anyio.to_thread.run_sync(functools.partial(work, cancelled), abandon_on_cancel=True)
        except TimeoutError:
            cancelled.set()  # a batch stops at its next incident; nothing of it is answered or logged
            raise self.too_late(what) from None

    async def record(self, lines: list[bytes], deadline: float | None = None) -> None:
        """Append decisions to the log and wait until they are on disk (by the deadline)."""
        if self.log is None or not lines:
            return
        try:
            async with asyncio.timeout_at(deadline or self.deadline()):
                await asyncio.wrap_future(self.log.append(lines))
        except TimeoutError:
            raise self.too_late("writing the decision log") from None
        except LogError as error:
            self.metrics.log_failures.inc()
            raise Refused(503, f"{error}; the decisions were not answered, since they could not be logged",
                          "the server's disk needs attention; try again later") from None

    async def answer(self, request: Request, criteria: str | None, explain: bool) -> Response:
        lines_wanted(request.headers.get("content-type"))  # 415 before the body is read
        if criteria is not None:
            self.decider.version(criteria)  # 404 before the body is read
        ident = request_id(request) or ""
        deadline = self.deadline()  # one time limit, from the first byte to the answer
        try:
            async with asyncio.timeout_at(deadline):
                body = await request.body()
        except TimeoutError:
            raise self.too_late("receiving the body") from None

        def work(cancelled: threading.Event) -> Any:
            return self.decider.decide(body, request.headers.get("content-type"), criteria, explain,
                                       request_id=ident, path=request.url.path, cancelled=cancelled)

        try:
            decided = await self.limited(work, "evaluating the incidents", deadline)
        except Cancelled:  # pragma: no cover - the timeout answers first
            raise self.too_late("evaluating the incidents") from None
        await self.record(decided.lines, deadline)
        for version, verdict in decided.verdicts:
            self.metrics.decisions.labels(criteria=version, verdict=verdict).inc()
        return Response(decided.body, media_type=decided.media_type)

    def diff(self, old: str, new: str, renames: dict[str, str], cancelled: threading.Event) -> str:
        before, after = self.decider.version(old), self.decider.version(new)
        key = (before.version, after.version, tuple(sorted(renames.items())))
        with self.pipeline:
            if key not in self.diffs:
                from ..load import load_criteria
                from ..tools.diff import diff
                report = diff(load_criteria(before.path), load_criteria(after.path), renames)
                if len(self.diffs) >= 16:
                    self.diffs.pop(next(iter(self.diffs)))
                self.diffs[key] = report.model_dump_json(indent=2) + "\n"  # as `irmer diff --format json`
            return self.diffs[key]

    def table(self, version: str, cancelled: threading.Event) -> str:
        info = self.decider.version(version)
        with self.pipeline:
            if info.version not in self.tables:
                from ..load import load_criteria
                from ..tools.render_criteria import html
                self.tables[info.version] = html(load_criteria(info.path))
            return self.tables[info.version]


# ----------------------------------------------------------------------------- OpenAPI

def _incidents_body() -> dict[str, Any]:
    incident = {"$ref": "#/components/schemas/Incident"}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"anyOf": [incident, {"type": "array", "items": incident}]},
                             "example": {"id": "CT-0193", "jurisdiction": "England", "exposure": "accidental",
                                         "modality": "diagnostic", "total_dose": "8 mSv",
                                         "discovered_on": "2024-10-07"}},
        LINES_OUT: {"schema": {"type": "string", "description": "JSON Lines: one Incident object a line "
                                                               "(also application/jsonl)"}}}}}


def _results(explained: bool) -> dict[int | str, Any]:
    result = {"$ref": "#/components/schemas/Result"}
    what = "each with its explanation" if explained else "without the explanation"
    refused = {"model": Problem, "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return {
        200: {"description": f"One result per incident, in order ({what}): an object for an object, an array for "
                             "an array, JSON Lines for JSON Lines. An incident that cannot be read gets a result "
                             "with its `error`; the others are answered.",
              "content": {"application/json": {"schema": {"anyOf": [result, {"type": "array", "items": result}]}},
                          LINES_OUT: {"schema": {"type": "string"}}}},
        400: {**refused, "description": "The body is not JSON at all, or a broken array: where, and why"},
        404: {**refused, "description": "No such criteria version"},
        413: {**refused, "description": "The body is larger than the limit"},
        415: {**refused, "description": "Not a content type the API reads"},
        503: {**refused, "description": "The time limit was reached, or the decision log cannot be written"},
    }


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi
            from pydantic.json_schema import models_json_schema

            from ..load import load_vocabulary
            from ..result import Result
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            _, defs = models_json_schema([(load_vocabulary().incident_model(), "validation"),
                                          (Result, "serialization"), (Problem, "serialization")],
                                         ref_template="#/components/schemas/{model}")
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(defs["$defs"])
            # An absent fact is unknown (or the vocabulary's default), not null: the pydantic model's
            # `default: null` would contradict each fact's own schema.
            for fact in schemas["Incident"].get("properties", {}).values():
                if "default" in fact and fact["default"] is None:
                    del fact["default"]
            # A request FastAPI finds invalid is answered 400 with a problem document, not 422.
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    if operation.get("responses", {}).pop("422", None) is not None:
                        operation["responses"].setdefault("400", {
                            "description": "The request is not valid: where, and why",
                            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = document
        return app.openapi_schema
    return build


# ----------------------------------------------------------------------------- the application

def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; loads every shipped version and opens the decision log (raises LogError)."""
    settings = settings or Settings()
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        service.close()  # after the last request: what is queued is written

    app = FastAPI(title="IR(ME)R notification criteria", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # their pages load scripts from a CDN; /openapi.json is here
                  description="Evaluate incidents against the IR(ME)R notification criteria, as data: is an "
                              "exposure notifiable, under which codes, to which authority, by when, and why. "
                              "See docs/service.md.")
    app.state.service = service
    app.add_middleware(Edge, service=service)
    app.openapi = _openapi(app)  # type: ignore[method-assign]

    # ------------------------------------------------------------- errors, as problem documents
    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> JSONResponse:
        return problem(error.status, error.detail, error.hint, request_id(request))

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
        return problem(413, f"the body is larger than the limit of {settings.max_body:,} bytes",
                       "send fewer incidents in one request", request_id(request))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if request.scope.get("state", {}).get("too_large"):
            return await too_large(request, BodyTooLarge())
        hint = {404: "GET /openapi.json lists every path", 405: "GET /openapi.json lists each path's methods"}
        return problem(error.status_code, str(error.detail), hint.get(error.status_code), request_id(request),
                       headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item.get("loc", ()))
            if item.get("type") == "json_invalid":
                context = item.get("ctx", {}).get("error", "")
                where = f"body at character {item['loc'][-1]}" if len(item.get("loc", ())) > 1 else "body"
                problems.append(f"not valid JSON at {where}: {context}".rstrip(": "))
            else:
                problems.append(f"{where}: {item.get('msg')}")
        return problem(400, "; ".join(problems) or "the request is not valid",
                       "GET /openapi.json describes each request's body", request_id(request))

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        # Said plainly, without a traceback; the server's own log has it, with the request id.
        return problem(500, f"internal error ({type(error).__name__}); this is a fault in the service, not in "
                       "the request", "report it with the request id", request_id(request))

    # ------------------------------------------------------------- evaluating
    criteria_query = Query(None, description="2023, 2024 or a version id (default: the version in force on each "
                                             "incident's discovered_on, else the latest)")

    @app.post("/v1/evaluate", tags=["evaluate"], openapi_extra=_incidents_body(), responses=_results(False),
              summary="Evaluate incidents")
    async def evaluate(request: Request, criteria: str | None = criteria_query) -> Response:
        """Is each incident notifiable, under which codes, to which authority, by when; or, when facts are
        missing, which facts would decide it. The same results as `irmer evaluate --format json`."""
        return await service.answer(request, criteria, explain=False)

    @app.post("/v1/explain", tags=["evaluate"], openapi_extra=_incidents_body(), responses=_results(True),
              summary="Evaluate incidents, with every criterion explained")
    async def explain(request: Request, criteria: str | None = criteria_query) -> Response:
        """As /v1/evaluate, each result with its `explanation`: every criterion's outcome, the comparisons it
        made and the facts it is missing. The same results as `irmer explain --format json`."""
        return await service.answer(request, criteria, explain=True)

    # ------------------------------------------------------------- the guidance
    def described(info: Any) -> dict[str, Any]:
        base = f"/v1/criteria/{info.version}"
        return {"version": info.version, "published": str(info.published) if info.published else None,
                "in_force": str(info.in_force) if info.in_force else None, "file": info.path.name,
                "sha256": service.decider.digests[info.version],
                "links": {"criteria": base, "table": f"{base}/table", "source": f"{base}/source"}}

    @app.get("/v1/versions", tags=["guidance"], response_model=list[VersionOut], summary="The shipped versions")
    async def versions() -> list[dict[str, Any]]:
        """Every shipped version of the guidance, oldest first, as `irmer versions` lists them."""
        return [described(info) for info in service.decider.catalogue]

    @app.get("/v1/criteria/{version}", tags=["guidance"], response_model=CriteriaOut,
             responses={404: {"model": Problem}}, summary="A version's criteria file")
    async def criteria(version: str) -> dict[str, Any]:
        """A version (2023, 2024 or a version id): its dates, its file's SHA-256 and its source."""
        info = service.decider.version(version)
        return {**described(info), "source": info.path.read_text(encoding="utf-8")}

    @app.get("/v1/criteria/{version}/source", tags=["guidance"], response_class=PlainTextResponse,
             responses={404: {"model": Problem}}, summary="A version's criteria file, as text")
    async def criteria_source(version: str) -> PlainTextResponse:
        return PlainTextResponse(service.decider.version(version).path.read_text(encoding="utf-8"))

    @app.get("/v1/criteria/{version}/table", tags=["guidance"], response_class=HTMLResponse,
             responses={404: {"model": Problem}}, summary="A version as the regulator prints the table")
    async def criteria_table(version: str) -> HTMLResponse:
        """The page `irmer render` writes: the regulator's table, each row with its rule and examples."""
        service.decider.version(version)
        return HTMLResponse(await service.limited(functools.partial(service.table, version), "rendering the table"))

    @app.post("/v1/diff", tags=["guidance"], responses={200: {"description": "The report of `irmer diff --format "
                                                                             "json`"}, 404: {"model": Problem}},
              summary="What a new version changes")
    async def diff(request: DiffRequest) -> Response:
        """Each code narrowed, broadened or proved unchanged (z3), with a witness incident for each difference;
        the report `irmer diff OLD NEW --format json` prints."""
        service.decider.version(request.old), service.decider.version(request.new)
        text = await service.limited(functools.partial(service.diff, request.old, request.new, request.renames),
                                     "comparing the versions")
        return Response(text, media_type="application/json")

    @app.get("/v1/schemas/incident", tags=["schemas"], summary="The JSON Schema of an incident")
    async def incident_schema() -> dict[str, Any]:
        """As `irmer schema`: the incident vocabulary's facts, their kinds and units."""
        from ..load import load_vocabulary
        return load_vocabulary().schema()

    @app.get("/v1/schemas/result", tags=["schemas"], summary="The JSON Schema of a result")
    async def result_schema() -> dict[str, Any]:
        from ..result import Result
        return {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://irmer.example/schemas/result.schema.json", **Result.model_json_schema()}

    # ------------------------------------------------------------- operations
    @app.get("/healthz", tags=["operations"], summary="Whether the service can answer")
    async def healthz() -> JSONResponse:
        """200 when the service can decide and log; 503 when the decision log cannot be written."""
        log = service.log
        body = {"status": "ok", "versions": [info.version for info in service.decider.catalogue],
                "decision_log": None if log is None else str(log.path)}
        if log is not None and log.failure:
            return JSONResponse({**body, "status": "failing", "detail": log.failure}, status_code=503)
        return JSONResponse(body)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(service.metrics.text(), media_type=CONTENT_TYPE)

    # ------------------------------------------------------------- the interview page
    async def page(request: Request, fragment: bool) -> HTMLResponse:
        from ..pages import render
        from .interview import Form, interview
        deadline = service.deadline()
        form = Form.parse(await request.body()) if request.method == "POST" else Form()
        ident = request_id(request) or ""
        view, line = await service.limited(
            lambda cancelled: interview(form, service.decider, request_id=ident, path=request.url.path),
            "evaluating the answers", deadline)
        await service.record([line], deadline)
        service.metrics.decisions.labels(criteria=view.result.criteria or "",
                                         verdict=view.verdict.state.replace("-", "_")).inc()
        template = "interview_step.html" if fragment else "interview.html"
        return HTMLResponse(render(template, title="Is this exposure notifiable? — IR(ME)R", page="interview-page",
                                   view=view))

    @app.get("/", include_in_schema=False)
    @app.post("/", include_in_schema=False)
    async def home(request: Request) -> HTMLResponse:
        return await page(request, fragment=False)

    @app.post("/interview", include_in_schema=False)
    async def step(request: Request) -> HTMLResponse:
        return await page(request, fragment=True)

    @app.get("/static/interview.js", include_in_schema=False)
    async def script() -> FileResponse:
        return FileResponse(STATIC / "interview.js", media_type="text/javascript")

    return app
