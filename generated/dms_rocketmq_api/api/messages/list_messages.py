from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.engine import Engine
from ...models.error_body import ErrorBody
from ...models.list_messages_response import ListMessagesResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    engine: Engine,
    project_id: str,
    instance_id: str,
    *,
    topic: str,
    queue: str | Unset = UNSET,
    limit: int | Unset = 10,
    offset: int | Unset = 0,
    key: str | Unset = UNSET,
    start_time: str | Unset = UNSET,
    end_time: str | Unset = UNSET,
    msg_id: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["topic"] = topic

    params["queue"] = queue

    params["limit"] = limit

    params["offset"] = offset

    params["key"] = key

    params["start_time"] = start_time

    params["end_time"] = end_time

    params["msg_id"] = msg_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v2/{engine}/{project_id}/instances/{instance_id}/messages".format(
            engine=quote(str(engine), safe=""),
            project_id=quote(str(project_id), safe=""),
            instance_id=quote(str(instance_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | ListMessagesResponse | None:
    if response.status_code == 200:
        response_200 = ListMessagesResponse.from_dict(response.json())

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
) -> Response[ErrorBody | ListMessagesResponse]:
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
    topic: str,
    queue: str | Unset = UNSET,
    limit: int | Unset = 10,
    offset: int | Unset = 0,
    key: str | Unset = UNSET,
    start_time: str | Unset = UNSET,
    end_time: str | Unset = UNSET,
    msg_id: str | Unset = UNSET,
) -> Response[ErrorBody | ListMessagesResponse]:
    """Query messages

     Lists the messages of one topic that the broker stored, by message ID (`msg_id`), by time range
    (`start_time` and `end_time`, optionally narrowed to one `key`), optionally in one `queue`, one page
    at a time (`limit`, `offset`). `total` counts every match, not only the page.

    Either `msg_id` or both `start_time` and `end_time` must be given, and `end_time` is not before
    `start_time`; OpenAPI cannot state these conditions in the parameters, so they are written here and,
    for code, in `x-required-one-of` and `x-not-before` (checked by `unmet_conditions` of the generated
    `dms_rocketmq_api.spec_rules`, which the client and the emulator both import). Every filter given
    applies.

    Unconfirmed (no version of the reference says): the format of `start_time` and `end_time`, which
    errors a missing topic, a missing time range or an unknown topic produce (no error codes are
    documented for this operation), whether `key` matches one key of a message that has several, and how
    soon after a send a message becomes visible to this query (a client that reads back must poll with a
    deadline). IAM action: `dms:message:get`.

    Args:
        engine (Engine): The message engine; `reliability` is an alias of `rocketmq`.
        project_id (str):
        instance_id (str):
        topic (str):
        queue (str | Unset):
        limit (int | Unset):  Default: 10.
        offset (int | Unset):  Default: 0.
        key (str | Unset):
        start_time (str | Unset):
        end_time (str | Unset):
        msg_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ListMessagesResponse]
    """

    kwargs = _get_kwargs(
        engine=engine,
        project_id=project_id,
        instance_id=instance_id,
        topic=topic,
        queue=queue,
        limit=limit,
        offset=offset,
        key=key,
        start_time=start_time,
        end_time=end_time,
        msg_id=msg_id,
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
    topic: str,
    queue: str | Unset = UNSET,
    limit: int | Unset = 10,
    offset: int | Unset = 0,
    key: str | Unset = UNSET,
    start_time: str | Unset = UNSET,
    end_time: str | Unset = UNSET,
    msg_id: str | Unset = UNSET,
) -> ErrorBody | ListMessagesResponse | None:
    """Query messages

     Lists the messages of one topic that the broker stored, by message ID (`msg_id`), by time range
    (`start_time` and `end_time`, optionally narrowed to one `key`), optionally in one `queue`, one page
    at a time (`limit`, `offset`). `total` counts every match, not only the page.

    Either `msg_id` or both `start_time` and `end_time` must be given, and `end_time` is not before
    `start_time`; OpenAPI cannot state these conditions in the parameters, so they are written here and,
    for code, in `x-required-one-of` and `x-not-before` (checked by `unmet_conditions` of the generated
    `dms_rocketmq_api.spec_rules`, which the client and the emulator both import). Every filter given
    applies.

    Unconfirmed (no version of the reference says): the format of `start_time` and `end_time`, which
    errors a missing topic, a missing time range or an unknown topic produce (no error codes are
    documented for this operation), whether `key` matches one key of a message that has several, and how
    soon after a send a message becomes visible to this query (a client that reads back must poll with a
    deadline). IAM action: `dms:message:get`.

    Args:
        engine (Engine): The message engine; `reliability` is an alias of `rocketmq`.
        project_id (str):
        instance_id (str):
        topic (str):
        queue (str | Unset):
        limit (int | Unset):  Default: 10.
        offset (int | Unset):  Default: 0.
        key (str | Unset):
        start_time (str | Unset):
        end_time (str | Unset):
        msg_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ListMessagesResponse
    """

    return sync_detailed(
        engine=engine,
        project_id=project_id,
        instance_id=instance_id,
        client=client,
        topic=topic,
        queue=queue,
        limit=limit,
        offset=offset,
        key=key,
        start_time=start_time,
        end_time=end_time,
        msg_id=msg_id,
    ).parsed


