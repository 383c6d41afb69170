"""The models routes of ``/v1``: list the loaded models, get one, draw one, validate a
posted one.

Validation compiles the posted text (YAML or JSON) exactly as the loader compiles a file and
answers 200 either way: ``valid`` with the model's description, or every problem with its
line and column. Nothing is loaded into the server by validating, and nothing a posted
model names is imported or run: its code units (``python:``) are reported as problems
("code units are not loaded from posted models"). The text is read under the reading limits
of posted models (``POSTED_LIMITS``, docs/models.md "Limits"): a text over one of them is a
400 ``bad_request`` with the limit and the line. The compiling runs in a worker thread (at
most two at a time), so a slow one never stalls the event loop, and is abandoned with a 400
after ``COMPILE_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialoghub.errors import GraphvizMissing, ModelValidationError, Problem, UnknownModel
from dialoghub.model.diagram import to_dot, to_mermaid, to_svg
from dialoghub.model.loader import ModelTooComplex, load_model_text
from dialoghub.model.source import POSTED_LIMITS
from dialoghub.model.spec import Model
from dialoghub.server.auth import Principal
from dialoghub.server.endpoint import Body, Param, endpoint
from dialoghub.server.errors import BadRequest, NotFound
from dialoghub.server.limits import read_body
from dialoghub.server.schemas import ModelInfo, ModelList, ProblemOut, ValidateResult
from dialoghub.server.service import Service

__all__ = ["COMPILE_TIMEOUT", "routes"]

#: seconds a posted model may take to compile (queueing included) before it is refused
COMPILE_TIMEOUT = 5.0

_MODEL_ID = Param.path("model_id", "The model id.")

_compiler = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dialoghub-validate")


async def _compile(text: str) -> Model:
    """``load_model_text`` in a worker thread, with no code base (no code units), bounded."""
    future = _compiler.submit(load_model_text, text, "<posted>", limits=POSTED_LIMITS)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), COMPILE_TIMEOUT)
    except TimeoutError:
        future.cancel()  # if it is still queued; a running one ends within the reading limits
        raise BadRequest(
            f"the model took longer than {COMPILE_TIMEOUT:g} s to compile; make it smaller",
            timeout=COMPILE_TIMEOUT,
        ) from None


@endpoint("/v1/models", "read", tag="models")
async def list_models(service: Service, request: Request, who: Principal) -> ModelList:
    """Every loaded model with its version, language and audio sample rate."""
    models = sorted(service.hub.models.values(), key=lambda m: m.id)
    return ModelList(models=[service.model_info(m) for m in models])


@endpoint("/v1/models/{model_id}", "read", tag="models", params=[_MODEL_ID])
async def get_model(service: Service, request: Request, who: Principal) -> ModelInfo:
    """One loaded model."""
    model_id: str = _MODEL_ID.read(request)
    model = service.hub.models.get(model_id)
    if model is None:
        raise UnknownModel(model_id, list(service.hub.models))
    return service.model_info(model)


_FORMAT = Param.query(
    "format",
    "svg (drawn by Graphviz), dot or mermaid.",
    choices=("svg", "dot", "mermaid"),
    default="svg",
    error=BadRequest,
)
_DRAWN = {"svg": "image/svg+xml", "dot": "text/vnd.graphviz", "mermaid": "text/plain"}
# (model id, version, format) -> drawing: a model's drawing never changes, so it is drawn
# once (Graphviz takes tens of milliseconds) in a worker thread; bounded by the loaded models.
_drawings: dict[tuple[str, str, str], str] = {}


@endpoint(
    "/v1/models/{model_id}/diagram",
    "read",
    tag="models",
    params=[_MODEL_ID, _FORMAT],
    produces="image/svg+xml",
    answer_doc="The drawing (SVG, DOT or Mermaid text); an SVG node's <title> is UNIT/STATE",
)
async def draw_model(service: Service, request: Request, who: Principal) -> Response:
    """A loaded model's diagram: its states, transitions, waits and commands."""
    model_id: str = _MODEL_ID.read(request)
    model = service.hub.models.get(model_id)
    if model is None:
        raise UnknownModel(model_id, list(service.hub.models))
    kind: str = _FORMAT.read(request)
    key = (model.id, model.version, kind)
    drawing = _drawings.get(key)
    if drawing is None:
        draw = {"svg": to_svg, "dot": to_dot, "mermaid": to_mermaid}[kind]
        try:
            drawing = await asyncio.get_running_loop().run_in_executor(_compiler, draw, model)
        except GraphvizMissing as exc:
            raise NotFound(exc.message, format=kind) from None
        if len(_drawings) >= 4 * max(1, len(service.hub.models)):
            _drawings.clear()  # models were reloaded many times: start over
        _drawings[key] = drawing
    return Response(drawing, media_type=_DRAWN[kind], headers={"Cache-Control": "no-cache"})


# The body is text, read here (not decoded as JSON): it is documented by its description.
@endpoint(
    "/v1/models/validate",
    "read",
    tag="models",
    body=Body(None, media_type="application/yaml", description="The model as YAML (or JSON) text."),
)
async def validate_model(service: Service, request: Request, who: Principal) -> ValidateResult:
    """Compile a posted model (YAML or JSON text) and report every problem."""
    raw = await read_body(request, service.settings.max_body_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the model is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise BadRequest("post the model's YAML or JSON text as the request body")
    try:
        model = await _compile(text)
    except ModelTooComplex as exc:
        p = exc.problems[0]
        raise BadRequest(
            f"the model is over a reading limit: {p.message} (line {p.line}, column {p.column})",
            limit=exc.limit,
            line=p.line,
            column=p.column,
        ) from None
    except ModelValidationError as exc:
        return ValidateResult(valid=False, problems=[_located(p) for p in exc.problems])
    return ValidateResult(valid=True, model=service.model_info(model),
                          warnings=[_located(w) for w in model.warnings])


def _located(p: Problem) -> ProblemOut:
    """A loading problem or warning as the API shows it."""
    return ProblemOut(message=p.message, file=p.file, line=p.line, column=p.column, path=p.path)


routes = [
    Route("/v1/models", list_models, methods=["GET"], name="list_models"),
    Route("/v1/models/validate", validate_model, methods=["POST"], name="validate_model"),
    Route("/v1/models/{model_id}", get_model, methods=["GET"], name="get_model"),
    Route("/v1/models/{model_id}/diagram", draw_model, methods=["GET"], name="draw_model"),
]
