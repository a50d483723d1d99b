"""/healthz and the security headers every response carries."""

from core.db import open_database


def test_healthz_ok_with_buffer_depth(client):
    response = client.get("/healthz")
    assert response.status_int == 200
    assert response.json["status"] == "ok" and response.json["database"] == "ok"
    assert isinstance(response.json["buffer_depth"], int)
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_503_when_the_database_is_broken(app, client, installed_settings):
    other = open_database(installed_settings["database.url"], installed_settings.base_dir)
    other.db.execute_sql("DROP TABLE schema_migrations")
    other.close()
    response = client.get("/healthz", status=503)
    assert response.json["status"] == "unavailable"


def test_security_headers_on_pages_errors_and_redirects(client):
    for path, status in (("/login", 200), ("/nope", 404), ("/", 302)):
        response = client.get(path, status=status)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        csp = response.headers["Content-Security-Policy"]
        script_src = [d for d in csp.split(";") if d.strip().startswith("script-src")][0]
        assert "'unsafe-inline'" not in script_src and "frame-ancestors 'none'" in csp, path


def test_templates_escape_and_contain_no_inline_script(admin_client):
    page = admin_client.get("/")
    assert "<script>" not in page.text  # only <script src=…>
    assert 'src="/static/js/app.js' in page.text


def test_unknown_api_paths_answer_json(client):
    response = client.get("/api/v1/does-not-exist", status=404)
    assert response.content_type == "application/json" and response.json["error"] == "not_found"
