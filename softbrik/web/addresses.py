"""The client's address, from forwarding headers only behind trusted proxies (R-SEC-1, R-SEC-3).

Behind a load balancer every request comes from the balancer's address; the client's own is in
`Forwarded` (RFC 7239) or `X-Forwarded-For`. Anyone can send those headers, so they count only
when the peer is a proxy listed in `SOFTBRIK_TRUSTED_PROXIES` (CIDRs). The list is read from the
right, the hop nearest to us first: each hop appended by a trusted proxy is passed over until
the first address a trusted proxy saw but did not itself send, which is the client. Entries to
the left of it were written by the client and are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalized(value: str) -> str | None:
    """An address from a header entry (quotes, `[v6]`, `:port` stripped), or None if it is not
    an IP address (`unknown`, obfuscated identifiers)."""
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def forwarded_hops(headers: Any) -> list[str]:
    """The forwarded-for chain, client first: `Forwarded` if sent, else `X-Forwarded-For`."""
    forwarded = headers.getlist("forwarded")
    if forwarded:
        hops = []
        for element in ",".join(forwarded).split(","):
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.lower() == "for":
                    hops.append(value)
        return hops
    return [hop for line in headers.getlist("x-forwarded-for") for hop in line.split(",")]


class TrustedProxies:
    """The proxies whose forwarding headers count (`SOFTBRIK_TRUSTED_PROXIES`)."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self.networks: Sequence[Network] = [
            ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip()
        ]

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, peer: str, headers: Any) -> str:
        """The client's address of a request from `peer` with `headers`."""
        if not self.networks or not self.trusts(peer):
            return peer
        nearest = peer
        for hop in reversed(forwarded_hops(headers)):
            address = normalized(hop)
            if address is None:
                break  # the proxy nearest to it could not tell: it is our best knowledge
            if not self.trusts(address):
                return address
            nearest = address
        return nearest
