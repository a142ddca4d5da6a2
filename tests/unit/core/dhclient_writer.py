"""Lease blocks written the way ISC dhclient 4.4 writes them (client/dhclient.c
write_client_lease / write_client6_lease, common/options.c pretty_escape), for the tests."""

from __future__ import annotations

import time
from collections.abc import Sequence

from netevd.core.model import Lease

ESCAPED = "\"'$`\\|&"


def escape(text: str) -> str:
    """pretty_escape: non-printable bytes as \\NNN (octal), a few characters after a backslash."""
    out = []
    for byte in text.encode("latin-1"):
        char = chr(byte)
        if byte < 0x20 or byte > 0x7E:
            out.append(f"\\{byte:03o}")
        elif char in ESCAPED:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def quoted(text: str) -> str:
    return f'"{escape(text)}"'


def search_list(names: Sequence[str]) -> str:
    return ", ".join(quoted(name + ".") for name in names)


def when(epoch: int | None, style: str = "utc") -> str:
    if epoch is None:
        return "never;"
    if style == "epoch":
        return f"epoch {epoch}; # {time.ctime(epoch)}"
    t = time.gmtime(epoch)
    return time.strftime("%w %Y/%m/%d %H:%M:%S;", t)


def v4_options(lease: Lease) -> list[str]:
    """The lease's options, one line each (dhclient writes them in the order it received them)."""
    lines = []
    if lease.subnet_mask is not None:
        lines.append(f"option subnet-mask {lease.subnet_mask};")
    if lease.routers:
        lines.append(f"option routers {','.join(lease.routers)};")
    if lease.lease_time is not None:
        lines.append(f"option dhcp-lease-time {lease.lease_time};")
    lines.append("option dhcp-message-type 5;")
    if lease.dns:
        lines.append(f"option domain-name-servers {','.join(lease.dns)};")
    if lease.server is not None:
        lines.append(f"option dhcp-server-identifier {lease.server};")
    if lease.search:
        lines.append(f"option domain-search {search_list(lease.search)};")
    if lease.broadcast is not None:
        lines.append(f"option broadcast-address {lease.broadcast};")
    if lease.mtu is not None:
        lines.append(f"option interface-mtu {lease.mtu};")
    if lease.host_name is not None:
        lines.append(f"option host-name {quoted(lease.host_name)};")
    if lease.domain is not None:
        lines.append(f"option domain-name {quoted(lease.domain)};")
    return lines


def v4_block(
    lease: Lease,
    *,
    order: Sequence[int] | None = None,
    style: str = "utc",
    interface: str | None = None,
) -> str:
    options = v4_options(lease)
    if order is not None:
        options = [options[i % len(options)] for i in order if i < len(options)]
        options += [line for line in v4_options(lease) if line not in options]
    lines = [
        "lease {",
        # dhclient writes the interface name as it is, unescaped
        f'  interface "{lease.interface if interface is None else interface}";',
        f"  fixed-address {lease.address};",
        *(f"  {line}" for line in options),
        f"  renew {when(lease.renew, style)}",
        f"  rebind {when(lease.rebind, style)}",
        f"  expire {when(lease.expire, style)}",
        "}",
    ]
    return "\n".join(lines) + "\n"


def v6_block(
    interface: str,
    address: str,
    *,
    starts: int,
    t1: int,
    t2: int,
    max_life: int,
    dns: Sequence[str] = (),
    search: Sequence[str] = (),
    released: bool = False,
) -> str:
    lines = [
        "lease6 {",
        f'  interface "{interface}";',
        "  ia-na 5b:f2:6f:2a {",
        f"    starts {starts};",
        f"    renew {t1};",
        f"    rebind {t2};",
        f"    iaaddr {address} {{",
        f"      starts {starts};",
        f"      preferred-life {max_life};",
        f"      max-life {max_life};",
        "    }",
        "  }",
    ]
    if released:
        lines.append("  released;")
    lines.append("  option dhcp6.client-id 0:1:0:1:32:9a:8c:df:4e:2b:5b:f2:6f:2a;")
    if dns:
        lines.append(f"  option dhcp6.name-servers {','.join(dns)};")
    if search:
        lines.append(f"  option dhcp6.domain-search {search_list(search)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
