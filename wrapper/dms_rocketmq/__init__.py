"""Python client for the Send-a-message HTTP API of Huawei Cloud DMS for RocketMQ."""

__all__: list[str] = []
