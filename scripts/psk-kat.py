#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# NVMe/TCP TLS PSK known-answer vectors, computed with the Python standard
# library only (hashlib, hmac, base64, zlib), independently of the engine's
# C code:
#   scripts/psk-kat.py > tests/vectors/psk-kat.txt
#
# Formulas (NVMe TCP Transport spec 3.6.1, TP 8018; as implemented by the
# Linux kernel in drivers/nvme/common/auth.c and by libnvme):
#   interchange  "NVMeTLSkey-1:HH:" base64(PSK || le32(crc32(PSK))) ":"
#                HH 00: no transform, 01: SHA-256, 02: SHA-384
#   retained     HH 00: the configured PSK itself; otherwise
#                HKDF-Expand-Label(HKDF-Extract(0, PSK), "HostNQN", NQNh, L)
#   digest       base64(HMAC(PSK', NQNh || " " || NQNc || " NVMe-over-Fabrics"))
#   TLS PSK      HKDF-Expand-Label(HKDF-Extract(0, PSK'), "nvme-tls-psk",
#                ctx, L), ctx = "HH digest" (version 1) or the whole
#                identity "NVMe0RHH NQNh NQNc" (version 0)
#   generated    PSK = HMAC(Ks, C1 || C2) (secure channel concatenation)
# HKDF-Expand-Label is RFC 8446's, with the "tls13 " label prefix.
import base64
import hashlib
import hmac
import zlib

HASHES = {1: hashlib.sha256, 2: hashlib.sha384, 3: hashlib.sha512}


def hlen(hid):
    return HASHES[hid]().digest_size


def hmac_h(hid, key, data):
    return hmac.new(key, data, HASHES[hid]).digest()


def hkdf_extract(hid, ikm):
    return hmac_h(hid, bytes(hlen(hid)), ikm)


def hkdf_expand_label(hid, prk, label, ctx, length):
    label = b"tls13 " + label
    info = (length.to_bytes(2, "big") + bytes([len(label)]) + label +
            bytes([len(ctx)]) + ctx)
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac_h(hid, prk, t + info + bytes([i]))
        out += t
        i += 1
    return out[:length]


def interchange(hh, key):
    crc = zlib.crc32(key).to_bytes(4, "little")
    return "NVMeTLSkey-1:%02d:%s:" % (hh, base64.b64encode(key + crc).decode())


def cipher_hash(hh, key):
    """Hash of the identity / cipher suite: HH, or by length for HH 00."""
    return hh if hh else {32: 1, 48: 2}[len(key)]


def retained(hh, key, hostnqn):
    if hh == 0:
        return key
    prk = hkdf_extract(hh, key)
    return hkdf_expand_label(hh, prk, b"HostNQN", hostnqn.encode(), len(key))


def digest(hid, psk, hostnqn, subnqn):
    d = hmac_h(hid, psk, (hostnqn + " " + subnqn + " NVMe-over-Fabrics").encode())
    return base64.b64encode(d).decode()


def tls_psk(hid, psk, ctx):
    prk = hkdf_extract(hid, psk)
    return hkdf_expand_label(hid, prk, b"nvme-tls-psk", ctx.encode(), hlen(hid))


def record(**kv):
    for k, v in kv.items():
        if isinstance(v, bytes):
            v = v.hex()
        print("%s = %s" % (k, v))
    print()


def pattern(n, seed):
    return hashlib.sha512(b"psk-kat %d" % seed).digest()[:n]


HOST = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
SUBS = "nqn.2026-01.org.qemu:nvmet-psk"


def configured_vectors():
    cases = [
        (0, pattern(32, 1)), (0, pattern(48, 2)),
        (1, pattern(32, 3)), (2, pattern(48, 4)),
        (1, bytes(range(32))), (2, bytes(range(48))),
    ]
    nqns = [(HOST, SUBS), ("nqn.2014-08.org.nvmexpress:uuid:host-b",
                           "nqn.2014-08.org.nvmexpress:uuid:subsys-b")]
    for n, (hh, key) in enumerate(cases):
        hostnqn, subnqn = nqns[n % 2]
        record(type="interchange", string=interchange(hh, key), hmac=hh,
               key=key)
        ret = retained(hh, key, hostnqn)
        hid = cipher_hash(hh, key)
        record(type="retained", hmac=hh, key=key, hostnqn=hostnqn,
               retained=ret)
        dig = digest(hid, ret, hostnqn, subnqn)
        ident1 = "NVMe1R%02d %s %s %s" % (hid, hostnqn, subnqn, dig)
        record(type="tls", version=1, string=interchange(hh, key),
               hostnqn=hostnqn, subnqn=subnqn, hash=hid, retained=ret,
               digest=dig, identity=ident1,
               tls_psk=tls_psk(hid, ret, "%02d %s" % (hid, dig)))
        ident0 = "NVMe0R%02d %s %s" % (hid, hostnqn, subnqn)
        record(type="tls", version=0, string=interchange(hh, key),
               hostnqn=hostnqn, subnqn=subnqn, hash=hid, retained=ret,
               identity=ident0, tls_psk=tls_psk(hid, ret, ident0))


