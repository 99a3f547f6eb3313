"""Demo organisation: teams across regions and users in every built-in role.

Each later feature adds its part (customers, orders, tickets …) after this one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from faker import Faker

from kehu.accounts import services as accounts
from kehu.accounts.models import Role, Team, User
from kehu.core.actor import Actor

# (team, parent, region, [(role code, how many)])
DEMO_TEAMS = [
    ("总部", None, "", []),
    ("销售部", "总部", "", [("sales_manager", 1)]),
    ("华东销售组", "销售部", "华东", [("sales_manager", 1), ("sales_rep", 4)]),
    ("华南销售组", "销售部", "华南", [("sales_manager", 1), ("sales_rep", 3)]),
    ("华北销售组", "销售部", "华北", [("sales_manager", 1), ("sales_rep", 3)]),
    ("西南销售组", "销售部", "西南", [("sales_rep", 2)]),
    ("市场部", "总部", "", [("marketer", 2)]),
    ("客服中心", "总部", "", [("service_agent", 3)]),
    ("数据治理组", "总部", "", [("data_steward", 1)]),
    ("合规部", "总部", "", [("compliance_auditor", 1), ("read_only", 1)]),
]


@dataclass
class DemoOrg:
    teams: dict[str, Team] = field(default_factory=dict)
    users_by_role: dict[str, list[User]] = field(default_factory=dict)
    password: str = ""


def demo_org_build(*, seed: int, password: str) -> DemoOrg:
    """Create the demo teams and users (idempotent by name); every user gets `password`."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    actor = Actor.system(via="cli")
    org = DemoOrg(password=password)
    roles = {role.code: role for role in Role.objects.all()}
    counters: dict[str, int] = {}
    for name, parent, region, members in DEMO_TEAMS:
        team = Team.objects.filter(name=name).first() or accounts.team_save(
            actor=actor, name=name, parent=org.teams.get(parent), region=region)
        org.teams[name] = team
        for role_code, count in members:
            for _ in range(count):
                counters[role_code] = counters.get(role_code, 0) + 1
                username = f"{role_code.replace('_', '')}{counters[role_code]}"
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = accounts.user_create(
                        actor=actor, username=username, password=password,
                        display_name=fake.name(), email=f"{username}@demo.kehu.local",
                        role=roles[role_code], team=team,
                    )
                    if role_code == "sales_manager":
                        accounts.team_save(actor=actor, team=team, name=team.name,
                                           parent=team.parent, region=team.region,
                                           managers=[*team.managers.all(), user])
                org.users_by_role.setdefault(role_code, []).append(user)
    rng.shuffle(org.users_by_role.get("sales_rep", []))
    return org
