"""Who is acting: the user (or API key on their behalf) and where the request came from.

Every service takes an Actor so the audit row it writes names the person, the
key, the address and the user agent without the service knowing about HTTP.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings


@lru_cache(maxsize=8)
def _trusted_networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _ip(text: str | None):
    """The address as an ipaddress object, or None when it is not one."""
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's address, the one place kehu decides it (audit entries, login throttling).

    The direct peer (REMOTE_ADDR), unless the peer is one of KEHU_TRUSTED_PROXIES: then
    X-Forwarded-For is read from the right (each proxy appends the address it saw), skipping
    trusted proxies, and the first other address is the client. Anything that is not a valid
    IP address there makes the header ignored (the peer is recorded); without trusted
    proxies the header is never read, so a client cannot choose its recorded address.
    """
    peer = _ip(request.META.get("REMOTE_ADDR"))
    if peer is None:
        return None
    trusted = _trusted_networks(tuple(getattr(settings, "KEHU_TRUSTED_PROXIES", ()) or ()))
    if not trusted or not any(peer in net for net in trusted):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [part.strip() for part in forwarded.split(",")] if forwarded.strip() else []
    addresses = [_ip(hop) for hop in hops]
    if any(address is None for address in addresses):
        return str(peer)
    for address in reversed(addresses):
        if not any(address in net for net in trusted):
            return str(address)
    return str(addresses[0]) if addresses else str(peer)


@dataclass(frozen=True)
class Actor:
    user: Any | None = None
    api_key_id: int | None = None
    api_key_prefix: str = ""
    ip: str | None = None
    user_agent: str = ""
    via: str = "web"  # web | api | cli | system

    @classmethod
    def system(cls, user: Any | None = None, *, via: str = "cli") -> Actor:
        return cls(user=user, via=via)

    @classmethod
    def from_request(cls, request) -> Actor:
        api_key = getattr(request, "kehu_api_key", None)
        ip = client_ip(request)
        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated:
            user = None
        return cls(
            user=user,
            api_key_id=api_key.pk if api_key else None,
            api_key_prefix=api_key.prefix if api_key else "",
            ip=ip or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:400],
            via="api" if api_key or request.path.startswith("/api/") else "web",
        )

    @property
    def label(self) -> str:
        name = self.user.get_username() if self.user is not None else "system"
        if self.api_key_prefix:
            return f"{name} (key {self.api_key_prefix})"
        return name

    def require(self, permission: str) -> None:
        """Raise PermissionDenied unless this actor holds the permission.

        The command line and system jobs (no user) act with full rights: whoever
        runs them already owns the data directory.
        """
        from kehu.core.errors import PermissionDenied

        if self.user is None:
            if self.via in ("cli", "system"):
                return
            raise PermissionDenied(details={"permission": permission})
        self.user.access.require(permission)

    @property
    def access(self):
        if self.user is None:
            return None
        return self.user.access
