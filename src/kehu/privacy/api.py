"""API of privacy: thin handlers over its services and selectors."""

from ninja import Router

router = Router(tags=["privacy"])
