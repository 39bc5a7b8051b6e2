#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Record the QMP events of a QEMU, and compare the NVMe/TCP target's with
what a guest test says it did.

    scripts/qmp-events.py record SOCKET OUT
        Connect to the QMP UNIX socket SOCKET (a QEMU started with
        -qmp unix:SOCKET,server=on,wait=off), waiting for it to appear, and
        append every event to OUT as one JSON object per line until QEMU
        goes away; then wait for a new QEMU on the same socket (tests/guest/
        run.sh restarts QEMU once if the guest does not boot).  Stop it with
        SIGTERM.

    scripts/qmp-events.py check-concat EVENTS LOG HOSTNQN SUBNQN
        Compare the NVMET_* events in EVENTS with the "QMP-CHECK:" lines of
        the guest log LOG (tests/guest/tls.sh prints them: the identity of
        the generated PSK after --concat and after each REPLACETLSPSK
        rotation).  Prints one "PASS: ..." or "FAIL: ..." line per check;
        exits 1 if any failed.
"""
import json
import os
import re
import signal
import socket
import sys
import time


def record(path, out):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, 'a') as f:
        while not stop:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
            except OSError:
                time.sleep(0.2)
                continue
            rd = s.makefile('r')
            try:
                rd.readline()                           # the greeting
                s.sendall(b'{"execute": "qmp_capabilities"}\n')
                for line in rd:
                    msg = json.loads(line)
                    if 'event' in msg:
                        f.write(json.dumps(msg) + '\n')
                        f.flush()
                    if stop:
                        break
            except (OSError, ValueError):
                pass
            s.close()
            # QEMU exited: the socket file may linger until the next one
            time.sleep(0.5)


def load_events(path):
    evs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                ev = json.loads(line)
                if ev['event'].startswith('NVMET_'):
                    evs.append((ev['event'], ev.get('data', {})))
    return evs


def check_concat(events, log, hostnqn, subnqn):
    evs = load_events(events)
    marks = []
    with open(log, errors='replace') as f:
        for line in f:
            m = re.search(r'QMP-CHECK: (concat|rotation \d+) '
                          r'cntlid=(\d+) identity=(\S.*\S)\s*$', line)
            if m:
                marks.append((m.group(1), int(m.group(2)), m.group(3)))
    results = []

    def check(ok, what):
        results.append(ok)
        print('%s: %s' % ('PASS' if ok else 'FAIL', what))

    def find(pos, name, **want):
        for i in range(pos, len(evs)):
            n, d = evs[i]
            if n == name and all(d.get(k) == v for k, v in want.items()):
                return i
        return -1

    check(len(marks) >= 4 and marks[0][0] == 'concat',
          'the guest reported --concat and at least 3 rotations '
          '(%d marks)' % len(marks))
    if not marks:
        return 1
    mine = dict(hostnqn=hostnqn, subnqn=subnqn)
    # --concat: NEWTLSPSK on the cleartext admin queue, then TLS
    _, cntlid, ident = marks[0]
    i = find(0, 'NVMET_AUTH_SUCCEEDED', qid=0, **{'sc-c': 'newtlspsk'},
             **mine)
    check(i >= 0, 'NEWTLSPSK: NVMET_AUTH_SUCCEEDED for the guest\'s host')
    g = find(max(i, 0), 'NVMET_TLS_PSK_GENERATED', identity=ident, qid=0,
             **mine)
    check(g > i >= 0, 'NEWTLSPSK: NVMET_TLS_PSK_GENERATED with the '
          'identity the guest uses (%s)' % ident)
    serial = evs[g][1].get('key-serial') if g >= 0 else None
    t = find(max(g, 0), 'NVMET_TLS_HANDSHAKE_DONE', identity=ident,
             psk='generated')
    check(t > g >= 0, 'NVMET_TLS_HANDSHAKE_DONE with that identity')
    c = find(max(t, 0), 'NVMET_CONTROLLER_CREATED', qid=0, cntlid=cntlid,
             **mine)
    check(c > t >= 0, 'NVMET_CONTROLLER_CREATED for the guest\'s '
          'controller %d over TLS' % cntlid)
    pos = max(c, g, 0)
    start = pos
    prev_cntlid = cntlid
    # every rotation: REPLACETLSPSK on the TLS admin queue; then either the
    # host uses that PSK for its next TLS sessions, or (Linux 7.x) it
    # resets the controller and comes back with a fresh NEWTLSPSK first.
    # Either way the guest's new identity is the one a TLS handshake used.
    for name, cntlid, ident in marks[1:]:
        a = find(pos, 'NVMET_AUTH_SUCCEEDED', qid=0, cntlid=prev_cntlid,
                 **{'sc-c': 'replacetlspsk'}, **mine)
        r = find(max(a, pos), 'NVMET_TLS_PSK_REPLACED', qid=0,
                 cntlid=prev_cntlid, **mine)
        check(r > a >= 0, '%s: NVMET_AUTH_SUCCEEDED (replacetlspsk) then '
              'NVMET_TLS_PSK_REPLACED on controller %d'
              % (name, prev_cntlid))
        if r < 0:
            break
        d = evs[r][1]
        check(serial is not None and d.get('replaced-key-serial') == serial,
              '%s: REPLACETLSPSK replaces the PSK in use (serial %s -> %s)'
              % (name, serial, d.get('key-serial')))
        serial = d.get('key-serial')
        made = r
        if d.get('identity') != ident:
            rs = find(r, 'NVMET_CONTROLLER_RESET', cntlid=prev_cntlid,
                      **mine)
            made = find(max(rs, r), 'NVMET_TLS_PSK_GENERATED',
                        identity=ident, qid=0, **mine)
            check(made > rs > r, '%s: the host reset controller %d and '
                  'made the identity it uses (%s) with NEWTLSPSK'
                  % (name, prev_cntlid, ident))
            if made < 0:
                break
            d = evs[made][1]
            check(d.get('replaced-key-serial') == serial,
                  '%s: that NEWTLSPSK replaced the REPLACETLSPSK PSK '
                  '(serial %s -> %s)' % (name, serial, d.get('key-serial')))
            serial = d.get('key-serial')
        t = find(made, 'NVMET_TLS_HANDSHAKE_DONE', identity=ident)
        c = find(max(t, made), 'NVMET_CONTROLLER_CREATED', qid=0,
                 cntlid=cntlid, **mine)
        check(c > t > made, '%s: a TLS handshake with the guest\'s new '
              'identity (%s), then its controller %d' % (name, ident, cntlid))
        pos = max(c, t, made, pos)
        prev_cntlid = cntlid
    # nothing the guest did not do in between
    window = evs[start:pos + 1]
    replaced = [d for n, d in window if n == 'NVMET_TLS_PSK_REPLACED' and
                d.get('hostnqn') == hostnqn]
    check(len(replaced) == len(marks) - 1,
          '%d REPLACETLSPSK events for %d rotations'
          % (len(replaced), len(marks) - 1))
    failed = [n for n, d in window
              if n in ('NVMET_AUTH_FAILED', 'NVMET_TLS_HANDSHAKE_FAILED',
                       'NVMET_TRANSPORT_ERROR')]
    check(not failed, 'no failure event during the rotations (%s)'
          % (', '.join(failed) or 'none'))
    return 0 if all(results) else 1


def main():
    if len(sys.argv) == 4 and sys.argv[1] == 'record':
        record(sys.argv[2], sys.argv[3])
        return 0
    if len(sys.argv) == 6 and sys.argv[1] == 'check-concat':
        return check_concat(*sys.argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
