"""API of automation: thin handlers over its services and selectors."""

from ninja import Router

router = Router(tags=["automation"])
