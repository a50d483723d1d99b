"""Access levels 0-5 and what each may do (UXWizz's levels, made explicit).

Every dashboard route and API call declares one permission from PERMISSIONS; the access
check compares the user's level with it, and site-scoped routes also check site access.
"""

from __future__ import annotations

ROOT, ADMIN, ANALYST, SHARE, READ_ONLY = 5, 4, 3, 1, 0

LEVEL_NAMES = {
    5: "root",
    4: "admin",
    3: "analyst",
    2: "share+",
    1: "share",
    0: "read-only",
}

# permission -> minimum level. "public" needs no login; "login" needs any logged-in user.
PERMISSIONS: dict[str, int] = {
    "view": READ_ONLY,  # stats, sessions, recordings, heatmaps of granted sites
    "own_account": READ_ONLY,  # own password and API tokens
    "share_recordings": SHARE,
    "manage_tags": ANALYST,  # add/remove session tags
    "delete_sessions": ANALYST,
    "record_limits": ANALYST,
    "manage_segments": ANALYST,
    "manage_sites": ADMIN,  # add/edit/remove sites and their tracking settings
    "manage_users": ADMIN,
    "manage_ab_tests": ADMIN,
    "manage_goals": ADMIN,
    "global_settings": ROOT,
}

# Levels that see every site; below this, only sites granted through site_access.
ALL_SITES_LEVEL = ADMIN


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level, str(level))


def allows(level: int, permission: str) -> bool:
    return level >= PERMISSIONS[permission]


def can_assign_level(actor_level: int, target_level: int) -> bool:
    """Admins manage users below root; only root creates or edits root users."""
    return actor_level >= ADMIN and (target_level < ROOT or actor_level == ROOT)
