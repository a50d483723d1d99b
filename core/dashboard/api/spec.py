"""The /api/v1 route table: one declaration registers a route AND describes it in OpenAPI.

Every endpoint is added with `ApiSpec.route(...)`, which installs the Bottle route and records
its method, path, permission, parameters and schemas; `/api/v1/openapi.json` is generated from
the same records, so the document cannot drift from the routes.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bottle

from core import __version__
from core.context import AppContext
from core.web import json_response

PREFIX = "/api/v1"
_PARAM = re.compile(r"\{(\w+)(?::(int|str))?\}")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "Machine-readable code, e.g. invalid, not_found."},
        "detail": {"type": "string", "description": "What went wrong, in words."},
        "field": {"type": "string", "description": "The request field that was rejected (422 only)."},
    },
}
ERROR_TEXT = {
    400: "The request body is not valid JSON or not a JSON object.",
    401: "No valid session cookie or bearer token.",
    403: "The user's level does not allow this (or the CSRF token is missing on a cookie request).",
    404: "No such object, or not visible to this user.",
    413: "The request body is too large.",
    409: "The request conflicts with the current state.",
    422: "A field is invalid, or a rule forbids the change; `field` names it.",
}


class ValidationFailed(Exception):
    """A request field is invalid: 422 with `field` naming it. Nothing has been stored."""

    def __init__(self, field_name: str, detail: str):
        super().__init__(detail)
        self.field = field_name
        self.detail = detail


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass
class Endpoint:
    method: str
    path: str  # OpenAPI form: /api/v1/sites/{site_id}
    permission: str
    summary: str
    tag: str
    status: int = 200
    response: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    query: tuple[QueryParam, ...] = ()
    description: str = ""
    path_params: dict[str, str] = field(default_factory=dict)  # name -> "int" | "str"
    errors: tuple[int, ...] = ()  # error statuses beyond those implied by permission, path and body

    @property
    def bottle_rule(self) -> str:
        return _PARAM.sub(lambda m: f"<{m.group(1)}:int>" if (m.group(2) or "int") == "int"
                          else f"<{m.group(1)}>", self.path)

    @property
    def openapi_path(self) -> str:
        return _PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)

    @property
    def error_statuses(self) -> list[int]:
        statuses = set()
        if self.permission != "public":
            statuses |= {401, 403}
        if self.path_params:
            statuses.add(404)
        if self.request is not None:
            statuses |= {400, 413, 422}
        if self.query:
            statuses.add(422)
        return sorted(statuses | set(self.errors))


class ApiSpec:
    """The endpoints and named schemas of one app's API (kept in ctx.services["api_spec"])."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []
        self.schemas: dict[str, dict[str, Any]] = {"Error": ERROR_SCHEMA}

    def schema(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        """Register a named component schema; returns a `$ref` to use in endpoints."""
        if name in self.schemas and self.schemas[name] != schema:
            raise ValueError(f"API schema {name!r} is defined twice, differently")
        self.schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    def route(self, app: bottle.Bottle, method: str, path: str, *, permission: str, summary: str,
              tag: str, status: int = 200, response: dict[str, Any] | None = None,
              request: dict[str, Any] | None = None, query: tuple[QueryParam, ...] = (),
              description: str = "", errors: tuple[int, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: install `handler` at PREFIX + path and describe it.

        The handler returns plain data (serialised as JSON with `status`) or a bottle response;
        it raises ValidationFailed for 422 and core.web.ApiError for other errors. Statuses not
        implied by the permission (401/403), path ids (404) or a body (400/413/422) go in `errors`.
        """
        if not path.startswith(PREFIX + "/"):
            raise ValueError(f"API paths start with {PREFIX}/: {path}")
        endpoint = Endpoint(
            method=method.upper(), path=path, permission=permission, summary=summary, tag=tag,
            status=status, response=response, request=request, query=query, description=description,
            path_params={m.group(1): m.group(2) or "int" for m in _PARAM.finditer(path)}, errors=errors,
        )
        unknown = set(errors) - set(ERROR_TEXT)
        if unknown:
            raise ValueError(f"{method} {path}: no description for error statuses {sorted(unknown)}")

        def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(handler)
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                try:
                    result = handler(*args, **kwargs)
                except ValidationFailed as exc:
                    return json_response({"error": "invalid", "detail": exc.detail, "field": exc.field}, 422)
                if isinstance(result, bottle.BaseResponse):
                    return result
                if result is None:
                    return bottle.HTTPResponse(status=status)
                return json_response(result, status)

            app.route(endpoint.bottle_rule, endpoint.method, wrapped, permission=permission, api=True)
            self.endpoints.append(endpoint)
            return handler

        return decorate

    def document(self, base_url: str = "") -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for endpoint in self.endpoints:
            paths.setdefault(endpoint.openapi_path, {})[endpoint.method.lower()] = self._operation(endpoint)
        doc: dict[str, Any] = {
            "openapi": "3.1.0",
            "info": {
                "title": "uxwizz REST API",
                "version": __version__,
                "description": (
                    "Authenticate with `Authorization: Bearer uxw_…` (tokens are created on the "
                    "dashboard's API tokens page and carry their user's rights) or with the dashboard "
                    "session cookie, which also needs the `X-CSRF-Token` header on requests that "
                    "change data. Errors are `{\"error\": code, \"detail\": text}`; times are "
                    "ISO 8601 UTC with `Z`; lists are objects with `items`."
                ),
            },
            "paths": dict(sorted(paths.items())),
            "components": {
                "schemas": copy.deepcopy(self.schemas),
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer",
                                   "description": "An API token, `uxw_…`."},
                    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "uxwizz_session",
                                   "description": "The dashboard login; send X-CSRF-Token on writes."},
                },
            },
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        }
        if base_url:
            doc["servers"] = [{"url": base_url.rstrip("/")}]
        return doc

    def _operation(self, endpoint: Endpoint) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "operationId": _operation_id(endpoint),
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "x-permission": endpoint.permission,
        }
        if endpoint.description:
            operation["description"] = endpoint.description
        if endpoint.permission == "public":
            operation["security"] = []
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1} if kind == "int" else {"type": "string"}}
            for name, kind in endpoint.path_params.items()
        ]
        parameters += [
            {"name": q.name, "in": "query", "required": q.required, "schema": q.schema,
             **({"description": q.description} if q.description else {})}
            for q in endpoint.query
        ]
        if parameters:
            operation["parameters"] = parameters
        if endpoint.request is not None:
            operation["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": endpoint.request}}}
        success: dict[str, Any] = {"description": "OK" if endpoint.status != 201 else "Created"}
        if endpoint.status == 204:
            success["description"] = "Done; no content."
        elif endpoint.response is not None:
            success["content"] = {"application/json": {"schema": endpoint.response}}
        responses: dict[str, Any] = {str(endpoint.status): success}
        for status in endpoint.error_statuses:
            responses[str(status)] = {
                "description": ERROR_TEXT[status],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        operation["responses"] = responses
        return operation


def _operation_id(endpoint: Endpoint) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", endpoint.openapi_path[len(PREFIX):]) if w]
    return endpoint.method.lower() + "".join(w[:1].upper() + w[1:] for w in words)


def api_spec(ctx: AppContext) -> ApiSpec:
    """The app's API table; resource modules add their endpoints to it."""
    spec = ctx.services.get("api_spec")
    if spec is None:
        spec = ctx.services["api_spec"] = ApiSpec()
    return spec
