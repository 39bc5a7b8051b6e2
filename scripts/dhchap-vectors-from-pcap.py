#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Extract every DH-HMAC-CHAP exchange from a capture of NVMe/TCP traffic
# (libpcap file, Ethernet frames, as QEMU's filter-dump writes it) into a
# replay file for tests/unit/test-nvmet-linux-replay.c.
#
#   scripts/dhchap-vectors-from-pcap.py CAPTURE.pcap PORT > FILE
#
# For each TCP connection to PORT, in the order the connections were opened:
#   conn <n> qid <qid> cntlid <cntlid from Connect data> hostid <hex>
#       hostnqn <nqn>                 (one line)
#   connect-status <status> dw0 <dw0 hex>
#   send <status> <hex>     an AUTH_Send payload (host -> controller) and
#                           the NVMe status of the command
#   recv <al> <status> <len> <hex>   an AUTH_Receive: allocation length,
#                           NVMe status, length of the data returned and
#                           the data without its trailing zero padding
# Only cleartext NVMe/TCP without digests is understood (what
# tests/guest/auth.sh uses).  Written from the NVMe/TCP transport spec.
import struct
import sys


def read_pcap(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    if magic == 0xa1b2c3d4:
        endian = '<'
    elif magic == 0xd4c3b2a1:
        endian = '>'
    else:
        sys.exit('not a libpcap file')
    linktype = struct.unpack(endian + 'I', data[20:24])[0]
    if linktype != 1:
        sys.exit('link type %d is not Ethernet' % linktype)
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
        off += 16
        yield data[off:off + incl]
        off += incl


def tcp_segments(frames):
    """(src, sport, dst, dport, seq, flags, payload) of IPv4 TCP frames"""
    for fr in frames:
        if len(fr) < 14 or struct.unpack('!H', fr[12:14])[0] != 0x0800:
            continue
        ip = fr[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            continue
        total = struct.unpack('!H', ip[2:4])[0]
        src, dst = ip[12:16], ip[16:20]
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack('!HHI', tcp[:8])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        yield (src, sport, dst, dport, seq, flags, bytes(tcp[doff:]))


class Stream:
    """One direction of a TCP connection, reassembled by sequence number."""

    def __init__(self):
        self.isn = None
        self.chunks = {}

    def add(self, seq, flags, payload):
        if flags & 0x02:                    # SYN
            self.isn = (seq + 1) & 0xffffffff
            return
        if payload and self.isn is not None:
            rel = (seq - self.isn) & 0xffffffff
            self.chunks.setdefault(rel, payload)

    def data(self):
        out = bytearray()
        for rel in sorted(self.chunks):
            chunk = self.chunks[rel]
            if rel > len(out):
                sys.exit('gap in a TCP stream: capture incomplete')
            out += chunk[len(out) - rel:]
        return bytes(out)


def pdus(stream):
    off = 0
    while off + 8 <= len(stream):
        ptype, flags, hlen, pdo, plen = struct.unpack('<BBBBI', stream[off:off + 8])
        if plen < 8 or off + plen > len(stream):
            break
        yield ptype, flags, hlen, pdo, stream[off:off + plen]
        off += plen


def cstr(b):
    return b.split(b'\0', 1)[0].decode()


def parse_conn(h2c, c2h):
    """The Connect data, the authentication commands (in order) and the
    controller's data and completion events (in order) of a connection."""
    cmds = []           # auth commands: dict(kind, cid, data, tl/al)
    active = {}         # cid -> the command using it now (cids are reused)
    qid = None
    connect = None
    for ptype, flags, hlen, pdo, pdu in pdus(h2c):
        if ptype == 0x04:                   # CapsuleCmd
            sqe = pdu[8:72]
            opc, _, cid = struct.unpack('<BBH', sqe[:4])
            data = bytearray(pdu[pdo:] if pdo else b'')
            cmd = {'kind': 'other', 'cid': cid, 'data': data}
            if opc == 0x7f and sqe[4] == 0x01 and connect is None:
                cmd['kind'] = 'connect'
                qid = struct.unpack('<H', sqe[42:44])[0]
                connect = cmd
            elif opc == 0x7f and sqe[4] == 0x05:    # Authentication Send
                cmd['kind'] = 'send'
                cmd['tl'] = struct.unpack('<I', sqe[44:48])[0]
                cmds.append(cmd)
            elif opc == 0x7f and sqe[4] == 0x06:    # Authentication Receive
                cmd['kind'] = 'recv'
                cmd['al'] = struct.unpack('<I', sqe[44:48])[0]
                cmds.append(cmd)
            active[cid] = cmd
        elif ptype == 0x06:                 # H2CData
            cccid, _, datao, datal = struct.unpack('<HHII', pdu[8:20])
            if cccid in active:
                buf = active[cccid]['data']
                if len(buf) < datao + datal:
                    buf.extend(b'\0' * (datao + datal - len(buf)))
                buf[datao:datao + datal] = pdu[pdo:pdo + datal]
    events = []
    for ptype, flags, hlen, pdo, pdu in pdus(c2h):
        if ptype == 0x07:                   # C2HData
            cccid, _, datao, datal = struct.unpack('<HHII', pdu[8:20])
            events.append(('data', cccid, datao, pdu[pdo:pdo + datal],
                           flags & 0x08))
        elif ptype == 0x05:                 # CapsuleResp
            dw0, _, _, _, cid, status = struct.unpack('<IIHHHH', pdu[8:24])
            events.append(('cqe', cid, dw0, status >> 1))
    return qid, connect, cmds, events


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: dhchap-vectors-from-pcap.py CAPTURE.pcap PORT')
    port = int(sys.argv[2])
    conns = {}
    opened = []
    for src, sport, dst, dport, seq, flags, payload in tcp_segments(read_pcap(sys.argv[1])):
        if dport == port:
            key, d = (src, sport), 0
        elif sport == port:
            key, d = (dst, dport), 1
        else:
            continue
        if d == 0 and flags & 0x02 and not flags & 0x10:   # SYN: a new one
            conns[key] = (Stream(), Stream())
            opened.append(conns[key])
        if key in conns:
            conns[key][d].add(seq, flags, payload)
    out = []
    n = 0
    for c in opened:
        h2c, c2h = c[0].data(), c[1].data()
        if not h2c:
            continue
        qid, connect, cmds, ev = parse_conn(h2c, c2h)
        if connect is None:
            continue
        cdata = bytes(connect['data'])
        cntlid = struct.unpack('<H', cdata[16:18])[0]
        hostnqn = cstr(cdata[512:768])
        hostid = cdata[0:16].hex()
        lines = ['conn %d qid %d cntlid 0x%04x hostid %s hostnqn %s'
                 % (n, qid, cntlid, hostid, hostnqn)]
        # the Connect completion is the first CQE
        for i, e in enumerate(ev):
            if e[0] == 'cqe' and e[1] == connect['cid']:
                lines.append('connect-status 0x%x dw0 0x%08x' % (e[3], e[2]))
                del ev[i]
                break
        for cmd in cmds:
            cid = cmd['cid']
            data = bytearray()
            status = None
            while ev:
                e = ev.pop(0)
                if e[0] == 'data' and e[1] == cid:
                    if len(data) < e[2] + len(e[3]):
                        data.extend(b'\0' * (e[2] + len(e[3]) - len(data)))
                    data[e[2]:e[2] + len(e[3])] = e[3]
                    if e[4]:                # SUCCESS flag: no CQE follows
                        status = 0
                        break
                elif e[0] == 'cqe' and e[1] == cid:
                    status = e[3]
                    break
            if cmd['kind'] == 'send':
                lines.append('send %s %s' % (
                    '0x%x' % status if status is not None else '-',
                    bytes(cmd['data'][:cmd['tl']]).hex()))
            else:
                # the controller pads its message to AL with zeros: keep
                # the length, drop the trailing zeros
                lines.append('recv %d %s %d %s' % (
                    cmd['al'], '0x%x' % status if status is not None else '-',
                    len(data), bytes(data).rstrip(b'\0').hex() or '-'))
        out.append('\n'.join(lines))
        n += 1
    print('\n\n'.join(out))


if __name__ == '__main__':
    main()
