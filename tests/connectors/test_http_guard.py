"""Where the guarded client may connect: redirects, names, resolvers and TLS, on loopback only."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.http import (
    BlockedAddress,
    GuardedClient,
    HttpPolicy,
    describe_error,
    fetch,
    guarded_client,
)
from tests.connectors.servers import LoopbackServer, Reply, StaticResolver

MakeClient = Callable[..., GuardedClient]
MakeServer = Callable[..., LoopbackServer]


@pytest.mark.parametrize("target_host", ["127.0.0.2", "::1"])
async def test_redirect_to_a_loopback_address_not_allow_listed_is_refused_before_connecting(
    loopback_server: LoopbackServer,
    make_server: MakeServer,
    http_client: GuardedClient,
    target_host: str,
) -> None:
    target = make_server(target_host)
    target.route("/secret", Reply.json({"secret": True}))
    loopback_server.route("/feed", Reply.redirect(target.url("/secret")))
    with pytest.raises(BlockedAddress) as caught:
        await http_client.get(loopback_server.url("/feed"))
    assert "loopback" in describe_error(caught.value)
    assert target.connections == 0


async def test_redirect_to_ipv4_mapped_form_of_an_allowed_address_is_refused(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    # [::ffff:127.0.0.1] reaches the very same server, but only 127.0.0.1 is allow-listed.
    loopback_server.route(
        "/feed", Reply.redirect(f"http://[::ffff:127.0.0.1]:{loopback_server.port}/x")
    )
    loopback_server.route("/x", Reply.json({}))
    with pytest.raises(BlockedAddress) as caught:
        await http_client.get(loopback_server.url("/feed"))
    assert "IPv4-mapped form of 127.0.0.1, loopback" in str(caught.value)
    assert loopback_server.hits("/x") == 0


async def test_redirect_to_localhost_is_refused_when_only_the_address_is_allow_listed(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/feed", Reply.redirect(f"http://localhost:{loopback_server.port}/x"))
    with pytest.raises(BlockedAddress) as caught:
        await http_client.get(loopback_server.url("/feed"))
    assert "localhost" in str(caught.value)
    assert loopback_server.hits("/x") == 0


async def test_host_name_resolving_to_loopback_is_refused(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    connections_before = loopback_server.connections
    with pytest.raises(BlockedAddress, match=r"resolves to (127\.0\.0\.1|::1), loopback"):
        await http_client.get(f"http://localhost:{loopback_server.port}/")
    assert loopback_server.connections == connections_before


@pytest.mark.parametrize("disguised", ["2130706433", "0x7f000001", "127.1"])
async def test_numeric_disguises_of_loopback_are_refused(
    loopback_server: LoopbackServer, make_http_client: MakeClient, disguised: str
) -> None:
    client = make_http_client(allow_hosts=())
    with pytest.raises(BlockedAddress, match=r"resolves to 127\.0\.0\.1, loopback"):
        await client.get(f"http://{disguised}:{loopback_server.port}/")
    assert loopback_server.connections == 0


async def test_dns_answer_pointing_inside_is_refused_even_if_that_address_is_allow_listed(
    loopback_server: LoopbackServer,
) -> None:
    rebinding = StaticResolver({"news.example": ["127.0.0.1"]})
    client = guarded_client(HttpPolicy(allow_hosts=("127.0.0.1",)), resolver=rebinding)
    async with client:
        with pytest.raises(BlockedAddress, match=r"news\.example: resolves to 127\.0\.0\.1"):
            await client.get(f"http://news.example:{loopback_server.port}/")
    assert loopback_server.connections == 0


async def test_allow_listed_name_connects_to_the_address_it_resolved_to(
    loopback_server: LoopbackServer,
) -> None:
    resolver = StaticResolver({"forum.lan": ["127.0.0.1"]})
    loopback_server.route("/latest.json", Reply.json({"ok": True}))
    async with guarded_client(HttpPolicy(allow_hosts=("forum.lan",)), resolver=resolver) as client:
        first = await client.get(f"http://forum.lan:{loopback_server.port}/latest.json")
        await client.get(f"http://forum.lan:{loopback_server.port}/latest.json")
    assert first.json() == {"ok": True}
    assert loopback_server.requests[0].headers["host"] == f"forum.lan:{loopback_server.port}"
    assert resolver.calls == ["forum.lan"]  # resolved once, then the pooled connection


async def test_allow_listed_ipv6_loopback_is_reachable(make_server: MakeServer) -> None:
    server = make_server("::1")
    server.route("/", Reply.json({"v6": True}))
    async with guarded_client(HttpPolicy(allow_hosts=("::1",))) as client:
        assert (await client.get(server.url("/"))).json() == {"v6": True}


async def test_credentials_do_not_follow_a_redirect_to_another_host(
    loopback_server: LoopbackServer, make_server: MakeServer, make_http_client: MakeClient
) -> None:
    other = make_server("127.0.0.2")
    other.route("/landing", Reply.json({}))
    loopback_server.route("/posts.json", Reply.redirect(other.url("/landing")))
    client = make_http_client(allow_hosts=("127.0.0.1", "127.0.0.2"))
    secrets = {"Api-Key": "k3y", "Api-Username": "system", "Authorization": "Bearer t0k"}
    await client.get(loopback_server.url("/posts.json"), headers=secrets)
    assert loopback_server.requests[0].headers["api-key"] == "k3y"
    landed = other.requests[0].headers
    assert not {"api-key", "api-username", "authorization"} & set(landed)
    assert landed["user-agent"].startswith("Luister/")


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x/"])
async def test_redirect_to_another_scheme_is_refused(
    loopback_server: LoopbackServer, http_client: GuardedClient, location: str
) -> None:
    loopback_server.route("/feed", Reply.redirect(location))
    with pytest.raises(BlockedAddress, match="only http and https"):
        await http_client.get(loopback_server.url("/feed"))


async def test_more_than_five_redirects_are_refused(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    for hop in range(7):
        loopback_server.route(f"/{hop}", Reply.redirect(f"/{hop + 1}"))
    loopback_server.route("/7", Reply.json({}))
    with pytest.raises(httpx.TooManyRedirects) as caught:
        await fetch(http_client, loopback_server.url("/0"))
    assert describe_error(caught.value).startswith("too many redirects")
    assert loopback_server.hits("/6") == 0


def _certificates(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a certificate for `name`: (server context, client context)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Luister test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


async def test_tls_is_verified_against_the_host_name_not_the_pinned_address(
    tmp_path: Path,
) -> None:
    server_tls, client_tls = _certificates(tmp_path, "feeds.test")
    with LoopbackServer("127.0.0.1", ssl_context=server_tls) as server:
        server.route("/", Reply.json({"tls": True}))
        policy = HttpPolicy(allow_hosts=("feeds.test", "127.0.0.1"), retries=0)
        resolver = StaticResolver({"feeds.test": ["127.0.0.1"]})
        async with guarded_client(policy, resolver=resolver, ssl_context=client_tls) as client:
            by_name = await client.get(f"https://feeds.test:{server.port}/")
            assert by_name.json() == {"tls": True}
            with pytest.raises(httpx.ConnectError, match=r"(?i)certificate|hostname|mismatch"):
                await client.get(f"https://127.0.0.1:{server.port}/")
