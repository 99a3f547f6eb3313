"""Tag groups: named colours for families of tags ("行业", "兴趣"). A grouped tag takes its
group's colour (copied onto the tag, so every page that shows tags shows it without a join)."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import ValidationFailed
from kehu.core.events import record_change
from kehu.core.normalize import normalize_name
from kehu.customers.models import Tag, TagGroup

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _clean(name: str, color: str) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    clean = normalize_name(name or "")
    if not clean or len(clean) > 60:
        errors["name"] = [_("A name of 1 to 60 characters is needed.")]
    if not _COLOUR.match(color or ""):
        errors["color"] = [_("Enter a colour as #rrggbb.")]
    if errors:
        raise ValidationFailed(details=errors)
    return clean, color.lower()


def tag_group_save(*, actor: Actor, name: str, color: str,
                   group: TagGroup | None = None) -> TagGroup:
    """Create a tag group, or rename / recolour one (its tags take the new colour)."""
    actor.require("segment.manage")
    name, color = _clean(name, color)
    with transaction.atomic():
        clash = TagGroup.objects.filter(name__iexact=name)
        if group is not None:
            clash = clash.exclude(pk=group.pk)
        if clash.exists():
            raise ValidationFailed(details={"name": [_("A tag group with this name exists.")]})
        before = {"name": group.name, "color": group.color} if group else {}
        if group is None:
            group = TagGroup.objects.create(name=name, color=color)
            action = "tag_group.create"
        else:
            group = TagGroup.objects.select_for_update().get(pk=group.pk)
            group.name, group.color = name, color
            group.save(update_fields=["name", "color"])
            action = "tag_group.update"
        recoloured = Tag.objects.filter(group=group).exclude(color=color).update(color=color)
        record_change(actor=actor, action=action, event=f"{action}d",
                      object_type="tag_group", object_id=group.pk,
                      object_repr=group.name,
                      changes={**diff(before, {"name": name, "color": color}),
                              **({"tags_recoloured": {"before": None, "after": recoloured}}
                                 if recoloured else {})})
    return group


def tag_group_delete(*, actor: Actor, group: TagGroup) -> None:
    """Delete a group; its tags stay, ungrouped, in the colour they had."""
    actor.require("segment.manage")
    with transaction.atomic():
        names = list(Tag.objects.filter(group=group).values_list("name", flat=True))
        record_change(actor=actor, action="tag_group.delete", event="tag_group.deleted",
                      object_type="tag_group",
                      object_id=group.pk, object_repr=group.name,
                      changes={"name": {"before": group.name, "after": None},
                              "tags": {"before": names, "after": None}})
        group.delete()


def tag_update(*, actor: Actor, tag: Tag, group: TagGroup | None, color: str = "") -> Tag:
    """Put a tag in a group (it takes the group's colour) or out of one (with its own colour,
    kept when none is given)."""
    actor.require("segment.manage")
    color = color or tag.color
    if group is None and not _COLOUR.match(color):
        raise ValidationFailed(details={"color": [_("Enter a colour as #rrggbb.")]})
    with transaction.atomic():
        tag = Tag.objects.select_for_update().get(pk=tag.pk)
        before = {"group": tag.group.name if tag.group_id else None, "color": tag.color}
        tag.group = group
        tag.color = group.color if group is not None else color.lower()
        tag.save(update_fields=["group", "color"])
        after = {"group": group.name if group else None, "color": tag.color}
        if before != after:
            record_change(actor=actor, action="tag.update", event="tag.updated",
                          object_type="tag", object_id=tag.pk,
                          object_repr=tag.name, changes=diff(before, after))
    return tag
