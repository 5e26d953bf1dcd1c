from enum import StrEnum


class MessagePropertyName(StrEnum):
    KEYS = "KEYS"
    TAGS = "TAGS"

    def __str__(self) -> str:
        return str(self.value)
