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
