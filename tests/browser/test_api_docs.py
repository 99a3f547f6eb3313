import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_docs_render_under_the_csp(page):
    """Swagger UI loads from vendored static files; the page fixture fails on CSP errors."""
    page.goto("/api/v1/docs")
    # The first OpenAPI document of a process takes seconds to build (then it is cached).
    expect(page.locator("#swagger-ui")).to_contain_text("kehu API", timeout=30_000)
    expect(page.locator("#swagger-ui")).to_contain_text("/api/v1/customers/lookup")
