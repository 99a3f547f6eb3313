"""Key the audit chain: entries appended from now on are HMAC-SHA256 with KEHU_AUDIT_KEY
(kept outside the database); the existing entries stay plain SHA-256 and keep verifying.
The head records where the keyed segment starts, sealed with an HMAC of that number."""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models
from django.db.models import Max


def mark_keyed_segment(apps, schema_editor):
    Head = apps.get_model("core", "AuditChainHead")
    Entry = apps.get_model("core", "AuditEntry")
    head, _created = Head.objects.get_or_create(
        id=1, defaults={"last_seq": 0, "last_hash": "0" * 64})
    start = (Entry.objects.aggregate(top=Max("seq"))["top"] or 0) + 1
    # As kehu.core.audit.keyed_mark computes it (kept here so the migration stands alone).
    mark = hmac.new(settings.KEHU_AUDIT_KEY.encode("utf-8"),
                    f"kehu-audit-keyed-from:{start}".encode(), hashlib.sha256).hexdigest()
    head.keyed_from_seq, head.keyed_mark = start, mark
    head.save(update_fields=["keyed_from_seq", "keyed_mark"])


def unmark(apps, schema_editor):
    apps.get_model("core", "AuditChainHead").objects.update(keyed_from_seq=None, keyed_mark="")


class Migration(migrations.Migration):
    dependencies = [("core", "0005_domain_events")]
    operations = [
        migrations.AddField("auditchainhead", "keyed_from_seq",
                            models.PositiveBigIntegerField(blank=True, null=True)),
        migrations.AddField("auditchainhead", "keyed_mark",
                            models.CharField(blank=True, max_length=64)),
        migrations.RunPython(mark_keyed_segment, unmark),
    ]
