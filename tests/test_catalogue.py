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


_SINGULAR = {"_", "_lazy", "gettext", "gettext_lazy", "gettext_noop"}
_CONTEXT = {"pgettext", "pgettext_lazy"}
_PLURAL = {"ngettext", "ngettext_lazy"}


def _source_messages() -> set[tuple[str | None, str]]:
    """(context, msgid) of every literal message the Python sources mark for translation."""
    import ast

    found: set[tuple[str | None, str]] = set()
    for path in Path(kehu.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            args = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    else None for a in node.args]
            name = node.func.id
            if name in _SINGULAR and args and args[0] is not None:
                found.add((None, args[0]))
            elif name in _CONTEXT and len(args) > 1 and None not in args[:2]:
                found.add((args[0], args[1]))
            elif name in _PLURAL and args and args[0] is not None:
                found.add((None, args[0]))
    return found


def test_every_message_in_the_python_sources_is_in_the_catalogue():
    """Catches a new message whose makemessages run was forgotten (the .po would still be
    complete, and Chinese users would see English)."""
    po = {(e.msgctxt, e.msgid) for e in polib.pofile(str(LC / "django.po"))
          if not e.obsolete and e.translated()}
    assert sorted(_source_messages() - po) == []
