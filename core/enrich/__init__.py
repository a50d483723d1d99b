"""Enrichment (pure, no Bottle): turn a validated hit into the values stored, or a drop reason.

`pipeline` holds the named step list; the other modules are the small pure helpers it calls
(bot rules, user agent, geo, referrer/UTM/URLs, privacy hashing).
"""
