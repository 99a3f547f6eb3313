"""The one way kehu calls out to a URL someone typed in: no private, loopback, link-local or
otherwise internal address unless allowed (SSRF guard), the address checked is the address
connected to (no DNS rebinding between the check and the call), no redirects followed, and
only the first bytes of the answer read."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

RESPONSE_KEEP = 2048  # bytes of a receiver's answer kept in the delivery log


class Refused(Exception):
    """The URL may not be called (scheme, host or address); the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified or not ip.is_global)


def host_allowed_everywhere(host: str) -> bool:
    """Hosts the operator allows even on an internal address (KEHU_WEBHOOK_ALLOWED_HOSTS)."""
    return host.lower() in {h.lower() for h in settings.KEHU_WEBHOOK_ALLOWED_HOSTS}


def resolve(url: str, *, allow_private: bool = False, must_resolve: bool = True
            ) -> Target | None:
    """The address to connect to for `url`, refusing what the SSRF guard forbids: every
    address the name resolves to must be public unless private addresses are allowed.
    With `must_resolve=False` (checking a URL as it is saved) a name that does not resolve
    yet passes (None); it is checked again before every call."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused(_("Only http and https URLs can receive webhooks."))
    host = parts.hostname
    if not host:
        raise Refused(_("The URL has no host."))
    if parts.username or parts.password:
        raise Refused(_("Put credentials in the receiver's checks, not in the URL."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused(_("The URL's port is not valid.")) from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        if not must_resolve:
            return None
        raise Refused(_("The host “%s” cannot be found.") % host) from None
    addresses = [info[4][0] for info in infos]
    if not (allow_private or host_allowed_everywhere(host)):
        for address in addresses:
            if _internal(address):
                raise Refused(_("“%(host)s” is an internal address (%(address)s); an "
                                "administrator must allow private network addresses for "
                                "this webhook.") % {"host": host, "address": address})
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout,
                         context=ssl.create_default_context())
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the URL's host name (SNI), not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float
         ) -> tuple[int, str]:
    """POST `body` to the resolved target; (status, the first bytes of the answer)."""
    connection = (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(RESPONSE_KEEP).decode("utf-8", errors="replace")
        return response.status, text
    finally:
        connection.close()