# Linux drivers/nvme/common/tests/auth_kunit.c: Ks = 'A' + i, C1 = i,
# C2 = 0xff - i, NQNs "hostnqn" / "subsysnqn"; expected values from there.
KUNIT = {
    1: ("1733c59fa7f48fcf37f5f26fc4ff0268ad4f78e030f4f3b0bfd1d47e7bb1447a",
        "OldoKuTfKddMuyCznAZojkWD7P4D9/AtzDzLimtOxqI=",
        "3c17da628474a04d2247c4cab47968c915388193f7c071bd9489cc3666cd7cc8"),
    2: ("f14b2dd3234c459694d3bc63f8968bd6b37c2c6de849e22e118749001ce4bbe8"
        "640b9e3a748cb11ce4b1d71d359cce39",
        "cffMWk8TSS7HOQebjgYEIkrPrjWPV4JE5cdPB8WhEvY4JBW5YynKyv66XscN4A9n",
        "2774753233537b3fa50eb7d16a8e43457d85f4906c005b2236616c5d80939d08"
        "98fff15bb8b77119d2be0aac423e7590"),
    3: ("9c9f089a618b47d2d75f4b6c2807042448 7b445dd96e70c4c09b55e8b6000152"
        "a3363c3454043f38f0b85036ded40655350aa87b8b6a282b5c1acae16233dd5b"
        .replace(" ", ""), None, None),
}


def generated_vectors():
    for hid in (1, 2, 3):
        n = hlen(hid)
        skey = bytes(ord("A") + i for i in range(n))
        c1 = bytes(range(n))
        c2 = bytes(0xff - i for i in range(n))
        psk = hmac_h(hid, skey, c1 + c2)
        exp = KUNIT[hid]
        assert psk.hex() == exp[0], "kunit PSK mismatch, hash %d" % hid
        rec = dict(type="generated", source="linux-kunit", hash=hid,
                   skey=skey, c1=c1, c2=c2, hostnqn="hostnqn",
                   subnqn="subsysnqn", psk=psk)
        if hid == 3:
            rec["refused"] = "SHA-512 has no TLS cipher suite"
            record(**rec)
            continue
        dig = digest(hid, psk, "hostnqn", "subsysnqn")
        tpsk = tls_psk(hid, psk, "%02d %s" % (hid, dig))
        assert dig == exp[1] and tpsk.hex() == exp[2], "kunit mismatch"
        rec.update(digest=dig,
                   identity="NVMe1G%02d hostnqn subsysnqn %s" % (hid, dig),
                   tls_psk=tpsk)
        record(**rec)
    # realistic sizes: FFDHE-3072 session key hashed to the hash length,
    # random-looking challenges
    for hid in (1, 2):
        n = hlen(hid)
        skey = HASHES[hid](pattern(64, 10 + hid)).digest()
        c1, c2 = pattern(n, 20 + hid), pattern(n, 30 + hid)
        psk = hmac_h(hid, skey, c1 + c2)
        dig = digest(hid, psk, HOST, SUBS)
        record(type="generated", source="psk-kat.py", hash=hid, skey=skey,
               c1=c1, c2=c2, hostnqn=HOST, subnqn=SUBS, psk=psk, digest=dig,
               identity="NVMe1G%02d %s %s %s" % (hid, HOST, SUBS, dig),
               tls_psk=tls_psk(hid, psk, "%02d %s" % (hid, dig)))


def main():
    print("""\
# NVMe/TCP TLS PSK known-answer vectors, generated by scripts/psk-kat.py
# with the Python standard library only:
#   scripts/psk-kat.py > tests/vectors/psk-kat.txt
# Do not edit; regenerate.  Records are "key = value" lines separated by
# blank lines; byte strings are hex, numbers decimal.
#
# type = interchange: PSK interchange string <-> transform hash + key
# type = retained:    configured PSK -> retained PSK (HH 00: unchanged,
#   else HKDF-Expand-Label(HKDF-Extract(0, PSK), "HostNQN", hostnqn, L))
# type = tls:         retained PSK -> identity (version 0 or 1), PSK
#   digest (version 1) and the TLS PSK; hash is the identity's hash
# type = generated:   secure channel concatenation: generated PSK =
#   HMAC(Ks, C1 || C2), its digest, "NVMe1G" identity and TLS PSK; the
#   linux-kunit records repeat drivers/nvme/common/tests/auth_kunit.c
#   (checked by the script); SHA-512 is refused (refused = reason)
#
# SPDX-License-Identifier: GPL-2.0-or-later
""")
    configured_vectors()
    generated_vectors()


if __name__ == "__main__":
    main()
