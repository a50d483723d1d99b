"""All models, in dependency order. `bind_models(db)` attaches a database to every one."""

from __future__ import annotations

import peewee

from .accounts import ApiToken, LoginSession, SiteAccess, User
from .analytics import (
    ANALYTICS_MODELS,
    CollectBatch,
    Event,
    HeatmapPoint,
    Pageview,
    RecordingChunk,
    Session,
    SessionTag,
)
from .base import BaseModel, JSONField, MediumBlobField, utcnow
from .experiments import EXPERIMENT_MODELS, AbTest, AbVariant, Goal
from .heatmaps import HEATMAP_MODELS
from .keyvalue import KeyValue
from .recordings import RECORDING_MODELS
from .rollups import EVENT_GRAINS, ROLLUP_MODELS, DailyBreakdown, DailyEvent, DailyEventTime, DailyStat, DailyTag
from .segments import SEGMENT_MODELS, Segment, WatchedSession
from .site import Site

ALL_MODELS: list[type[BaseModel]] = [Site, User, SiteAccess, LoginSession, ApiToken, KeyValue, *ANALYTICS_MODELS,
                                     *RECORDING_MODELS, *HEATMAP_MODELS, *SEGMENT_MODELS, *ROLLUP_MODELS,
                                     *EXPERIMENT_MODELS]


def register_models(*models: type[BaseModel]) -> None:
    """Add models from other packages (analytics tables) to the bound set, keeping order."""
    for model in models:
        if model not in ALL_MODELS:
            ALL_MODELS.append(model)


def bind_models(db: peewee.Database) -> None:
    db.bind(ALL_MODELS, bind_refs=False, bind_backrefs=False)


__all__ = [
    "ALL_MODELS", "ANALYTICS_MODELS", "AbTest", "AbVariant", "Goal", "CollectBatch", "Event", "HeatmapPoint", "Pageview",
    "RecordingChunk", "Session", "SessionTag", "ApiToken", "BaseModel", "JSONField", "KeyValue", "LoginSession", "Site",
    "SiteAccess", "User", "bind_models", "register_models", "utcnow", "DailyBreakdown", "DailyStat", "DailyEvent", "DailyEventTime", "DailyTag", "EVENT_GRAINS", "Segment",
    "WatchedSession", "MediumBlobField",
]
