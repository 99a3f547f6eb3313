"""factory_boy factories. Each app's tests add theirs here or in tests/<app>/factories.py."""

from __future__ import annotations

import factory

from kehu.accounts.models import Role, Team, User
from kehu.core.actor import Actor


def _role(code):
    """The built-in role; transactional (browser) tests flush the migration-seeded rows."""
    if not code:
        return None
    role = Role.objects.filter(code=code).first()
    if role is None:
        from kehu.accounts.services import roles_ensure_defaults

        roles_ensure_defaults(actor=Actor.system(via="system"))
        role = Role.objects.get(code=code)
    return role


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"团队{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        role_code = "read_only"

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"用户{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = factory.LazyAttribute(lambda u: _role(u.role_code))
    password = factory.PostGenerationMethodCall("set_password", "pw-Kehu-2026!")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ApiKeyFactory:
    @staticmethod
    def issue(*, user, scopes=("read", "write")):
        from kehu.accounts.services import apikey_create

        return apikey_create(actor=Actor.system(via="system"), user=user, scopes=scopes)


PASSWORD = "pw-Kehu-2026!"


class CustomerFactory(factory.django.DjangoModelFactory):
    """A bare customer row for tests of other layers. Tests of customer rules use the services."""

    class Meta:
        model = "customers.Customer"

    kind = "person"
    name = factory.Sequence(lambda n: f"客户{n}")
    lifecycle_stage = "lead"



def _now():
    from django.utils import timezone

    return timezone.now()


class ProductFactory(factory.django.DjangoModelFactory):
    """A catalogue product priced in CNY."""

    class Meta:
        model = "transactions.Product"

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"产品{n}")
    category = "打印机"
    unit_price = "199.00"


class InteractionFactory(factory.django.DjangoModelFactory):
    """A logged interaction row, for tests of reads; tests of the rules use the services."""

    class Meta:
        model = "interactions.Interaction"

    customer = factory.SubFactory(CustomerFactory)
    kind = "call"
    summary = factory.Sequence(lambda n: f"电话沟通{n}")
    occurred_at = factory.LazyFunction(_now)


class EventFactory(factory.django.DjangoModelFactory):
    """A behavioural event row, for tests of reads; ingestion tests use event_ingest."""

    class Meta:
        model = "interactions.Event"

    customer = factory.SubFactory(CustomerFactory)
    event_type = "page_view"
    occurred_at = factory.LazyFunction(_now)
    properties = factory.LazyFunction(lambda: {"url": "/products/a1"})
    source = "web"


def create_customer(*, owner=None, team=None, **fields):
    """A customer made the real way (through the service, as the system), owned by `owner`."""
    from kehu.customers.services import customer_create

    fields.setdefault("name", "张伟")
    return customer_create(actor=Actor.system(via="system"), owner=owner,
                           team=team if team is not None else getattr(owner, "team", None),
                           **fields)


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.CustomFieldDefinition"

    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.Sequence(lambda n: f"字段{n}")
    field_type = "text"
