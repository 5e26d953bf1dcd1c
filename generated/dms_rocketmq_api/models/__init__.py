"""Contains all the data models used in inputs/outputs"""

from .engine import Engine
from .error_body import ErrorBody
from .list_messages_response import ListMessagesResponse
from .message import Message
from .message_property import MessageProperty
from .message_property_name import MessagePropertyName
from .send_message_properties_req_entity import SendMessagePropertiesReqEntity
from .send_message_properties_resp_entity import SendMessagePropertiesRespEntity
from .send_message_request_body import SendMessageRequestBody
from .send_message_response import SendMessageResponse

__all__ = (
    "Engine",
    "ErrorBody",
    "ListMessagesResponse",
    "Message",
    "MessageProperty",
    "MessagePropertyName",
    "SendMessagePropertiesReqEntity",
    "SendMessagePropertiesRespEntity",
    "SendMessageRequestBody",
    "SendMessageResponse",
)
