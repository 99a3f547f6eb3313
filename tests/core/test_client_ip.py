"""The recorded client address: X-Forwarded-For only from KEHU_TRUSTED_PROXIES, and only a
valid IP address; otherwise the direct peer."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from kehu.core.actor import Actor, client_ip
from kehu.core.models import AuditEntry


def _request(peer="198.51.100.7", forwarded=None):
    meta = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(("trusted", "peer", "forwarded", "expected"), [
    # No trusted proxies (the default): the header is never read.
    ([], "198.51.100.7", "203.0.113.9", "198.51.100.7"),
    ([], "198.51.100.7", "not-an-ip<script>", "198.51.100.7"),
    # From a peer that is not a trusted proxy: ignored.
    (["10.0.0.0/8"], "198.51.100.7", "203.0.113.9", "198.51.100.7"),
    # From a trusted proxy: the address it saw.
    (["10.0.0.0/8"], "10.0.0.2", "203.0.113.9", "203.0.113.9"),
    (["10.0.0.2"], "10.0.0.2", " 203.0.113.9 ", "203.0.113.9"),
    # The client's own leading entries are not believed: read from the right, past proxies.
    (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 203.0.113.9, 10.0.0.3", "203.0.113.9"),
    (["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", "2001:db8::5:1, 2001:0db8::9",
     "2001:db8::5:1"),
    # Not an IP address anywhere in the header: ignored, the peer is recorded.
    (["10.0.0.0/8"], "10.0.0.2", "not-an-ip<script>", "10.0.0.2"),
    (["10.0.0.0/8"], "10.0.0.2", "203.0.113.9, evil", "10.0.0.2"),
    (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
    # A peer that is not an address at all is not recorded.
    ([], "not-an-ip", None, None),
])
def test_client_ip(settings, trusted, peer, forwarded, expected):
    settings.KEHU_TRUSTED_PROXIES = trusted
    assert client_ip(_request(peer, forwarded)) == expected
    assert Actor.from_request(_request(peer, forwarded)).ip == expected


@pytest.mark.django_db
@pytest.mark.parametrize("forwarded", ["not-an-ip<script>", "203.0.113.66"])
def test_a_spoofed_forwarded_for_is_not_recorded(api_client_for, make_user, forwarded):
    client = api_client_for(make_user("admin"))
    response = client.post("/api/v1/customers", data=json.dumps({"name": "张伟"}),
                           content_type="application/json", HTTP_X_FORWARDED_FOR=forwarded,
                           REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 201, response.content
    entry = AuditEntry.objects.get(action="customer.create")
    assert entry.ip == "198.51.100.7"


@pytest.mark.django_db
def test_a_trusted_proxys_forwarded_for_is_recorded(api_client_for, make_user, settings):
    settings.KEHU_TRUSTED_PROXIES = ["127.0.0.1"]
    client = api_client_for(make_user("admin"))
    response = client.post("/api/v1/customers", data=json.dumps({"name": "张伟"}),
                           content_type="application/json",
                           HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert response.status_code == 201, response.content
    assert AuditEntry.objects.get(action="customer.create").ip == "203.0.113.9"


def test_login_throttling_uses_the_same_address(settings):
    from axes.helpers import get_client_ip_address

    settings.KEHU_TRUSTED_PROXIES = []
    assert get_client_ip_address(_request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"
