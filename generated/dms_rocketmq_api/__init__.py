"""A client library for accessing DMS for RocketMQ — Send a message"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
