"""The OpenAPI document is valid, public, and lists exactly the /api/v1 routes the app serves."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from core.permissions import PERMISSIONS


def served_api_routes(app) -> set[tuple[str, str]]:
    """(METHOD, path in OpenAPI form) for every Bottle route under /api/v1."""
    routes = set()
    for route in app._wsgi.routes:
        if route.rule.startswith("/api/v1/") or route.rule == "/api/v1":
            path = re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", route.rule)
            routes.add((route.method.upper(), path))
    return routes


def test_document_is_public_and_valid_openapi(client):
    response = client.get("/api/v1/openapi.json", status=200)
    assert response.content_type == "application/json"
    doc = response.json
    validate(doc)  # raises on any OpenAPI 3.1 violation
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"] == [{"url": "http://localhost:80"}]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer" and schemes["cookieAuth"]["in"] == "cookie"


def test_every_served_route_is_documented_and_vice_versa(app, client):
    doc = client.get("/api/v1/openapi.json").json
    documented = {(method.upper(), path) for path, operations in doc["paths"].items() for method in operations}
    served = served_api_routes(app)
    assert served - documented == set(), "routes missing from openapi.json (add them with ApiSpec.route)"
    assert documented - served == set(), "openapi.json describes routes the app does not serve"
    assert {("GET", "/api/v1/me"), ("GET", "/api/v1/sites"), ("POST", "/api/v1/sites"),
            ("GET", "/api/v1/sites/{site_id}"), ("PATCH", "/api/v1/sites/{site_id}"),
            ("DELETE", "/api/v1/sites/{site_id}"), ("GET", "/api/v1/openapi.json")} <= served


def test_a_route_added_around_the_table_is_caught(app, client):
    app._wsgi.route("/api/v1/rogue", "GET", lambda: {}, permission="public")
    doc = client.get("/api/v1/openapi.json").json
    documented = {(method.upper(), path) for path, operations in doc["paths"].items() for method in operations}
    assert served_api_routes(app) - documented == {("GET", "/api/v1/rogue")}


def test_operations_declare_permission_security_and_errors(app, client):
    doc = client.get("/api/v1/openapi.json").json
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            permission = operation["x-permission"]
            assert permission in PERMISSIONS or permission in ("public", "login"), (method, path)
            rule = next(r for r in app._wsgi.routes if r.method == method.upper()
                        and re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", r.rule) == path)
            assert rule.config["permission"] == permission, (method, path)
            if permission == "public":
                assert operation["security"] == []
            else:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
            if "requestBody" in operation:
                assert "422" in operation["responses"] and "400" in operation["responses"], (method, path)
            assert operation["operationId"]
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_document_follows_the_base_url_setting(installed_settings):
    import webtest

    from core.app import create_app

    application = create_app(installed_settings.replace({"server.base_url": "https://stats.example.org/"}))
    try:
        doc = webtest.TestApp(application).get("/api/v1/openapi.json").json
        assert doc["servers"] == [{"url": "https://stats.example.org"}]
    finally:
        application.shutdown()
