from enum import StrEnum


class Engine(StrEnum):
    RELIABILITY = "reliability"
    ROCKETMQ = "rocketmq"

    def __str__(self) -> str:
        return str(self.value)
