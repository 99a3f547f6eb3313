import pytest
from django.core.management import call_command
from django.db import connection, transaction

from kehu.core.actor import Actor
from kehu.core.audit import audit_record, audit_verify, diff
from kehu.core.models import AuditEntry
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def _record(n: int):
    for i in range(n):
        audit_record(actor=Actor.system(), action="test.write", object_type="thing",
                     object_id=i, changes={"name": {"before": f"v{i}", "after": f"v{i + 1}"}})


def test_chain_links_each_entry_to_the_previous_one():
    _record(3)
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == "0" * 64
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    assert audit_verify().ok and audit_verify().checked == 3


def test_entries_refuse_update_and_delete_through_the_orm():
    _record(1)
    entry = AuditEntry.objects.get()
    before = db_snapshot()
    entry.action = "forged"
    with pytest.raises(RuntimeError):
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()
    assert db_snapshot() == before
    assert AuditEntry.objects.get().action == "test.write"


def test_rolled_back_change_leaves_no_audit_row():
    with pytest.raises(ValueError), transaction.atomic():
        _record(1)
        raise ValueError("the change failed")
    assert AuditEntry.objects.count() == 0
    _record(1)
    assert AuditEntry.objects.get().seq == 1
    assert audit_verify().ok


def test_verify_command_passes_then_names_the_row_edited_with_raw_sql(capsys):
    _record(4)
    call_command("audit", "verify")
    assert "4 entries verified" in capsys.readouterr().out
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET object_repr = %s WHERE seq = %s", ["x", 2])
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "#2" in err and "content does not match" in err


def test_verify_detects_a_deleted_middle_row_and_a_deleted_newest_row():
    _record(5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE seq = 3")
    report = audit_verify()
    assert (report.ok, report.bad_seq) == (False, 3)
    assert "deleted" in report.reason

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry")
    _record(3)  # head now says seq 8; rows 6-8 exist
    assert not audit_verify().ok


def test_verify_detects_a_deleted_tail():
    _record(3)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE seq = 3")
    report = audit_verify()
    assert not report.ok and report.bad_seq == 3


def test_diff_lists_only_changed_fields():
    assert diff({"a": 1, "b": "x"}, {"a": 1, "b": "y", "c": None}) == {
        "b": {"before": "x", "after": "y"}
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_unbroken_chain():
    """Writers in parallel transactions queue on the head row; no sequence is used twice."""
    import threading

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks; SQLite serialises writers by itself")

    errors = []

    def writer(n):
        from django.db import connections

        try:
            for i in range(15):
                with transaction.atomic():
                    audit_record(actor=Actor.system(), action="test.parallel",
                                 object_type="thing", object_id=f"{n}-{i}")
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    from kehu.core.audit import keyed_mark
    from kehu.core.models import AuditChainHead

    # As the migrations leave it (flushed here): empty, keyed from the first entry.
    AuditChainHead.objects.get_or_create(id=1, defaults={"keyed_from_seq": 1, "keyed_mark": keyed_mark(1)})
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = audit_verify()
    assert report.ok and report.checked == 45
    assert sorted(AuditEntry.objects.values_list("seq", flat=True)) == list(range(1, 46))
