import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from kehu.accounts.models import User

pytestmark = pytest.mark.django_db


def test_init_is_idempotent_and_prints_the_admin_once(capsys):
    call_command("init", "--admin", "boss")
    first = capsys.readouterr().out
    assert "username: boss" in first and "password: " in first
    password = first.split("password: ")[1].split()[0]
    call_command("init")
    second = capsys.readouterr().out
    # The message is in the default language (zh-Hans): it names the admin, not the password.
    assert "boss" in second and password not in second and "password" not in second
    assert User.objects.filter(is_superuser=True).count() == 1


def test_apikey_create_prints_the_token_alone_on_the_last_line(capsys, make_user):
    from kehu.accounts.services import apikey_authenticate

    make_user("sales_rep", username="wang")
    call_command("apikey", "create", "wang", "--scopes", "read,write")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    key = apikey_authenticate(token)
    assert key.user.username == "wang" and key.scopes == ["read", "write"]


def test_createuser_rejects_unknown_roles(make_user):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("createuser", "zhao", "--role", "wizard", "--generate-password")
    call_command("createuser", "zhao", "--role", "sales_rep", "--generate-password")
    assert User.objects.get(username="zhao").role.code == "sales_rep"


def test_init_twice_in_an_empty_home_via_the_console_script(tmp_path):
    kehu = Path(sys.executable).with_name("kehu")
    env = {"KEHU_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    first = subprocess.run([str(kehu), "init"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert first.returncode == 0, first.stderr
    assert "username: admin" in first.stdout
    second = subprocess.run([str(kehu), "init"], env=env, capture_output=True, text=True,
                            timeout=120)
    password = first.stdout.split("password: ")[1].split()[0]
    assert second.returncode == 0 and "admin" in second.stdout
    assert password not in second.stdout
    assert (tmp_path / "kehu.sqlite3").exists() and (tmp_path / "secret_key").exists()
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"


def test_production_settings_pass_check_deploy(tmp_path):
    kehu = Path(sys.executable).with_name("kehu")
    env = {"KEHU_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "KEHU_PRODUCTION": "1",
           "KEHU_ALLOWED_HOSTS": "crm.example.com"}
    result = subprocess.run([str(kehu), "check", "--deploy", "--fail-level", "WARNING"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
