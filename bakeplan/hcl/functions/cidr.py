"""CIDR arithmetic (go-cty-funcs/cidr over apparentlymart/go-cidr).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from bakeplan.hcl.functions.base import (
    ArgError,
    CallError,
    Function,
    int_arg,
    param,
    s,
    table,
)
from bakeplan.hcl.values import NUMBER, STRING, ListType, Value


def _parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        if "/" not in text:
            raise ValueError
        addr, _, bits = text.partition("/")
        if not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
            raise ValueError
        if "%" in addr:
            raise ValueError
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise CallError(f"invalid CIDR expression: invalid CIDR address: {text}") from None


def _cidrhost(a: list[Value]) -> Value:
    host = int_arg(a[1])
    net = _parse_cidr(a[0].v)
    host_len = net.max_prefixlen - net.prefixlen
    max_host = (1 << host_len) - 1
    num = host
    mag = host
    if host < 0:
        mag = -host - 1
        num = max_host - mag
    if mag > max_host:
        raise CallError(f"prefix of {net.prefixlen} does not accommodate a host numbered {host}")
    addr = int(net.network_address) + num
    return s(str(ipaddress.ip_address(addr) if net.version == 4 else ipaddress.IPv6Address(addr)))


def _cidrnetmask(a: list[Value]) -> Value:
    net = _parse_cidr(a[0].v)
    return s(str(net.netmask))


def _cidrsubnet(a: list[Value]) -> Value:
    newbits = int_arg(a[1])
    netnum = int_arg(a[2])
    net = _parse_cidr(a[0].v)
    if newbits > 32:
        raise CallError("may not extend prefix by more than 32 bits")
    new_len = net.prefixlen + newbits
    if new_len > net.max_prefixlen:
        raise CallError(f"insufficient address space to extend prefix of {net.prefixlen} by {newbits}")
    if netnum < 0 or netnum > (1 << newbits) - 1:
        raise CallError(f"prefix extension of {newbits} does not accommodate a subnet numbered {netnum}")
    base = int(net.network_address) + (netnum << (net.max_prefixlen - new_len))
    return s(f"{_ip_str(base, net.version)}/{new_len}")


def _ip_str(value: int, version: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def _cidrsubnets(a: list[Value]) -> Value:
    try:
        net = _parse_cidr(a[0].v)
    except CallError as e:
        raise ArgError(0, str(e)) from None
    lengths = a[1:]
    if not lengths:
        return Value(ListType(STRING), ())
    total_bits = net.max_prefixlen
    start_len = net.prefixlen
    first = int_arg(lengths[0], 1) + start_len
    net_start = int(net.network_address)
    net_end = net_start + (1 << (total_bits - start_len)) - 1
    # the subnet of the first length just before the network (go-cidr PreviousSubnet)
    cur_start = (net_start - (1 << (total_bits - first))) % (1 << total_bits) if first <= total_bits else net_start
    cur_len = first
    out: list[Value] = []
    for i, lv in enumerate(lengths):
        length = int_arg(lv, i + 1)
        if length < 1:
            raise ArgError(i + 1, "must extend prefix by at least one bit")
        if length > 32:
            raise ArgError(i + 1, "may not extend prefix by more than 32 bits")
        length += start_len
        if length > total_bits:
            proto = "IPv4" if total_bits == 32 else "IPv6"
            raise ArgError(i + 1, f"would extend prefix to {length} bits, which is too long for an {proto} address")
        cur_last = cur_start + (1 << (total_bits - cur_len)) - 1
        size = 1 << (total_bits - length)
        sub_start = cur_last & ~(size - 1)
        nxt = sub_start + size
        rollover = nxt >= (1 << total_bits)
        nxt %= 1 << total_bits
        if rollover or not (net_start <= nxt <= net_end):
            cur_text = f"{_ip_str(cur_start, net.version)}/{cur_len}"
            raise ArgError(
                i + 1,
                f"not enough remaining address space for a subnet with a prefix of {length} bits after {cur_text}",
            )
        cur_start, cur_len = nxt, length
        out.append(s(f"{_ip_str(cur_start, net.version)}/{cur_len}"))
    return Value(ListType(STRING), tuple(out))


TABLE: Mapping[str, Function] = table(
    ("cidrhost", (param("prefix"), param("hostnum", NUMBER)), None, _cidrhost),
    ("cidrnetmask", (param("prefix"),), None, _cidrnetmask),
    ("cidrsubnet", (param("prefix"), param("newbits", NUMBER), param("netnum", NUMBER)), None, _cidrsubnet),
    ("cidrsubnets", (param("prefix"),), param("newbits", NUMBER), _cidrsubnets),
)
