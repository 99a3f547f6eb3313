import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.audit import audit_record
from kehu.interactions.models import FollowUpTask
from tests.factories import PASSWORD, TeamFactory, create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def test_login_then_home_is_the_reps_start_page(client, make_user):
    team = TeamFactory(name="华东销售组")
    me = make_user("sales_rep", team=team, display_name="李娜")
    other = make_user("sales_rep", team=team, display_name="王强")
    mine = create_customer(owner=me, name="张伟", lifecycle_stage="prospect")
    create_customer(owner=other, name="王芳")
    today = timezone.localdate()
    FollowUpTask.objects.create(customer=mine, assignee=me, title="回访报价",
                                due_date=today - dt.timedelta(days=400))
    FollowUpTask.objects.create(customer=mine, assignee=me, title="发合同", due_date=today)
    response = client.post(reverse("web:login"), {"username": me.username, "password": PASSWORD},
                           follow=True)
    assert response.redirect_chain[-1][0] == reverse("web:home")
    page = response.content.decode()
    home = response.context["home"]
    assert {f.key: f.value for f in home.figures} == {
        "my_customers": 1, "overdue": 1, "due_today": 1, "new": 1, "segments": 0}
    assert [c.name for c in home.recent_customers] == ["张伟"]  # mine only, not 王芳
    assert "李娜" in page and "华东销售组" in page and "本人的记录" in page  # the scope's label
    assert "意向" in page and "prospect" not in page
    # Last year's date keeps its year; this year's would not need it.
    assert (today - dt.timedelta(days=400)).isoformat() in page
    assert "回访报价" in page and "发合同" in page
    assert 'data-testid="recent-audit"' not in page  # no raw audit feed


def test_home_figures_follow_the_role(client, make_user):
    team = TeamFactory(name="华东销售组")
    manager = make_user("sales_manager", team=team, display_name="伍婷婷")
    rep = make_user("sales_rep", team=team, display_name="王强")
    customer = create_customer(owner=rep, name="张伟")
    FollowUpTask.objects.create(customer=customer, assignee=rep, title="回访",
                                due_date=timezone.localdate() - dt.timedelta(days=2))
    client.force_login(manager)
    home = client.get(reverse("web:home")).context["home"]
    figures = {f.key: f.value for f in home.figures}
    assert "duplicates" in figures and "open_tickets" not in figures
    # The manager's own book is empty; the team's is not, and its overdue task shows.
    assert (figures["my_customers"], figures["in_scope"], figures["overdue"],
            figures["overdue_all"]) == (0, 1, 0, 1)
    assert {str(m) for m in home.team_members} >= {"伍婷婷", "王强"}

    client.force_login(make_user("service_agent"))
    keys = [f.key for f in client.get(reverse("web:home")).context["home"].figures]
    assert "open_tickets" in keys and "duplicates" not in keys and "segments" not in keys


def test_wrong_password_shows_an_error_and_no_session(client, make_user):
    me = make_user("sales_rep")
    response = client.post(reverse("web:login"), {"username": me.username, "password": "nope"})
    assert response.status_code == 200
    assert 'data-testid="login-error"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_repeated_failures_lock_the_account_even_with_the_right_password(client, make_user,
                                                                         settings):
    me = make_user("sales_rep")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("web:login"), {"username": me.username, "password": "wrong"})
    response = client.post(reverse("web:login"), {"username": me.username, "password": PASSWORD})
    assert response.status_code == 429
    assert 'data-testid="lockout"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_home_requires_login(client):
    response = client.get(reverse("web:home"))
    assert response.status_code == 302 and reverse("web:login") in response["Location"]


