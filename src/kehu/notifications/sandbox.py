"""The tags and filters message templates may use: Django's harmless ones only.

This module is the sandboxed engine's one builtin library (kehu.notifications.templating):
no `load` (so no other library), no `include`/`extends` (no filesystem), no `url`, `debug`
or `csrf_token`, and no `safe` (a value never becomes raw HTML).
"""

from django.template import Library, defaultfilters, defaulttags

register = Library()

TAGS = ("autoescape", "comment", "cycle", "firstof", "for", "if", "ifchanged", "now",
        "spaceless", "templatetag", "verbatim", "with")
FILTERS = ("add", "capfirst", "center", "cut", "date", "default", "default_if_none",
           "divisibleby", "escape", "first", "floatformat", "join", "last", "length",
           "linebreaks", "linebreaksbr", "ljust", "lower", "pluralize", "rjust", "slice",
           "stringformat", "striptags", "time", "title", "truncatechars", "truncatewords",
           "upper", "urlencode", "wordcount", "yesno")

for _name in TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name in FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]
