"""A local server that behaves like the Send-a-message API of DMS for RocketMQ."""

__all__: list[str] = []
