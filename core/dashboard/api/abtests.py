"""/api/v1 A/B tests: list and add a site's tests, read/change/delete one (start and stop are a PATCH of
`status`), and its results per variant for a goal."""

from __future__ import annotations

from typing import Any

import bottle

from core import ab_script, accounts
from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.api.common import NULLABLE_TIME_SCHEMA, TIME_SCHEMA, iso, json_object_body
from core.dashboard.api.goals import RANGE_PARAMS, rule_failed, site_query
from core.dashboard.api.spec import QueryParam, ValidationFailed, api_spec
from core.experiments import rules, store
from core.i18n import _
from core.models import AbTest, Goal, Site
from core.numbers import parse_whole
from core.queries import experiments
from core.web import ApiError, json_response

CHANGE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["selector"], "additionalProperties": False,
    "description": "What to change on the elements matching `selector`; at least one of text, styles, attributes.",
    "properties": {
        "selector": {"type": "string", "maxLength": rules.SELECTOR_MAX, "examples": ["h1.hero", "#buy"]},
        "text": {"type": "string", "maxLength": rules.TEXT_MAX, "description": "New text (plain text; no HTML)."},
        "styles": {"type": "object", "maxProperties": rules.MAX_STYLES,
                   "propertyNames": {"enum": sorted(rules.STYLE_PROPERTIES)},
                   "additionalProperties": {"type": "string", "maxLength": rules.STYLE_VALUE_MAX},
                   "description": "CSS values without url(), expression(), javascript:, escapes or < > { } ; @."},
        "attributes": {"type": "object", "maxProperties": rules.MAX_ATTRIBUTES,
                       "propertyNames": {"enum": sorted(rules.ATTRIBUTES)},
                       "additionalProperties": {"type": "string", "maxLength": rules.ATTRIBUTE_VALUE_MAX},
                       "description": "href/src: http(s) or relative URLs only."},
    },
}
VARIANT_INPUT: dict[str, Any] = {
    "type": "object", "required": ["name"], "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "description": "An existing variant to keep (its tag and results stay); its "
                                                 "weight and changes stay too unless sent. Leave out for a new one."},
        "name": {"type": "string", "maxLength": rules.NAME_MAX},
        "weight": {"type": "integer", "minimum": 0, "maximum": 100, "default": 50},
        "changes": {"type": "array", "maxItems": rules.MAX_CHANGES, "items": {"$ref": "#/components/schemas/AbChange"}},
    },
}
_TEST_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": rules.NAME_MAX},
    "page": {"type": "string", "maxLength": rules.PATH_MAX,
             "description": "Path pattern the test runs on (`*` wildcards); empty: every page."},
    "goal_id": {"type": ["integer", "null"], "description": "The goal results use by default."},
    "status": {"type": "string", "enum": ["draft", "running", "stopped"],
               "description": "Only running tests are published in /server/ab/<domain>.ab.js."},
    "variants": {"type": "array", "minItems": 2, "maxItems": rules.MAX_VARIANTS,
                 "items": {"$ref": "#/components/schemas/AbVariantInput"},
                 "description": "The first is the control. In a PATCH the list replaces the variants: "
                                "listed ids are kept, new entries added, the rest deleted."},
}
TEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "site_id", "name", "status", "page", "goal_id", "created_at", "variants"],
    "properties": {
        "id": {"type": "integer"}, "site_id": {"type": "integer"}, "name": {"type": "string"},
        "status": _TEST_FIELDS["status"], "page": {"type": "string"}, "goal_id": {"type": ["integer", "null"]},
        "created_at": TIME_SCHEMA, "started_at": NULLABLE_TIME_SCHEMA, "stopped_at": NULLABLE_TIME_SCHEMA,
        "variants": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "weight": {"type": "integer"},
            "control": {"type": "boolean"},
            "key": {"type": "string", "description": "Random, unique in the test, never reused."},
            "tag": {"type": "string", "description": "The session tag of this variant: AB-<test id>-<key>."},
            "changes": {"type": "array", "items": {"$ref": "#/components/schemas/AbChange"}}}}},
    },
}
RESULTS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["test_id", "goal_id", "from", "to", "variants"],
    "properties": {
        "test_id": {"type": "integer"}, "goal_id": {"type": ["integer", "null"]},
        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "timezone": {"type": "string"}, "method": {"type": "string"},
        "variants": {"type": "array", "items": {"type": "object", "properties": {
            "variant_id": {"type": "integer"}, "name": {"type": "string"}, "tag": {"type": "string"},
            "weight": {"type": "integer"}, "sessions": {"type": "integer"},
            "conversions": {"type": ["integer", "null"]},
            "rate": {"type": ["number", "null"], "description": "Percent."},
            "uplift": {"type": ["number", "null"], "description": "Relative to the control's rate, percent."},
            "p_value": {"type": ["number", "null"], "description": "Two-sided two-proportion z-test vs control."},
            "significant": {"type": "boolean", "description": "p_value < 0.05."}}}},
    },
}


