"""`make demo` runs everything: after `kehu demo` and `kehu serve`, with no other command,
the duplicate scan the demo queued completes and its look-alikes wait for review."""

from __future__ import annotations

import re

from django.utils import translation

from tests.browser.conftest import login
from tests.processes import ONLY_SQLITE, Server, kehu_env, run_kehu, wait_for

pytestmark = ONLY_SQLITE


def test_demo_then_serve_completes_the_duplicate_scan_in_the_browser(chromium_browser, tmp_path):
    home = tmp_path / "demo-home"
    demo = run_kehu(kehu_env(home, KEHU_DEMO_PASSWORD="demo-pass-8271"), "demo", "--customers", "60",
                    timeout=600)
    assert "Admin" in demo.stdout or "管理员" in demo.stdout
    admin_password = re.search(r"(?:Admin login|管理员登录)[:：]\s*admin\s*/\s*(\S+)", demo.stdout).group(1)
    with translation.override("zh-hans"):
        done = translation.gettext("Done")
    server = Server(home, KEHU_2FA_ENFORCED="0")  # as `make demo` serves it
    context = chromium_browser.new_context(base_url=server.base, locale="zh-CN")
    context.set_default_timeout(15_000)
    try:
        wait_for(server.ready, 90, "the server and its worker")
        page = context.new_page()
        login(page, "admin", admin_password)
        page.wait_for_url(re.compile(r"/$"))

        def scan_finished():
            page.goto("/identity/duplicates/")
            status = page.get_by_test_id("scan-status").inner_text()
            return done in status and status

        status = wait_for(scan_finished, 120, "the queued duplicate scan to finish")
        assert "#1" in status
    finally:
        context.close()
        server.stop()
