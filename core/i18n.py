"""Gettext entry point: every user-facing string goes through `_()`.

English is the source language; catalogs in `core/locale/<lang>/LC_MESSAGES/uxwizz.mo`
are picked up when they exist, so templates never need touching to translate.
"""

import gettext
import os

_LOCALE_DIR = os.path.join(os.path.dirname(__file__), "locale")
_translation = gettext.translation("uxwizz", _LOCALE_DIR, fallback=True)


def _(message: str) -> str:
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)
