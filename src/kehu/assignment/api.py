"""API of assignment: thin handlers over its services and selectors."""

from ninja import Router

router = Router(tags=["assignment"])
