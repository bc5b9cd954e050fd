"""Webhook URLs: https to public addresses only; http only to loopback in local mode; every
address the name resolves to is checked (SSRF: metadata, private, link-local)."""

from __future__ import annotations

import pytest

from functions.logic.notify_urls import check_url
from functions.models.exceptions import InvalidRequest


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("https://169.254.169.254/latest/meta-data", ["169.254.169.254"]),
        ("https://metadata.example.com/", ["169.254.169.254"]),
        ("https://internal.example.com/", ["10.0.0.5"]),
        ("https://mixed.example.com/", ["93.184.216.34", "192.168.1.1"]),
        ("https://v6.example.com/", ["fd00::1"]),
        ("https://mapped.example.com/", ["::ffff:127.0.0.1"]),
        ("https://localhost/", ["127.0.0.1"]),
        ("http://hooks.example.com/", ["93.184.216.34"]),
        ("ftp://hooks.example.com/", ["93.184.216.34"]),
        ("https://user:pw@hooks.example.com/", ["93.184.216.34"]),
        ("https:///nohost", []),
        ("https://[fe80::1]/", ["fe80::1"]),
        ("https://bad_host!/", ["93.184.216.34"]),
        ("https://-leading.example.com/", ["93.184.216.34"]),
    ],
)
def test_refused_in_aws(url: str, addresses: list[str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_url(url, allow_loopback_http=False, resolver=resolver(*addresses))
    assert caught.value.field == "url"


def test_junk_hosts_and_plain_http_are_refused_before_any_lookup() -> None:
    def no_lookup(host: str, port: int) -> list[str]:
        raise AssertionError(f"looked up {host}")

    for url in ("https://bad_host!/", "http://hooks.example.com/", "https://a..b/"):
        with pytest.raises(InvalidRequest):
            check_url(url, allow_loopback_http=False, resolver=no_lookup)


def test_a_public_https_url_is_accepted() -> None:
    url = "https://hooks.example.com/provisioner?x=1"
    assert check_url(url, allow_loopback_http=False, resolver=resolver("93.184.216.34")) == url


def test_local_mode_allows_http_to_loopback_only() -> None:
    assert check_url("http://127.0.0.1:9999/hook", allow_loopback_http=True, resolver=resolver("127.0.0.1"))
    with pytest.raises(InvalidRequest):
        check_url("http://hooks.example.com/", allow_loopback_http=True, resolver=resolver("93.184.216.34"))
    with pytest.raises(InvalidRequest):
        check_url("https://intranet/", allow_loopback_http=True, resolver=resolver("10.1.2.3"))
    with pytest.raises(InvalidRequest):
        check_url("http://127.0.0.1/", allow_loopback_http=False, resolver=resolver("127.0.0.1"))
