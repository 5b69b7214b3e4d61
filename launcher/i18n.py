"""Chinese and English for everything a person reads: gettext catalogs made with Babel.

The sentences are English in the code, marked ``_("...")`` (or ``N_("...")`` where the text
is kept and translated later); ``make i18n`` extracts them into ``launcher/locale/*.pot`` and
updates each language's ``.po`` (tests/unit/test_i18n.py fails while one has no translation).
There are two catalogs (gettext domains), merged at run time: ``hub`` (the hub's pages,
progress messages and refusals: launcher/hub, gpu, images, ...) and ``pages`` (the service
pages: launcher/services). The ``.po`` files are read directly (compiled in memory), so there
is no build step and nothing generated in the tree.

Who reads which language: :func:`negotiate` takes the visitor's own choice (the switch on
every page, remembered in the ``launcher-lang`` cookie) before the browser's
``Accept-Language``, and the site's ``hub.language`` when neither names a language the hub
has. English is the language of the code, hence always complete.
"""

from __future__ import annotations

import ast
import gettext
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path

from launcher import localtime

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAINS = ("hub", "pages")
#: gettext language code -> the tag a browser sends and HTML's ``lang`` attribute
LANGUAGES = {"en": "en", "zh_CN": "zh-CN"}
#: each language's name, in that language (the switch shows these)
NAMES = {"en": "English", "zh_CN": "中文"}
DEFAULT = "en"
#: the cookie that remembers a visitor's choice (set by the switch, read by the hub and pages)
COOKIE = "launcher-lang"
#: a year: the choice is remembered on this browser
COOKIE_DAYS = 365


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it here (a constant translated
    where it is shown)."""
    return message


def normalize(tag: str | None) -> str | None:
    """The hub's language for a tag such as ``zh-CN``, ``zh_cn``, ``zh-Hans-CN``, ``zh`` or
    ``en-GB``; None when the hub has no such language."""
    if not tag:
        return None
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "zh":
        return "zh_CN"  # the one Chinese catalog (simplified)
    if parts[0] == "en":
        return "en"
    return None


def accepted(header: str | None) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first (q=0 dropped)."""
    found = []
    for order, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            found.append((-quality, order, tag))
    return [tag for _, _, tag in sorted(found)]


def negotiate(choice: str | None, accept_language: str | None, default: str = DEFAULT) -> str:
    """The visitor's language: their choice, else the first of the browser's languages the
    hub has, else the site's default."""
    for tag in [choice, *accepted(accept_language)]:
        found = normalize(tag)
        if found:
            return found
    return normalize(default) or DEFAULT


def from_request(request, default: str = DEFAULT) -> str:
    """The language of a Tornado request (the cookie, then ``Accept-Language``)."""
    cookie = request.cookies.get(COOKIE)
    return negotiate(
        cookie.value if cookie else None, request.headers.get("Accept-Language"), default
    )


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The merged catalogs of ``lang`` (English: the code's own text)."""
    if lang == DEFAULT or lang not in LANGUAGES:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    merged = None
    for domain in DOMAINS:
        path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
        if not path.exists():
            continue
        with path.open("rb") as po:
            catalog = read_po(po, locale=lang, domain=domain)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
        buffer.seek(0)
        found = gettext.GNUTranslations(buffer)
        if merged is None:
            merged = found
        else:
            merged._catalog.update(found._catalog)  # one catalog per language
    return merged or gettext.NullTranslations()


@dataclass(frozen=True)
class Reader:
    """Who reads a sentence: their language and the site's time zone. ``_`` translates,
    ``clock``/``when`` show times in the zone."""

    lang: str = DEFAULT
    zone: tzinfo | str = localtime.DEFAULT_ZONE

    @property
    def tag(self) -> str:
        """The language's tag for HTML ``lang`` and HTTP (``zh-CN``)."""
        return LANGUAGES.get(self.lang, "en")

    def _(self, message: str) -> str:
        return translations(self.lang).gettext(message)

    gettext = _

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.lang).ngettext(singular, plural, n)

    def clock(self, at: datetime, seconds: bool = False) -> str:
        return localtime.clock(at, self.zone, seconds)

    def when(self, at: datetime) -> str:
        return localtime.when(at, self.zone)


ENGLISH = Reader()


_TEMPLATE_CALL = re.compile(r"""\b(_|N_)\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


def extract_tornado(fileobj, keywords, comment_tags, options):
    """Babel extractor for Tornado templates (the service pages): every ``_("...")`` or
    ``N_("...")`` with a literal string; ``{{ _("Hello") }}`` and ``{% raw _("...") %}``."""
    text = fileobj.read().decode(options.get("encoding", "utf-8"))
    for found in _TEMPLATE_CALL.finditer(text):
        line = text.count("\n", 0, found.start()) + 1
        yield line, found.group(1), ast.literal_eval(found.group(2)), []


#: what a builder of sentences takes: ``_`` of a Reader (or ``str`` for English)
Translate = Callable[[str], str]
