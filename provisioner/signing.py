"""SigV4 for installs behind IAM authorization (service ``execute-api``), with botocore's signer and
credential chain; botocore is imported only when a request is signed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from provisioner.errors import SigningError

if TYPE_CHECKING:
    from botocore.credentials import Credentials

SIGNING_SERVICE: Final = "execute-api"
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com$")


def region_from_host(host: str) -> str | None:
    """``abc123.execute-api.eu-west-1.amazonaws.com`` -> ``eu-west-1``."""
    match = _EXECUTE_API_HOST.search(host.lower())
    return match.group(1) if match else None


def is_aws_host(host: str) -> bool:
    return host.lower().rstrip(".").endswith(".amazonaws.com")


class SigV4Signer:
    """Signs requests the way API Gateway's IAM authorization checks them, with botocore's signer.

    Credentials come from botocore's default chain (environment, profiles, SSO, container and
    instance roles) unless given; refreshable ones are frozen per request, so they never expire
    mid-signature.
    """

    def __init__(
        self,
        region: str | None = None,
        credentials: Credentials | None = None,
        service: str = SIGNING_SERVICE,
    ) -> None:
        import botocore.session  # noqa: PLC0415 - only installs behind IAM auth need botocore's session

        session = botocore.session.get_session()
        self.region = region or session.get_config_variable("region") or "us-east-1"
        self.service = service
        self._credentials = credentials if credentials is not None else session.get_credentials()

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> dict[str, str]:
        """The headers to send: the given ones plus X-Amz-Date, the session token and Authorization."""
        from botocore.auth import SigV4Auth  # noqa: PLC0415 - see __init__
        from botocore.awsrequest import AWSRequest  # noqa: PLC0415

        if self._credentials is None:
            raise SigningError(
                "the endpoint needs SigV4-signed requests but no AWS credentials were found "
                "(set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run aws sso login)"
            )
        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        SigV4Auth(self._credentials.get_frozen_credentials(), self.service, self.region).add_auth(request)
        return {str(name): str(value) for name, value in request.headers.items()}
