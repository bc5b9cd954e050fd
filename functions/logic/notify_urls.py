"""Which webhook URLs the service will call: https to a public address; http only to loopback,
and only in local mode. The host is resolved and every address it resolves to is checked, so a
name pointing at the metadata service or a private network is refused (checked again before
each delivery, since DNS can change after the subscription was made)."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from functions.models.exceptions import InvalidRequest

Resolver = Callable[[str, int], list[str]]
MAX_URL_LENGTH = 2048
# A DNS name (RFC 1123 labels) or an IP literal: anything else is refused before any lookup.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$"
)


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise InvalidRequest(f"url: the host {host} does not resolve", "url") from exc
    return sorted({str(info[4][0]) for info in infos})


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


def check_url(url: str, *, allow_loopback_http: bool, resolver: Resolver = resolve) -> str:
    """The URL if the service may call it; else InvalidRequest naming the field ``url``."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"url: longer than {MAX_URL_LENGTH} characters", "url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidRequest(f"url: not a valid URL ({exc})", "url") from exc
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidRequest("url: must be an https:// URL with a host", "url")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("url: credentials in the URL are not allowed; sign with the secret", "url")
    if parts.scheme == "http" and not allow_loopback_http:
        raise InvalidRequest("url: must be https", "url")
    if not (_literal(host) or _HOSTNAME.match(host)):
        raise InvalidRequest(f"url: {host} is not a host name", "url")
    addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolver(host, port or 443)]
    if not addresses:
        raise InvalidRequest(f"url: the host {host} does not resolve", "url")
    loopback = all(address.is_loopback for address in addresses)
    if parts.scheme == "http" and not (allow_loopback_http and loopback):
        raise InvalidRequest(
            "url: must be https" + (" (http only to loopback, in local mode)" if allow_loopback_http else ""),
            "url",
        )
    if allow_loopback_http and loopback:
        return url
    refused = [str(address) for address in addresses if not _public(address)]
    if refused:
        raise InvalidRequest(
            f"url: {host} resolves to a private, loopback, link-local or reserved address "
            f"({', '.join(refused)}); webhooks go to public addresses only",
            "url",
        )
    return url
