"""Request bodies parsed and validated off the event loop, large ones in a model worker.

FastAPI parses and validates a declared body on the event loop: a 5 MB body of 150,000
timestamps holds every other request, /healthz included, for a second. Here a dependency reads
the (already size- and depth-checked) body and validates it in the thread pool, or, above
``LARGE`` bytes, in a model worker process under the request's budget, so that however many
large bodies arrive the server's own process only moves bytes. A bad body is still FastAPI's
422 naming the field. The endpoint documents the body itself::

    @router.post("/x", openapi_extra=documented(XRequest))
    async def x(body: XRequest = Depends(body_of(XRequest, runner, budget_s))) -> ...

and the router carries the schemas (``component_schemas``) for ``create_api`` to publish.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from oracle.api.workers import Runner
from oracle.jsonsafe import JsonRejected, excerpt, loads

M = TypeVar("M", bound=BaseModel)
REF = "#/components/schemas/{model}"
LARGE = 256 * 1024  # bodies above this are validated in a model worker
MAX_ERRORS = 20  # validation errors kept per request

Errors = list[dict[str, Any]]


def _short(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    return excerpt(value if isinstance(value, str) else repr(value))


def validated(model: type[M], raw: bytes) -> tuple[M | None, Errors | None, int]:
    """``raw`` as ``model``, or the first validation errors (plain, picklable, inputs cut to
    excerpts) and how many there were."""
    try:
        data = loads(raw)
    except JsonRejected as err:
        return None, [{"loc": ("body",), "type": "json_invalid", "msg": str(err)}], 1
    try:
        return model.model_validate(data), None, 0
    except ValidationError as err:
        errors = err.errors(include_url=False, include_context=False)
        return None, [{"loc": ("body", *e["loc"]), "type": e["type"], "msg": e["msg"],
                       **({"input": _short(e["input"])} if "input" in e else {})}
                      for e in errors[:MAX_ERRORS]], len(errors)


def body_of(model: type[M], runner: Runner,
            budget_s: float) -> Callable[[Request], Awaitable[M]]:
    """A dependency: the request body as ``model``; the request's deadline (monotonic time)
    is kept in ``request.state.deadline`` for the model call that follows."""

    async def parse(request: Request) -> M:
        request.state.deadline = time.monotonic() + budget_s
        raw = await request.body()
        if len(raw) > LARGE:
            body, errors, count = await runner.run(validated, (model, raw), budget_s=budget_s,
                                                   gone=request.is_disconnected)
        else:
            body, errors, count = await run_in_threadpool(validated, model, raw)
        if body is None:
            more = count - len(errors or [])
            tail = [{"loc": ("body",), "type": "more_errors",
                     "msg": f"{more} more errors not shown"}] if more > 0 else []
            raise RequestValidationError([*(errors or []), *tail])
        return body

    parse.__name__ = f"{model.__name__}_body"
    return parse


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the operation's JSON request body."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": REF.format(model=model.__name__)}}}}}


def component_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """The JSON schemas of ``models`` and of every model they nest, by name."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas
