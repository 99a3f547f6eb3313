import pytest

from kehu.accounts.access import AccessPolicy
from kehu.accounts.models import User
from tests.factories import CustomerFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(make_user):
    sales = TeamFactory(name="销售部")
    east = TeamFactory(name="华东组", parent=sales)
    shanghai = TeamFactory(name="上海小组", parent=east)
    south = TeamFactory(name="华南组", parent=sales)
    manager = make_user("sales_manager", team=east)
    rep_sh = make_user("sales_rep", team=shanghai)
    rep_east = make_user("sales_rep", team=east)
    rep_south = make_user("sales_rep", team=south)
    customers = {
        "sh": CustomerFactory(name="上海客户", owner=rep_sh, team=shanghai),
        "east": CustomerFactory(name="华东客户", owner=rep_east, team=east),
        "south": CustomerFactory(name="华南客户", owner=rep_south, team=south),
        "mgr": CustomerFactory(name="经理客户", owner=manager, team=None),
    }
    return {"manager": manager, "rep_sh": rep_sh, "rep_south": rep_south, "customers": customers}


def _visible(user):
    from kehu.customers.models import Customer

    return set(user.access.restrict(Customer.objects.all()).values_list("name", flat=True))


def test_own_scope_sees_only_own_records(org):
    assert _visible(org["rep_sh"]) == {"上海客户"}
    assert _visible(org["rep_south"]) == {"华南客户"}


def test_team_scope_includes_sub_teams_but_not_sibling_teams(org):
    assert _visible(org["manager"]) == {"上海客户", "华东客户", "经理客户"}


def test_all_scope_sees_everything(org, make_user):
    assert len(_visible(make_user("marketer"))) == 4


def test_inactive_or_roleless_users_see_nothing(org, make_user):
    roleless = make_user(None)
    assert _visible(roleless) == set()
    assert not roleless.access.can("customer.view")
    inactive = make_user("admin", is_active=False)
    assert _visible(User.objects.get(pk=inactive.pk)) == set()


def test_managed_team_counts_as_in_scope(org, make_user):
    lead = make_user("sales_manager")
    south_team = org["rep_south"].team
    south_team.managers.add(lead)
    fresh = User.objects.get(pk=lead.pk)
    assert _visible(fresh) == {"华南客户"}


def test_field_modes_mask_hide_and_show(make_user):
    rep = make_user("sales_rep")
    marketer = make_user("marketer")
    auditor = make_user("compliance_auditor")
    number = "110101199003071234"
    assert rep.access.present("customer.id_number", number) == "110***********1234"
    assert marketer.access.present("customer.id_number", number) is None
    assert auditor.access.present("customer.id_number", number) == number
    assert marketer.access.present("customer.mobile", "+8613812345678") == "138****5678"
    assert rep.access.present("customer.mobile", "+8613812345678") == "+8613812345678"
    # edit only where the role may change customers at all
    assert rep.access.can_edit_field("customer.mobile")
    assert auditor.access.field_mode("customer.id_number") == "view"


def test_anonymous_policy_denies_everything():
    policy = AccessPolicy.for_user(None)
    assert not policy.can("customer.view")
    assert policy.record_filter() is not None


@pytest.mark.parametrize("mode, value, presence", [
    ("edit", True, True), ("view", True, True), ("masked", False, True),
    ("hidden", False, False)])
def test_conditions_need_the_value_in_clear_and_presence_needs_it_not_hidden(
        mode, value, presence):
    """Issue 19: the one rule for conditions (AccessPolicy.may_condition_on)."""
    from kehu.core.errors import ValidationFailed

    policy = AccessPolicy(user_id=1, permissions=frozenset({"customer.view", "customer.change"}),
                          scope="all", field_modes={"customer.birthday": mode,
                                                    "customer.address": mode})
    assert policy.may_condition_on("customer.birthday") is value
    assert policy.may_condition_on("customer.birthday", presence=True) is presence
    # A district gives away the address's (and an ID number's region code): it follows it.
    assert policy.may_condition_on("customer.district") is value
    assert policy.may_condition_on("name") is True  # not sensitive
    if value:
        policy.require_condition("customer.birthday", path="sort", label="生日")
    else:
        with pytest.raises(ValidationFailed) as caught:
            policy.require_condition("customer.birthday", path="sort", label="生日")
        assert list(caught.value.details) == ["sort"] and "生日" in caught.value.details["sort"][0]
