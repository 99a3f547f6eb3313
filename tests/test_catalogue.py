"""The zh-Hans catalogue is complete and its committed .mo matches the .po (installs need no
gettext tools, so a stale .mo would show English to Chinese users)."""

from pathlib import Path

import polib

import kehu

LC = Path(kehu.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_every_message_is_translated_and_none_is_fuzzy():
    po = polib.pofile(str(LC / "django.po"))
    live = [e for e in po if not e.obsolete]
    assert [e.msgid for e in live if not e.translated()] == []
    assert [e.msgid for e in live if "fuzzy" in e.flags] == []


def test_compiled_catalogue_matches_the_source():
    po = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0)
          for e in polib.pofile(str(LC / "django.po")) if not e.obsolete and e.translated()}
    mo = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0)
          for e in polib.mofile(str(LC / "django.mo")) if e.msgid}
    assert mo == po