def test_security_headers_and_csp(client):
    response = client.get(reverse("web:login"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_language_switch_sets_cookie_and_renders_english(client, make_user):
    me = make_user("sales_rep")
    client.force_login(me)
    assert "欢迎" in client.get(reverse("web:home")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Welcome" in client.get(reverse("web:home")).content.decode()


def test_audit_page_scopes_entries_to_what_the_user_may_see(client, make_user):
    rep, auditor = make_user("sales_rep"), make_user("compliance_auditor")
    audit_record(actor=Actor(user=rep), action="thing.mine", object_type="thing")
    audit_record(actor=Actor(user=auditor), action="thing.theirs", object_type="thing")
    client.force_login(rep)
    page = client.get(reverse("core:audit")).content.decode()
    assert "thing.mine" in page and "thing.theirs" not in page
    before = db_snapshot()
    assert client.get(reverse("core:audit_export")).status_code == 403
    assert db_snapshot() == before  # in particular, no audit.export entry

    client.force_login(auditor)
    page = client.get(reverse("core:audit") + "?action=thing.m").content.decode()
    assert "thing.mine" in page and "thing.theirs" not in page


def test_audit_export_neutralises_formulas_and_is_itself_audited(client, make_user):
    from kehu.core.models import AuditEntry

    auditor = make_user("compliance_auditor")
    audit_record(actor=Actor(user=auditor), action="x.y", object_type="thing",
                 object_repr="=HYPERLINK(\"http://evil\")")
    client.force_login(auditor)
    response = client.get(reverse("core:audit_export") + "?format=csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body
    assert AuditEntry.objects.filter(action="audit.export").count() == 1
    xlsx = client.get(reverse("core:audit_export") + "?format=xlsx")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


@pytest.mark.parametrize("role,allowed", [("admin", True), ("sales_manager", False),
                                          ("read_only", False)])
def test_admin_pages_are_gated_by_permission(client, make_user, role, allowed):
    client.force_login(make_user(role))
    before = db_snapshot()
    for name in ("accounts:users", "accounts:teams", "accounts:roles"):
        assert client.get(reverse(name)).status_code == (200 if allowed else 403)
    assert db_snapshot() == before


def test_role_page_edits_scope_and_field_permissions(client, admin_user):
    from kehu.accounts.models import Role

    role = Role.objects.get(code="read_only")
    client.force_login(admin_user)
    data = {"code": "read_only", "name": "Read only", "description": "", "record_scope": "team",
            "permissions": ["customer.view"]}
    for field in ("mobile", "email", "id_number", "birthday", "address", "wechat"):
        data[f"field__customer__{field}"] = "hidden" if field == "mobile" else "masked"
    response = client.post(reverse("accounts:role_edit", args=[role.pk]), data)
    assert response.status_code == 302
    role.refresh_from_db()
    assert role.record_scope == "team"
    assert role.field_permissions["customer.mobile"] == "hidden"


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_api_responses_carry_server_timing(client):
    timing = client.get("/api/v1/me")["Server-Timing"]
    assert timing.startswith("app;dur=") and float(timing.split("=")[1]) >= 0
    assert "Server-Timing" not in client.get("/login/")


def test_admin_unlocks_a_locked_out_user(client, make_user, settings):
    from django.test import Client

    from kehu.core.models import AuditEntry

    locked = make_user("sales_rep")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("web:login"), {"username": locked.username, "password": "wrong"})
    assert client.post(reverse("web:login"), {"username": locked.username,
                                              "password": PASSWORD}).status_code == 429
    admin = Client()
    admin.force_login(make_user("admin"))
    response = admin.post(reverse("accounts:user_unlock", args=[locked.pk]))
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="user.unlock", object_id=str(locked.pk)).exists()
    again = client.post(reverse("web:login"), {"username": locked.username, "password": PASSWORD})
    assert again.status_code == 302


def test_only_user_managers_may_unlock(client, make_user):
    target = make_user("sales_rep")
    client.force_login(make_user("sales_manager"))
    before = db_snapshot()
    assert client.post(reverse("accounts:user_unlock", args=[target.pk])).status_code == 403
    assert db_snapshot() == before
