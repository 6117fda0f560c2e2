"""Hashes, UUIDs and keys (go-cty-funcs crypto and uuid).

`bcrypt` always fails: there is no bcrypt implementation without a new
dependency, and its output is random anyway.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Mapping

from bakeplan.hcl.functions.base import (
    STR_PARAMS,
    CallError,
    Function,
    Impl,
    go_quote,
    int_arg,
    param,
    s,
    table,
)
from bakeplan.hcl.values import NUMBER, Value


def _hash(algo: str) -> Impl:
    def impl(a: list[Value]) -> Value:
        return s(hashlib.new(algo, a[0].v.encode()).hexdigest())

    return impl


def _uuidv4(a: list[Value]) -> Value:
    return s(str(uuid.uuid4()))


_UUID_NAMESPACES = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL, "oid": uuid.NAMESPACE_OID, "x500": uuid.NAMESPACE_X500}


def _uuidv5(a: list[Value]) -> Value:
    ns_text, name = a[0].v, a[1].v
    ns = _UUID_NAMESPACES.get(ns_text)
    if ns is None:
        ns = _parse_google_uuid(ns_text)
    return s(str(uuid.uuid5(ns, name)))


def _parse_google_uuid(text: str) -> uuid.UUID:
    err = None
    if len(text) not in (32, 36, 38, 45):
        err = f"invalid UUID length: {len(text)}"
    else:
        body = text
        if len(text) == 45:
            if text[:9].lower() != "urn:uuid:":
                err = f"invalid urn prefix: {go_quote(text[:9])}"
            body = text[9:]
        elif len(text) == 38:
            body = text[1:-1]
        try:
            if err is None:
                return uuid.UUID(body)
        except ValueError:
            err = "invalid UUID format"
    raise CallError(f"uuidv5() doesn't support namespace {text} ({err})")


def _bcrypt(a: list[Value]) -> Value:
    cost = 10
    if len(a) > 1:
        cost = int_arg(a[1])
    if len(a) > 2:
        raise CallError("bcrypt() takes no more than two arguments")
    raise CallError(f"error occured generating password bcrypt is not available in bakeplan (cost {cost})")


def _rsadecrypt(a: list[Value]) -> Value:
    text, key = a[0].v, a[1].v
    try:
        cipher = base64.b64decode(text, validate=True)
    except ValueError:
        raise CallError(f"failed to decode input {go_quote(text)}: cipher text must be base64-encoded") from None
    der = _pem_body(key)
    if der is None:
        raise CallError("failed to parse key: no key found")
    try:
        nums = _der_ints(der)
        n_mod, d_exp = nums[1], nums[3]
    except (IndexError, ValueError):
        raise CallError("x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)") from None
    if n_mod.bit_length() < 1024:
        # go 1.24's crypto/rsa refuses small keys
        raise CallError(
            f"crypto/rsa: {n_mod.bit_length()}-bit keys are insecure "
            "(see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)"
        )
    k = (n_mod.bit_length() + 7) // 8
    if len(cipher) > k:
        raise CallError("crypto/rsa: decryption error")
    m = pow(int.from_bytes(cipher, "big"), d_exp, n_mod).to_bytes(k, "big")
    sep = m.find(b"\x00", 2)
    if m[:2] != b"\x00\x02" or sep < 10:
        raise CallError("crypto/rsa: decryption error")
    return s(m[sep + 1 :].decode("utf-8", "replace"))


def _pem_body(text: str) -> bytes | None:
    m = re.search(r"-----BEGIN ([A-Z ]+)-----\s*(.*?)-----END \1-----", text, re.S)
    if m is None:
        return None
    body = "".join(line for line in m.group(2).splitlines() if ":" not in line)
    try:
        return base64.b64decode("".join(body.split()))
    except ValueError:
        return None


def _der_ints(der: bytes) -> list[int]:
    """The INTEGERs of a PKCS#1 RSAPrivateKey SEQUENCE."""
    pos, length = _der_header(der, 0, 0x30)
    end = pos + length
    out = []
    while pos < end:
        pos, length = _der_header(der, pos, 0x02)
        out.append(int.from_bytes(der[pos : pos + length], "big", signed=True))
        pos += length
    return out


def _der_header(der: bytes, pos: int, tag: int) -> tuple[int, int]:
    if der[pos] != tag:
        raise ValueError("unexpected DER tag")
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    return pos, length


TABLE: Mapping[str, Function] = table(
    ("bcrypt", STR_PARAMS, param("cost", NUMBER), _bcrypt),
    ("md5", STR_PARAMS, None, _hash("md5")),
    ("rsadecrypt", (param("ciphertext"), param("privatekey")), None, _rsadecrypt),
    ("sha1", STR_PARAMS, None, _hash("sha1")),
    ("sha256", STR_PARAMS, None, _hash("sha256")),
    ("sha512", STR_PARAMS, None, _hash("sha512")),
    ("uuidv4", (), None, _uuidv4),
    ("uuidv5", (param("namespace"), param("name")), None, _uuidv5),
)
