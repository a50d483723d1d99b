"""`uxwizz.py seed`: fills a site (created if missing) and its rollups; bad arguments exit 1 with a reason."""

from __future__ import annotations

from core.cli import main
from core.db import open_database
from core.models import DailyStat, Pageview, Session, Site


def test_seed_creates_the_site_and_rolls_it_up(installed_settings, capsys):
    code = main(["seed", "--config", installed_settings.config_path, "--sessions", "40", "--days", "3",
                 "--site", "Demo.Example"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Added 40 sessions" in out.out + out.err
    database = open_database(installed_settings["database.url"], installed_settings.base_dir)
    try:
        site = Site.get(Site.domain == "demo.example")
        assert Session.select().where(Session.site == site.id).count() == 40
        assert Pageview.select().where(Pageview.site == site.id).count() >= 40
        assert DailyStat.select().where(DailyStat.site == site.id).count() >= 3
    finally:
        database.close()


def test_seed_refuses_bad_arguments(installed_settings, capsys):
    assert main(["seed", "--config", installed_settings.config_path, "--sessions", "0"]) == 1
    assert "--sessions must be between" in capsys.readouterr().err
    assert main(["seed", "--config", installed_settings.config_path, "--days", "99999"]) == 1
    assert "--days must be between" in capsys.readouterr().err
