#!/usr/bin/env python3
#
# Known-answer vectors for NVMe DH-HMAC-CHAP (NVMe Base Specification 2.x,
# section 8.3.5), computed with the Python 3 standard library only, so that
# tests/unit/test-nvmet-kat.c checks the engine's C code against an
# independent implementation.
#
#   scripts/dhchap-kat.py > tests/vectors/dhchap-kat.txt
#
# The output is deterministic.  Every input is either spelled out below or
# derived from a spelled-out label with fixed_bytes(); every input also
# appears in the output, next to the values computed from it.
#
# SPDX-License-Identifier: GPL-2.0-or-later

import base64
import hashlib
import hmac
import sys
import zlib

HASHES = {1: 'sha256', 2: 'sha384', 3: 'sha512'}
HASH_LEN = {1: 32, 2: 48, 3: 64}

# ---- RFC 7919 FFDHE groups ------------------------------------------------
#
# RFC 7919 appendix A defines each prime as
#   p = 2^b - 2^(b-64) + {[2^(b-130) e] + X} * 2^64 - 1
# with e the base of the natural logarithm, [.] the floor function and X
# the smallest offset that makes p a safe prime; the generator is 2.  The
# values of b and X are those of the RFC; the primes are rebuilt from them
# here, checked against the leading and trailing words printed in the RFC
# and tested for being safe primes.

# gid: (name, bits b, X, private exponent bits used by the engine)
GROUPS = {
    1: ('ffdhe2048', 2048, 560316, 225),
    2: ('ffdhe3072', 3072, 2625351, 275),
    3: ('ffdhe4096', 4096, 5736041, 325),
    4: ('ffdhe6144', 6144, 15705020, 375),
    5: ('ffdhe8192', 8192, 10965728, 400),
}

# the last 64-bit word before the final FFFFFFFFFFFFFFFF of each prime, as
# printed in RFC 7919 appendix A
RFC_TAIL = {
    1: 0x886B423861285C97,
    2: 0x25E41D2B66C62E37,
    3: 0xC68A007E5E655F6A,
    4: 0xA40E329CD0E40E65,
    5: 0xD68C8BB7C5C6424C,
}


def floor_e_scaled(shift):
    """floor(e * 2^shift), from the series e = sum 1/k!."""
    guard = 64
    one = 1 << (shift + guard)
    total, term, k = 0, one, 0
    while term:
        total += term
        k += 1
        term //= k
    # each truncated term errs by less than one unit: k units in all
    return (total - k) >> guard, (total + k) >> guard


def is_probable_prime(n, bases=(3, 5, 7)):
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def ffdhe_prime(gid):
    name, b, x, _ = GROUPS[gid]
    lo, hi = floor_e_scaled(b - 130)
    assert lo == hi, 'not enough precision for e'
    p = 2**b - 2**(b - 64) + (lo + x) * 2**64 - 1
    assert p.bit_length() == b
    assert p >> (b - 128) == 0xFFFFFFFFFFFFFFFFADF85458A2BB4A9A, name
    assert (p >> 64) & (2**64 - 1) == RFC_TAIL[gid], name
    assert p & (2**64 - 1) == 2**64 - 1, name
    return p


PRIMES = {}


def prime(gid):
    if gid not in PRIMES:
        p = ffdhe_prime(gid)
        q = (p - 1) // 2
        assert is_probable_prime(p) and is_probable_prime(q), \
            GROUPS[gid][0] + ' is not a safe prime'
        assert pow(2, q, p) == 1
        PRIMES[gid] = p
    return PRIMES[gid]


def dh_len(gid):
    return GROUPS[gid][1] // 8


def i2b(n, length):
    return n.to_bytes(length, 'big')


def b2i(b):
    return int.from_bytes(b, 'big')


def private_exponent(gid, raw):
    """The engine's exponent from random bytes: the low exp_bits bits of the
    big-endian number, with the top one of them set.  Returned as the
    big-endian byte string that yields it, so C and Python agree."""
    bits = GROUPS[gid][3]
    nbytes = (bits + 7) // 8
    x = b2i(raw[:nbytes]) % (1 << bits) | (1 << (bits - 1))
    return i2b(x, nbytes)


