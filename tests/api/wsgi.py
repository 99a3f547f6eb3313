"""The Django app as a WSGI callable for in-process probes (schemathesis's werkzeug client).

Built on Django's test `ClientHandler`, the same request path as `kehu.wsgi.application`
(every middleware, CSRF enforced), but it leaves the test's database connection open between
requests, as Django's test client does, so each test's transaction holds."""

from __future__ import annotations

from django.test.client import ClientHandler

_handler = ClientHandler(enforce_csrf_checks=True)


def in_process_wsgi(environ, start_response):
    response = _handler(environ)
    headers = list(response.items())
    headers += [("Set-Cookie", cookie.output(header="").strip())
                for cookie in response.cookies.values()]
    start_response(f"{response.status_code} {response.reason_phrase}", headers)
    if response.streaming:
        return response.streaming_content
    return [response.content]
