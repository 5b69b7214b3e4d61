"""Chinese and English: every sentence marked in the code has its zh-CN translation (the
catalogs are extracted afresh, as `make i18n` does), the placeholders agree, and a visitor
gets the language they chose, else their browser's, else the site's."""

import re
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from launcher import i18n
from launcher.i18n import Reader, negotiate, normalize

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[a-z_0-9]*[^{}]*\}|%\([a-z_]+\)s")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    out = tmp_path_factory.mktemp("pot")
    subprocess.run(
        ["make", "-s", "i18n-extract", f"POT_DIR={out}"], cwd=ROOT, check=True, timeout=120
    )
    return out


@pytest.mark.parametrize("domain", i18n.DOMAINS)
@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT])
def test_every_marked_sentence_has_a_translation(extracted, domain, lang):
    with (extracted / f"{domain}.pot").open("rb") as f:
        wanted = [m for m in read_po(f) if m.id]
    po = ROOT / "launcher" / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"
    with po.open("rb") as f:
        have = read_po(f, locale=lang)
    missing, broken = [], []
    for message in wanted:
        found = have.get(message.id)
        text = found.string if found is not None and not found.fuzzy else None
        texts = text if isinstance(text, tuple) else (text,)
        if not all(texts):
            missing.append(message.id)
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        if any(
            sorted(PLACEHOLDER.findall(ids[-1])) != sorted(PLACEHOLDER.findall(t)) for t in texts
        ):
            broken.append(message.id)
    assert not missing, f"run `make i18n` and translate in {po.relative_to(ROOT)}: {missing}"
    assert not broken, f"the placeholders differ from the English in {po.name}: {broken}"


def test_the_catalogs_are_not_empty(extracted):
    with (extracted / "hub.pot").open("rb") as f:
        assert len([m for m in read_po(f) if m.id]) > 20


@pytest.mark.parametrize(
    "choice, header, default, expected",
    [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "en", "zh_CN"),
        (None, "en-US,en;q=0.9", "zh-CN", "en"),
        ("en", "zh-CN", "en", "en"),  # the switch wins over the browser
        ("zh-CN", "en", "en", "zh_CN"),
        (None, "fr-FR, de;q=0.5", "en", "en"),  # nothing the hub has: the site's default
        (None, "fr-FR, de;q=0.5", "zh-CN", "zh_CN"),
        (None, "en;q=0.5, zh-Hans-CN;q=0.9", "en", "zh_CN"),  # by quality, not by order
        (None, "zh;q=0, en", "zh-CN", "en"),  # q=0: not wanted
        ("klingon", None, "en", "en"),  # a forged cookie falls back
        (None, "", "en", "en"),
    ],
)
def test_negotiate(choice, header, default, expected):
    assert negotiate(choice, header, default) == expected


@pytest.mark.parametrize(
    "tag, expected", [("zh-CN", "zh_CN"), ("zh_cn", "zh_CN"), ("ZH", "zh_CN"), ("en-GB", "en")]
)
def test_normalize(tag, expected):
    assert normalize(tag) == expected


def test_a_reader_reads_chinese_and_english():
    sentence = "Sign in"
    assert Reader("en")._(sentence) == sentence
    assert Reader("zh_CN")._(sentence) not in ("", sentence)
