"""The web installer: its own small Bottle app, mounted only while uxwizz is not installed."""
