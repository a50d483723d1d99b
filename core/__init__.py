"""uxwizz: a self-hosted web analytics and UX-insight server."""

__version__ = "0.1.0"
