"""What the tiers expect of the wrapper for each status openapi.yaml documents."""

from __future__ import annotations

import dms_rocketmq

# Written out here, not read from the wrapper, so that a change to the wrapper's mapping shows as a failure.
WRAPPER_ERRORS: dict[int, type[dms_rocketmq.APIStatusError]] = {
    400: dms_rocketmq.BadRequestError,
    401: dms_rocketmq.AuthenticationError,
    403: dms_rocketmq.PermissionDeniedError,
    404: dms_rocketmq.NotFoundError,
    413: dms_rocketmq.PayloadTooLargeError,
    429: dms_rocketmq.RateLimitError,
    500: dms_rocketmq.InternalServerError,
    503: dms_rocketmq.InternalServerError,
}
