"""API of service: thin handlers over its services and selectors."""

from ninja import Router

router = Router(tags=["service"])
