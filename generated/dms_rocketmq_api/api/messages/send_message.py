from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.engine import Engine
from ...models.error_body import ErrorBody
from ...models.send_message_request_body import SendMessageRequestBody
from ...models.send_message_response import SendMessageResponse
from ...types import Response


def _get_kwargs(
    engine: Engine,
    project_id: str,
    instance_id: str,
    *,
    body: SendMessageRequestBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v2/{engine}/{project_id}/instances/{instance_id}/messages".format(
            engine=quote(str(engine), safe=""),
            project_id=quote(str(project_id), safe=""),
            instance_id=quote(str(instance_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | SendMessageResponse | None:
    if response.status_code == 200:
        response_200 = SendMessageResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | SendMessageResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    engine: Engine,
    project_id: str,
    instance_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SendMessageRequestBody,
) -> Response[ErrorBody | SendMessageResponse]:
    """Send a message

     Publishes one message to a topic of a DMS for RocketMQ instance and returns where the broker stored
    it: the message ID, the queue, the offset in that queue and the broker.

    The topic must already exist on the instance; sending never creates a topic. The broker picks the
    queue. Sending is not idempotent: a request that is sent twice stores two messages, so a client that
    retries after a lost response may publish a duplicate (at-least-once). Put a business key in `KEYS`
    so that consumers can recognise duplicates.

    Args:
        engine (Engine): The message engine; `reliability` is an alias of `rocketmq`.
        project_id (str):
        instance_id (str):
        body (SendMessageRequestBody): The message to send (Table 2 of the API reference).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | SendMessageResponse]
    """

    kwargs = _get_kwargs(
        engine=engine,
        project_id=project_id,
        instance_id=instance_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    engine: Engine,
    project_id: str,
    instance_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SendMessageRequestBody,
) -> ErrorBody | SendMessageResponse | None:
    """Send a message

     Publishes one message to a topic of a DMS for RocketMQ instance and returns where the broker stored
    it: the message ID, the queue, the offset in that queue and the broker.

    The topic must already exist on the instance; sending never creates a topic. The broker picks the
    queue. Sending is not idempotent: a request that is sent twice stores two messages, so a client that
    retries after a lost response may publish a duplicate (at-least-once). Put a business key in `KEYS`
    so that consumers can recognise duplicates.

    Args:
        engine (Engine): The message engine; `reliability` is an alias of `rocketmq`.
        project_id (str):
        instance_id (str):
        body (SendMessageRequestBody): The message to send (Table 2 of the API reference).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | SendMessageResponse
    """

    return sync_detailed(
        engine=engine,
        project_id=project_id,
        instance_id=instance_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    engine: Engine,
    project_id: str,
    instance_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SendMessageRequestBody,
) -> Response[ErrorBody | SendMessageResponse]:
    """Send a message

     Publishes one message to a topic of a DMS for RocketMQ instance and returns where the broker stored
    it: the message ID, the queue, the offset in that queue and the broker.

    The topic must already exist on the instance; sending never creates a topic. The broker picks the
    queue. Sending is not idempotent: a request that is sent twice stores two messages, so a client that
    retries after a lost response may publish a duplicate (at-least-once). Put a business key in `KEYS`
    so that consumers can recognise duplicates.

    Args:
        engine (Engine): The message engine; `reliability` is an alias of `rocketmq`.
        project_id (str):
        instance_id (str):
        body (SendMessageRequestBody): The message to send (Table 2 of the API reference).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | SendMessageResponse]
    """

    kwargs = _get_kwargs(
        engine=engine,
        project_id=project_id,
        instance_id=instance_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    engine: Engine,
    project_id: str,
    instance_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SendMessageRequestBody,
) -> ErrorBody | SendMessageResponse | None:
    """Send a message

     Publishes one message to a topic of a DMS for RocketMQ instance and returns where the broker stored
    it: the message ID, the queue, the offset in that queue and the broker.

    The topic must already exist on the instance; sending never creates a topic. The broker picks the
    queue. Sending is not idempotent: a request that is sent twice stores two messages, so a client that
    retries after a lost response may publish a duplicate (at-least-once). Put a business key in `KEYS`
    so that consumers can recognise duplicates.

    Args:
        engine (Engine): The message engine; `reliability` is an alias of `rocketmq`.
        project_id (str):
        instance_id (str):
        body (SendMessageRequestBody): The message to send (Table 2 of the API reference).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | SendMessageResponse
    """

    return (
        await asyncio_detailed(
            engine=engine,
            project_id=project_id,
            instance_id=instance_id,
            client=client,
            body=body,
        )
    ).parsed
