"""API of notifications: thin handlers over its services and selectors."""

from ninja import Router

router = Router(tags=["notifications"])
