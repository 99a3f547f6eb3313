"""Who is acting: the user (or API key on their behalf) and where the request came from.

Every service takes an Actor so the audit row it writes names the person, the
key, the address and the user agent without the service knowing about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        ip = forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR")
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
