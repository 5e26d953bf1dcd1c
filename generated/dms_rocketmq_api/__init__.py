"""A client library for accessing DMS for RocketMQ — Send and query messages"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
