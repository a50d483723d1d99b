"""Make a recorded page document inert and self-describing before it is stored.

The tracker already strips scripts and masks values; the server does not trust that. Every
snapshot is re-serialised here: scripts, frames, event-handler attributes, `javascript:` URLs,
`<base>` and meta refreshes go; relative URLs become absolute; password values are dropped; the
stylesheet and font URLs it references are listed so the asset fetcher can keep copies.
Pure (stdlib html.parser), no Bottle, no database.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

DROP_WITH_CONTENT = {"script", "noscript", "template", "object", "embed", "applet", "iframe", "frame",
                     "frameset", "portal"}
DROP_TAG = {"base"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
        "track", "wbr"}
URL_ATTRS = {"href", "src", "action", "formaction", "poster", "background", "cite", "data", "xlink:href"}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])([^'"]+)\1""", re.IGNORECASE)
MAX_ASSET_URLS = 200


def safe_url(value: str, base: str) -> str | None:
    """An absolute http(s)/data:image URL, or None for anything that could run code."""
    value = value.strip()
    if value.lower().startswith("data:"):
        return value if re.match(r"data:(image/(png|gif|jpeg|webp|svg\+xml)|font/|application/font)",
                                 value, re.IGNORECASE) else None
    try:
        absolute = urljoin(base, value)
    except ValueError:
        return None
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def css_urls(css: str, base: str) -> list[str]:
    """Stylesheets (@import) and url(...) references of a CSS text, absolute, http(s) only."""
    found = []
    for match in [*_CSS_IMPORT.finditer(css), *_CSS_URL.finditer(css)]:
        url = safe_url(match.group(2), base)
        if url and not url.startswith("data:"):
            found.append(url)
    return found


def rewrite_css_urls(css: str, base: str, mapping: dict[str, str]) -> str:
    """Point url(...)/@import references that `mapping` knows (absolute URL → local path) locally."""

    def swap(match: re.Match[str]) -> str:
        url = safe_url(match.group(2), base)
        if url is None:
            return "url()" if match.re is _CSS_URL else ""
        local = mapping.get(url, url)
        return f'url("{local}")' if match.re is _CSS_URL else f'@import "{local}"'

    return _CSS_URL.sub(swap, _CSS_IMPORT.sub(swap, css))


class _Sanitizer(HTMLParser):
    def __init__(self, base: str):
        super().__init__(convert_charrefs=False)
        self.base = base
        self.out: list[str] = []
        self.skip_depth = 0
        self.skip_tag = ""
        self.in_style = False
        self.assets: list[str] = []

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> str:
        is_password = tag == "input" and any(k == "type" and (v or "").lower() == "password" for k, v in attrs)
        is_stylesheet = tag == "link" and any(
            k == "rel" and "stylesheet" in (v or "").lower() for k, v in attrs)
        parts = []
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on") or name in ("srcdoc", "nonce", "integrity", "ping"):
                continue
            if name == "http-equiv" and (value or "").lower() in ("refresh", "set-cookie",
                                                                  "content-security-policy"):
                return ""
            if is_password and name == "value":
                continue
            if value is None:
                parts.append(f" {name}")
                continue
            if name in URL_ATTRS:
                url = safe_url(value, self.base)
                if url is None:
                    continue
                value = url
                if is_stylesheet and name == "href":
                    self.assets.append(url)
            elif name == "srcset":
                continue  # many URLs in one attribute; `src` is kept and is enough for replay
            elif name == "style":
                self.assets.extend(css_urls(value, self.base))
                if "expression(" in value.lower() or "javascript:" in value.lower():
                    continue
                value = rewrite_css_urls(value, self.base, {})
            parts.append(f' {name}="{escape(value, quote=True)}"')
        return "".join(parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_depth:
            if tag == self.skip_tag:
                self.skip_depth += 1
            return
        if tag in DROP_WITH_CONTENT:
            if tag not in VOID:
                self.skip_depth, self.skip_tag = 1, tag
            return
        if tag in DROP_TAG:
            return
        rendered = self._attrs(tag, attrs)
        if tag == "meta" and rendered == "" and any(k == "http-equiv" for k, _v in attrs):
            return
        self.out.append(f"<{tag}{rendered}>")
        if tag == "style":
            self.in_style = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == self.skip_tag and self.skip_depth == 1 and tag not in VOID:
            self.skip_depth, self.skip_tag = 0, ""

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if not self.skip_depth:
                    self.skip_tag = ""
            return
        if tag in DROP_WITH_CONTENT or tag in DROP_TAG or tag in VOID:
            return
        if tag == "style":
            self.in_style = False
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.in_style:
            self.assets.extend(css_urls(data, self.base))
            # A style element's text is raw: it must not be able to close the element early.
            data = rewrite_css_urls(data, self.base, {})  # relative url()s made absolute
            self.out.append(data.replace("</", "<\\/"))
        else:
            self.out.append(escape(data, quote=False))

    def handle_entityref(self, name: str) -> None:
        if not self.skip_depth:
            self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        if not self.skip_depth:
            self.out.append(f"&#{name};")

    def handle_decl(self, decl: str) -> None:
        if not self.skip_depth and decl.lower().startswith("doctype"):
            self.out.append("<!DOCTYPE html>")

    def handle_comment(self, data: str) -> None:
        pass  # comments are dropped: conditional comments are a way in, and they carry nothing


def sanitize_document(html: str, base_url: str) -> tuple[str, list[str]]:
    """(inert HTML, stylesheet/font URLs it references, deduplicated, at most MAX_ASSET_URLS)."""
    parser = _Sanitizer(base_url)
    parser.feed(html)
    parser.close()
    assets = list(dict.fromkeys(parser.assets))[:MAX_ASSET_URLS]
    return "".join(parser.out), assets


def rewrite_document_assets(html: str, mapping: dict[str, str]) -> str:
    """Serve-time: swap stored absolute asset URLs for local copies (exact attribute matches)."""
    if not mapping:
        return html
    keyed: dict[str, str] = {}
    for url, local in mapping.items():
        keyed[url] = local
        keyed[escape(url, quote=True)] = local  # as it appears inside attributes
    # Whole URLs only: followed by the quote or parenthesis that ends an attribute or url().
    pattern = re.compile("(?:" + "|".join(re.escape(key) for key in sorted(keyed, key=len, reverse=True))
                         + r""")(?=["')&\s])""")
    return pattern.sub(lambda m: keyed[m.group(0)], html)