def leading_zero(gid, hid, xh, xc, hpub, cpub, shared):
    """Increment the host's (SHA-256, SHA-384) or the controller's
    (SHA-512) exponent until the host public value, the shared secret or
    the controller public value respectively starts with a zero byte."""
    p, plen = prime(gid), dh_len(gid)
    bits = GROUPS[gid][3]
    x = b2i(xc if hid == 3 else xh)
    # g^(x+1) = g^x * g; (g^xc)^(xh+1) = shared * g^xc
    step = b2i(cpub) if hid == 2 else 2
    v = b2i({1: hpub, 2: shared, 3: cpub}[hid])
    while i2b(v, plen)[0] != 0:
        x += 1
        v = v * step % p
    assert x >> (bits - 1) == 1
    xb = i2b(x, (bits + 7) // 8)
    if hid == 3:
        xc = xb
        cpub = i2b(v, plen)
        shared = i2b(pow(b2i(cpub), b2i(xh), p), plen)
    else:
        xh = xb
        hpub = i2b(pow(2, x, p), plen)
        shared = i2b(pow(b2i(cpub), x, p), plen)
    assert {1: hpub, 2: shared, 3: cpub}[hid][0] == 0
    return xh, xc, hpub, cpub, shared


# ---- deterministic inputs ---------------------------------------------------

def fixed_bytes(label, n):
    """n arbitrary but fixed bytes: SHA-512(label || counter) blocks."""
    out = b''
    ctr = 0
    while len(out) < n:
        out += hashlib.sha512(label.encode() + ctr.to_bytes(4, 'big')).digest()
        ctr += 1
    return out[:n]


# Secrets for the parse/transform vectors, spelled out.
KEY32 = bytes.fromhex(
    '5a1e0c3b9d7f2468ace013579bdf0246'
    '8ace13579bdf02468a0c1e2f3a4b5c6d')
KEY48 = bytes.fromhex(
    'f00dfacecafebabedeadbeef01234567'
    '89abcdef0f1e2d3c4b5a69788796a5b4'
    'c3d2e1f0102132435465768798a9bacb')
KEY64 = bytes.fromhex(
    '0102030405060708090a0b0c0d0e0f10'
    'e1d2c3b4a5968778695a4b3c2d1e0ff0'
    '7766554433221100ffeeddccbbaa9988'
    '13579bdf2468ace0fdb97531eca86420')
KEYS = {32: KEY32, 48: KEY48, 64: KEY64}

HOSTNQN = ('nqn.2014-08.org.nvmexpress:uuid:'
           '6b1f2d34-5c7e-4a90-8b12-c3d4e5f60718')
SUBNQN = 'nqn.2024-01.org.qemu:kat-subsystem'
HOSTNQN2 = ('nqn.2014-08.org.nvmexpress:uuid:'
            '00000000-0000-4000-8000-0000000000ff')
SUBNQN2 = 'nqn.2019-08.org.qemu:nvme-kat.subsystem.with.a.longer.name'


# ---- DH-HMAC-CHAP computations ----------------------------------------------

def dhchap_secret(key, xx, crc_delta=0):
    """The DHHC-1 interchange string of @key with transformation hash @xx."""
    crc = (zlib.crc32(key) ^ crc_delta) & 0xffffffff
    b64 = base64.b64encode(key + crc.to_bytes(4, 'little')).decode()
    return 'DHHC-1:%02d:%s:' % (xx, b64)


def transform(key, xx, nqn):
    if xx == 0:
        return key
    return hmac.new(key, nqn.encode() + b'NVMe-over-Fabrics',
                    HASHES[xx]).digest()


def augment(hid, ks, c):
    if ks is None:
        return c
    return hmac.new(ks, c, HASHES[hid]).digest()


def response(hid, tkey, ca, seq, tid, sc_c, role, nqn_a, nqn_b):
    msg = (ca + seq.to_bytes(4, 'little') + tid.to_bytes(2, 'little') +
           bytes([sc_c]) + role + nqn_a.encode() + b'\x00' + nqn_b.encode())
    return hmac.new(tkey, msg, HASHES[hid]).digest()


# ---- output ----------------------------------------------------------------

def record(out, fields):
    for k, v in fields:
        if isinstance(v, bytes):
            v = v.hex()
        out.append('%s = %s' % (k, v))
    out.append('')


def parse_vectors(out):
    for xx, klen in ((0, 32), (1, 48), (2, 64), (3, 32), (3, 64)):
        key = KEYS[klen]
        record(out, [('type', 'parse'), ('secret', dhchap_secret(key, xx)),
                     ('valid', 1), ('hmac', xx), ('key', key)])
    invalid = [
        # bad CRC: one bit of the stored CRC flipped
        dhchap_secret(KEY32, 1, crc_delta=0x00000100),
        dhchap_secret(KEY64, 0, crc_delta=0x80000000),
        # 40 bytes with a correct CRC: not a valid key length
        dhchap_secret(KEY48[:40], 0),
        # transformation hash 04 does not exist
        dhchap_secret(KEY32, 4),
    ]
    for s in invalid:
        record(out, [('type', 'parse'), ('secret', s), ('valid', 0)])


def transform_vectors(out):
    for xx in range(4):
        for klen in (32, 48, 64):
            key = KEYS[klen]
            nqn = HOSTNQN if (xx + klen // 16) % 2 else SUBNQN2
            record(out, [('type', 'transform'),
                         ('secret', dhchap_secret(key, xx)),
                         ('nqn', nqn), ('key', key),
                         ('transformed', transform(key, xx, nqn))])


def exchange_vectors(out):
    n = 0
    for hid in (1, 2, 3):
        hl = HASH_LEN[hid]
        for gid in range(6):
            for sc_c in (0, 1):
                lbl = 'kat hash %d group %d sc_c %d ' % (hid, gid, sc_c)
                hostnqn, subnqn = ((HOSTNQN, SUBNQN) if n % 2 == 0 else
                                   (HOSTNQN2, SUBNQN2))
                hxx, cxx = n % 4, (n + 1) % 4
                hkey = fixed_bytes(lbl + 'host key', (32, 48, 64)[n % 3])
                ckey = fixed_bytes(lbl + 'ctrl key', (32, 48, 64)[(n + 1) % 3])
                tid = b2i(fixed_bytes(lbl + 'tid', 2))
                s1 = b2i(fixed_bytes(lbl + 's1', 4)) or 1
                s2 = b2i(fixed_bytes(lbl + 's2', 4)) or 1
                c1 = fixed_bytes(lbl + 'c1', hl)
                c2 = fixed_bytes(lbl + 'c2', hl)
                kh = transform(hkey, hxx, hostnqn)
                kc = transform(ckey, cxx, subnqn)
                fields = [
                    ('type', 'exchange'), ('hash', hid), ('group', gid),
                    ('sc_c', sc_c), ('hostnqn', hostnqn), ('subnqn', subnqn),
                    ('host_secret', dhchap_secret(hkey, hxx)),
                    ('ctrl_secret', dhchap_secret(ckey, cxx)),
                    ('kh', kh), ('kc', kc), ('tid', tid), ('s1', s1),
                    ('s2', s2), ('c1', c1), ('c2', c2),
                ]
                ks = None
                if gid:
                    p, plen = prime(gid), dh_len(gid)
                    xh = private_exponent(gid, fixed_bytes(lbl + 'host x', 64))
                    xc = private_exponent(gid, fixed_bytes(lbl + 'ctrl x', 64))
                    hpub = i2b(pow(2, b2i(xh), p), plen)
                    cpub = i2b(pow(2, b2i(xc), p), plen)
                    shared = i2b(pow(b2i(cpub), b2i(xh), p), plen)
                    if sc_c == 1:
                        # pin down the padding: step one exponent until a
                        # value has a leading zero byte, the host public
                        # value (SHA-256), the shared secret (SHA-384) or
                        # the controller public value (SHA-512)
                        xh, xc, hpub, cpub, shared = leading_zero(
                            gid, hid, xh, xc, hpub, cpub, shared)
                    assert shared == i2b(pow(b2i(hpub), b2i(xc), p), plen)
                    ks = hashlib.new(HASHES[hid], shared).digest()
                    fields += [('host_priv', xh), ('ctrl_priv', xc),
                               ('host_pub', hpub), ('ctrl_pub', cpub),
                               ('shared', shared), ('ks', ks)]
                ca1 = augment(hid, ks, c1)
                ca2 = augment(hid, ks, c2)
                r1 = response(hid, kh, ca1, s1, tid, sc_c, b'HostHost',
                              hostnqn, subnqn)
                r2 = response(hid, kc, ca2, s2, tid, sc_c, b'Controller',
                              subnqn, hostnqn)
                fields += [('ca1', ca1), ('ca2', ca2), ('r1', r1), ('r2', r2)]
                record(out, fields)
                n += 1


def main():
    out = [
        '# DH-HMAC-CHAP known-answer vectors (NVMe Base Specification 2.x,',
        '# section 8.3.5), generated by scripts/dhchap-kat.py with the Python',
        '# standard library only:',
        '#   scripts/dhchap-kat.py > tests/vectors/dhchap-kat.txt',
        '# Do not edit; regenerate.  Records are "key = value" lines separated',
        '# by blank lines; byte strings are hex, numbers decimal.',
        '#',
        '# type = parse:     DHHC-1 secret -> valid, transformation hash, key',
        '# type = transform: key transformed with the NQN (hash of the secret)',
        '# type = exchange:  one DH-HMAC-CHAP transaction: the secrets, T_ID,',
        '#   S1/S2, C1/C2, for DH groups the private exponents (big-endian),',
        '#   public values g^x mod p, shared secret g^xy mod p (padded to',
        '#   the prime size) and Ks = H(shared); Ca1/Ca2 (augmented, or C',
        '#   itself for the NULL group), host response R1 and controller',
        '#   response R2.  kh/kc are the transformed host/controller keys.',
        '#',
        '# SPDX-License-Identifier: GPL-2.0-or-later',
        '',
    ]
    parse_vectors(out)
    transform_vectors(out)
    exchange_vectors(out)
    sys.stdout.write('\n'.join(out))


if __name__ == '__main__':
    main()
