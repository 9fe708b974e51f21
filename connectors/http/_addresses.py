"""Which addresses the guarded client may connect to, and the self-hoster's allow-list."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from connectors.http._errors import BlockedAddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), reason) for net, reason in pairs)


# Explicit, because `is_global` calls several of these global (multicast, 192.0.0.8, ...).
# Based on the IANA special-purpose registries; order only matters for the reason shown.
_IPV4_DENY = _nets(
    ("0.0.0.0/8", "'this network' (unspecified)"),
    ("10.0.0.0/8", "private network"),
    ("100.64.0.0/10", "carrier-grade NAT (shared address space)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata lives here)"),
    ("172.16.0.0/12", "private network"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation range"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private network"),
    ("198.18.0.0/15", "benchmarking range"),
    ("198.51.100.0/24", "documentation range"),
    ("203.0.113.0/24", "documentation range"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved (and broadcast)"),
)

_IPV6_DENY = _nets(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo tunnel"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation range"),
    ("2002::/16", "6to4 tunnel"),
    ("3fff::/20", "documentation range"),
    ("5f00::/16", "segment routing (SRv6)"),
    ("fc00::/7", "unique local (private network)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# An allow-list entry wider than this would amount to switching the guard off.
_MIN_PREFIX = {4: 8, 6: 7}


def deny_reason(ip: IPAddress) -> str | None:
    """Why `ip` must not be reached, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            kind, v4 = inner
            reason = deny_reason(v4)
            return f"{kind} form of {v4}, {reason}" if reason else None
        table: tuple[tuple[IPNetwork, str], ...] = _IPV6_DENY
    else:
        table = _IPV4_DENY
    for network, reason in table:
        if ip in network:
            return _with_embedded(ip, reason)
    # Defence in depth: anything the stdlib does not call global stays out too.
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "not a globally routable address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv4-mapped or NAT64 address stands for."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _with_embedded(ip: IPAddress, reason: str) -> str:
    """Name the IPv4 address a tunnel address wraps, so the refusal explains itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if wrapped is not None:
            return f"{reason} wrapping {wrapped}"
    return reason


@dataclass(frozen=True)
class AllowList:
    """Destinations admitted even though they are private: named hosts and IP networks.

    A host-name entry admits that name whatever it resolves to. An IP or CIDR entry admits URLs
    whose host is a literal address inside it, compared exactly (no unwrapping), so
    `127.0.0.1` admits `http://127.0.0.1/` but neither `localhost` nor `[::ffff:127.0.0.1]`.
    An entry with a port (`127.0.0.1:8123`, `[::1]:8123`, `forum.lan:8080`) admits that one
    host and port only: the demo's loopback sandbox opens nothing else on the machine.
    """

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    #: (host name or address text, port) pairs admitted at that port only.
    endpoints: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Build from setting strings such as `forum.internal`, `10.1.2.3`, `fd00::/8`."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        endpoints: set[tuple[str, int]] = set()
        for raw in entries:
            with_port = _host_and_port(raw)
            if with_port is not None:
                endpoints.add(with_port)
                continue
            entry = raw.strip().strip("[]").lower().rstrip(".")
            if not entry or "*" in entry:
                raise ValueError(f"allow-list entry {raw!r} is not a host, address or network")
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                names.add(entry)
                continue
            if network.prefixlen < _MIN_PREFIX[network.version]:
                raise ValueError(f"allow-list entry {raw!r} is too wide; name the hosts instead")
            networks.append(network)
        return cls(frozenset(names), tuple(networks), frozenset(endpoints))

    def admits_name(self, host: str, port: int | None = None) -> bool:
        """Whether `host` is listed by name (or, with `port`, listed at that port)."""
        name = host.lower().rstrip(".")
        return name in self.names or (port is not None and (name, port) in self.endpoints)

    def admits_address(self, ip: IPAddress, port: int | None = None) -> bool:
        """Whether `ip` lies in a listed network of its own IP version (or, with `port`, is
        listed at that port)."""
        if port is not None and (str(ip), port) in self.endpoints:
            return True
        return any(ip.version == net.version and ip in net for net in self.networks)


_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d{1,5})$")


def _host_and_port(raw: str) -> tuple[str, int] | None:
    """`host:port` or `[v6]:port` as (normalised host, port); None for an entry without a port."""
    found = _HOST_PORT.match(raw.strip())
    if found is None:
        return None
    port = int(found["port"])
    if not 0 < port < 65536:
        raise ValueError(f"allow-list entry {raw!r} has no valid port")
    host = (found["v6"] or found["host"]).lower().rstrip(".")
    ip = parse_ip(host)
    if found["v6"] is not None and ip is None:
        raise ValueError(f"allow-list entry {raw!r} is not an address in brackets")
    return (str(ip) if ip is not None else host), port


def parse_ip(value: str) -> IPAddress | None:
    """The address in `value` (brackets and zone allowed), or None for a host name."""
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None


def check_address(
    ip: IPAddress | str, allow: AllowList | Iterable[str] = (), *, port: int | None = None
) -> None:
    """Raise `BlockedAddress` unless `ip` is public unicast or admitted by `allow` (entries
    with a port admit only a connection to that port)."""
    address = ipaddress.ip_address(ip.strip("[]")) if isinstance(ip, str) else ip
    allow_list = allow if isinstance(allow, AllowList) else AllowList.parse(allow)
    if allow_list.admits_address(address, port):
        return
    reason = deny_reason(address)
    if reason is not None:
        raise BlockedAddress(reason, address=str(address), host=str(address))