async def asyncio_detailed(
    engine: Engine,
    project_id: str,
    instance_id: str,
    *,
    client: AuthenticatedClient | Client,
    topic: str,
    queue: str | Unset = UNSET,
    limit: int | Unset = 10,
    offset: int | Unset = 0,
    key: str | Unset = UNSET,
    start_time: str | Unset = UNSET,
    end_time: str | Unset = UNSET,
    msg_id: str | Unset = UNSET,
) -> Response[ErrorBody | ListMessagesResponse]:
    """Query messages

     Lists the messages of one topic that the broker stored, by message ID (`msg_id`), by time range
    (`start_time` and `end_time`, optionally narrowed to one `key`), optionally in one `queue`, one page
    at a time (`limit`, `offset`). `total` counts every match, not only the page.

    Either `msg_id` or both `start_time` and `end_time` must be given, and `end_time` is not before
    `start_time`; OpenAPI cannot state these conditions in the parameters, so they are written here and,
    for code, in `x-required-one-of` and `x-not-before` (checked by `unmet_conditions` of the generated
    `dms_rocketmq_api.spec_rules`, which the client and the emulator both import). Every filter given
    applies.

    Unconfirmed (no version of the reference says): the format of `start_time` and `end_time`, which
    errors a missing topic, a missing time range or an unknown topic produce (no error codes are
    documented for this operation), whether `key` matches one key of a message that has several, and how
    soon after a send a message becomes visible to this query (a client that reads back must poll with a
    deadline). IAM action: `dms:message:get`.

    Args:
        engine (Engine): The message engine; `reliability` is an alias of `rocketmq`.
        project_id (str):
        instance_id (str):
        topic (str):
        queue (str | Unset):
        limit (int | Unset):  Default: 10.
        offset (int | Unset):  Default: 0.
        key (str | Unset):
        start_time (str | Unset):
        end_time (str | Unset):
        msg_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ListMessagesResponse]
    """

    kwargs = _get_kwargs(
        engine=engine,
        project_id=project_id,
        instance_id=instance_id,
        topic=topic,
        queue=queue,
        limit=limit,
        offset=offset,
        key=key,
        start_time=start_time,
        end_time=end_time,
        msg_id=msg_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    engine: Engine,
    project_id: str,
    instance_id: str,
    *,
    client: AuthenticatedClient | Client,
    topic: str,
    queue: str | Unset = UNSET,
    limit: int | Unset = 10,
    offset: int | Unset = 0,
    key: str | Unset = UNSET,
    start_time: str | Unset = UNSET,
    end_time: str | Unset = UNSET,
    msg_id: str | Unset = UNSET,
) -> ErrorBody | ListMessagesResponse | None:
    """Query messages

     Lists the messages of one topic that the broker stored, by message ID (`msg_id`), by time range
    (`start_time` and `end_time`, optionally narrowed to one `key`), optionally in one `queue`, one page
    at a time (`limit`, `offset`). `total` counts every match, not only the page.

    Either `msg_id` or both `start_time` and `end_time` must be given, and `end_time` is not before
    `start_time`; OpenAPI cannot state these conditions in the parameters, so they are written here and,
    for code, in `x-required-one-of` and `x-not-before` (checked by `unmet_conditions` of the generated
    `dms_rocketmq_api.spec_rules`, which the client and the emulator both import). Every filter given
    applies.

    Unconfirmed (no version of the reference says): the format of `start_time` and `end_time`, which
    errors a missing topic, a missing time range or an unknown topic produce (no error codes are
    documented for this operation), whether `key` matches one key of a message that has several, and how
    soon after a send a message becomes visible to this query (a client that reads back must poll with a
    deadline). IAM action: `dms:message:get`.

    Args:
        engine (Engine): The message engine; `reliability` is an alias of `rocketmq`.
        project_id (str):
        instance_id (str):
        topic (str):
        queue (str | Unset):
        limit (int | Unset):  Default: 10.
        offset (int | Unset):  Default: 0.
        key (str | Unset):
        start_time (str | Unset):
        end_time (str | Unset):
        msg_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ListMessagesResponse
    """

    return (
        await asyncio_detailed(
            engine=engine,
            project_id=project_id,
            instance_id=instance_id,
            client=client,
            topic=topic,
            queue=queue,
            limit=limit,
            offset=offset,
            key=key,
            start_time=start_time,
            end_time=end_time,
            msg_id=msg_id,
        )
    ).parsed