def abtest_out(test: AbTest) -> dict[str, Any]:
    data = store.abtest_json(test)
    for key in ("created_at", "started_at", "stopped_at"):
        data[key] = iso(data[key])
    return data




def visible_test(test_id: int) -> AbTest:
    test = AbTest.get_or_none(AbTest.id == test_id)
    if test is None or not accounts.can_see_site(current_user(), test.site_id):
        raise ApiError(404, "not_found", _("No such A/B test."))
    return test


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)
    spec.schema("AbChange", CHANGE_SCHEMA)
    spec.schema("AbVariantInput", VARIANT_INPUT)
    test_ref = spec.schema("AbTest", TEST_SCHEMA)
    create_ref = spec.schema("AbTestInput", {"type": "object", "required": ["name", "variants"],
                                             "additionalProperties": False, "properties": _TEST_FIELDS})
    patch_ref = spec.schema("AbTestPatch", {"type": "object", "additionalProperties": False,
                                            "properties": _TEST_FIELDS})
    test_list = spec.schema("AbTestList", {"type": "object", "required": ["items"],
                                           "properties": {"items": {"type": "array", "items": test_ref}}})
    results_ref = spec.schema("AbTestResults", RESULTS_SCHEMA)
    database = ctx.database
    db = database.db

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/ab-tests", permission="view", tag="ab-tests",
                response=test_list, summary="A site's A/B tests")
    def list_tests(site_id: int) -> Any:
        tests = AbTest.select().where(AbTest.site == site_id).order_by(AbTest.id.desc())
        return {"items": [abtest_out(test) for test in tests]}

    @spec.route(app, "POST", "/api/v1/sites/{site_id}/ab-tests", permission="manage_ab_tests", tag="ab-tests",
                status=201, request=create_ref, response=test_ref, summary="Add an A/B test",
                description="Starts as a draft unless `status` says otherwise.")
    def create_test(site_id: int) -> Any:
        try:
            test = store.create_test(db, site_id, rules.validate_test(json_object_body()))
        except rules.RuleError as exc:
            raise rule_failed(exc) from None
        ab_script.invalidate(ctx, site_id)
        return json_response(abtest_out(test), 201, headers={"Location": f"/api/v1/ab-tests/{test.id}"})

    @spec.route(app, "GET", "/api/v1/ab-tests/{test_id}", permission="view", tag="ab-tests", response=test_ref,
                summary="One A/B test with its variants")
    def get_test(test_id: int) -> Any:
        return abtest_out(visible_test(test_id))

    @spec.route(app, "PATCH", "/api/v1/ab-tests/{test_id}", permission="manage_ab_tests", tag="ab-tests",
                request=patch_ref, response=test_ref, summary="Change, start or stop an A/B test",
                description='`{"status": "running"}` starts it, `{"status": "stopped"}` stops it.')
    def patch_test(test_id: int) -> Any:
        test = visible_test(test_id)
        try:
            store.update_test(db, test, rules.validate_test(json_object_body(), partial=True))
        except rules.RuleError as exc:
            raise rule_failed(exc) from None
        ab_script.invalidate(ctx, test.site_id)
        return abtest_out(AbTest.get_by_id(test.id))

    @spec.route(app, "DELETE", "/api/v1/ab-tests/{test_id}", permission="manage_ab_tests", tag="ab-tests",
                status=204, summary="Delete an A/B test", description="Its session tags stay on the sessions.")
    def delete_test(test_id: int) -> Any:
        test = visible_test(test_id)
        with db.atomic():
            test.delete_instance()
        ab_script.invalidate(ctx, test.site_id)
        return None

    @spec.route(app, "GET", "/api/v1/ab-tests/{test_id}/results", permission="view", tag="ab-tests",
                response=results_ref, query=(QueryParam("goal", {"type": "integer"},
                                                        "Goal id; default the test's goal."), *RANGE_PARAMS),
                summary="Sessions, conversions, rate, uplift and p-value per variant",
                description="Sessions are those started in the range carrying the variant's tag. Without a goal "
                            "(none given, none set on the test) only sessions are counted.")
    def test_results(test_id: int) -> Any:
        test = visible_test(test_id)
        raw_goal = bottle.request.query.get("goal") or ""
        goal = None
        if raw_goal:
            goal_id = parse_whole(raw_goal)
            if goal_id is None:
                raise ValidationFailed("goal", _("goal must be the id of one of this site's goals"))
            goal = Goal.get_or_none((Goal.id == goal_id) & (Goal.site == test.site_id))
            if goal is None:
                raise ValidationFailed("goal", _("goal must be the id of one of this site's goals"))
        elif test.goal_id:
            goal = Goal.get_or_none(Goal.id == test.goal_id)
        q = site_query(Site.get_by_id(test.site_id), ("goal",))
        return experiments.results(database, q, test, store.variants_of(test), goal)
