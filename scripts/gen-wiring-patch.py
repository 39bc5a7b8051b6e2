#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Regenerate the patches in scripts/qemu-patches/.

They are the only changes this project makes to QEMU's own files:

0001-nvmet-tcp-wiring.patch hooks nvmet/ into the build, the QAPI schema,
trace events, object creation order, qtests and the docs index.

0002-net-slirp-guestfwd-unix-connect.patch lets user networking forward
each guest TCP connection to a UNIX socket of the host
(guestfwd=tcp:ADDR:PORT-unix-connect:PATH, libslirp's slirp_add_unix()):
how a guest reaches an nvmet-port on a UNIX socket with no host TCP
port, no helper process and no TCP socket pair (cmd: needs both).

0003-storage-daemon-raise-nofile-limit.patch makes qemu-storage-daemon
raise its open files limit to the hard limit at start, as
qemu-system-* does (os_setup_limits()): a target with many hosts needs a
file per connection, and with the usual soft limit of 1024 the daemon
could not accept more than about 1000 connections.

The edits are listed below as (file, anchor, replacement); running this
script against an unpacked QEMU tree (default build/qemu/pristine)
rewrites the patches.

    scripts/gen-wiring-patch.py [QEMU_SOURCE_DIR]
"""
import difflib
import os
import sys

EDITS = [
    ('meson.build',
     "    'io',\n    'nbd',\n    'scsi',\n  ]",
     "    'io',\n    'nbd',\n    'nvmet',\n    'nvmet/engine',\n    'scsi',\n  ]"),
    ('meson.build',
     "  subdir('nbd')\n  subdir('scsi')",
     "  subdir('nbd')\n  subdir('nvmet')\n  subdir('scsi')"),
    ('qapi/meson.build',
     "  'net',\n  'pragma',",
     "  'net',\n  'nvmet',\n  'pragma',"),
    # QAPI emits a struct into the first module that uses it, so the module
    # must come before block-export.json and qom.json in both schemas.
    ('qapi/qapi-schema.json',
     "{ 'include': 'block-export.json' }",
     "{ 'include': 'nvmet.json' }\n{ 'include': 'block-export.json' }"),
    ('storage-daemon/qapi/qapi-schema.json',
     "{ 'include': '../../qapi/block-export.json' }",
     "{ 'include': '../../qapi/nvmet.json' }\n"
     "{ 'include': '../../qapi/block-export.json' }"),
    ('qapi/qom.json',
     "{ 'include': 'crypto.json' }",
     "{ 'include': 'crypto.json' }\n{ 'include': 'nvmet.json' }"),
    ('qapi/qom.json',
     "    'main-loop',\n",
     "    'main-loop',\n    'nvmet-fault',\n    'nvmet-host',\n"
     "    'nvmet-namespace',\n"
     "    'nvmet-port',\n    'nvmet-subsystem',\n"),
    ('qapi/qom.json',
     "      'main-loop':                  'MainLoopProperties',\n",
     "      'main-loop':                  'MainLoopProperties',\n"
     "      'nvmet-fault':                'NvmetFaultProperties',\n"
     "      'nvmet-host':                 'NvmetHostProperties',\n"
     "      'nvmet-namespace':            'NvmetNamespaceProperties',\n"
     "      'nvmet-port':                 'NvmetPortProperties',\n"
     "      'nvmet-subsystem':            'NvmetSubsystemProperties',\n"),
    ('system/vl.c',
     '    if (g_str_equal(type, "vhost-user-blk-server")) {\n'
     '        return false;\n    }\n',
     '    if (g_str_equal(type, "vhost-user-blk-server")) {\n'
     '        return false;\n    }\n'
     '    /* Reason: nvmet-namespace property "node-name" (and its parents) */\n'
     '    if (g_str_has_prefix(type, "nvmet-")) {\n'
     '        return false;\n    }\n'),
    ('tests/qtest/meson.build',
     "qtests_x86_64 = qtests_i386\n",
     "qtests_x86_64 = qtests_i386 + ['nvmet-tcp-test']\n"),
    ('tests/qtest/meson.build',
     "  'migration-test': migration_files + migration_tls_files,\n",
     "  'migration-test': migration_files + migration_tls_files,\n"
     "  'nvmet-tcp-test': [files('nvmf-host.c', 'nvmf-host-auth.c',\n"
     "                            'nvmf-host-tls.c'),\n"
     "                     nvmet_nettle, nvmet_gmp, gnutls],\n"),
    ('tests/qtest/meson.build',
     "  'migration-test' : 480,\n",
     "  'migration-test' : 480,\n  'nvmet-tcp-test' : 300,\n"),
    ('docs/system/index.rst',
     "   pr-manager\n",
     "   pr-manager\n   nvmet-tcp\n"),
    # The block export driver "nvmet" (nvmet/export.c), next to NBD's
    ('qapi/block-export.json',
     "{ 'include': 'block-core.json' }\n",
     "{ 'include': 'block-core.json' }\n{ 'include': 'nvmet.json' }\n"),
    ('qapi/block-export.json',
     "# @vduse-blk: vduse-blk export (since 7.1)\n",
     "# @vduse-blk: vduse-blk export (since 7.1)\n#\n"
     "# @nvmet: namespace of the NVMe-oF TCP target (since 10.1)\n"),
    ('qapi/block-export.json',
     "            { 'name': 'vduse-blk', 'if': 'CONFIG_VDUSE_BLK_EXPORT' } ] }",
     "            { 'name': 'vduse-blk', 'if': 'CONFIG_VDUSE_BLK_EXPORT' },\n"
     "            'nvmet' ] }"),
    ('qapi/block-export.json',
     "      'vduse-blk': { 'type': 'BlockExportOptionsVduseBlk',\n"
     "                     'if': 'CONFIG_VDUSE_BLK_EXPORT' }\n",
     "      'vduse-blk': { 'type': 'BlockExportOptionsVduseBlk',\n"
     "                     'if': 'CONFIG_VDUSE_BLK_EXPORT' },\n"
     "      'nvmet': 'BlockExportOptionsNvmet'\n"),
    ('block/export/export.c',
     '#include "block/nbd.h"\n',
     '#include "block/nbd.h"\n#include "nvmet/export.h"\n'),
    ('block/export/export.c',
     "    &blk_exp_nbd,\n",
     "    &blk_exp_nbd,\n    &blk_exp_nvmet,\n"),
]


GUESTFWD_EDITS = [
    ('net/slirp.c',
     '    } else {\n'
     '        Error *err = NULL;\n'
     '        /*\n'
     '         * FIXME: sure we want to support implicit\n'
     '         * muxed monitors here?\n'
     '         */\n',
     '    } else if (g_str_has_prefix(p, "unix-connect:")) {\n'
     '        /* a new connection to the UNIX socket per guest connection */\n'
     '#if SLIRP_CHECK_VERSION(4, 7, 0)\n'
     '        if (slirp_add_unix(s->slirp, p + strlen("unix-connect:"), &server,\n'
     '                           port) < 0) {\n'
     '            error_setg(errp, "Conflicting/invalid host:port in guest "\n'
     '                       "forwarding rule \'%s\'", config_str);\n'
     '            return -1;\n'
     '        }\n'
     '#else\n'
     '        error_setg(errp, "guest forwarding to a UNIX socket needs "\n'
     '                   "libslirp 4.7.0 or later");\n'
     '        return -1;\n'
     '#endif\n'
     '    } else {\n'
     '        Error *err = NULL;\n'
     '        /*\n'
     '         * FIXME: sure we want to support implicit\n'
     '         * muxed monitors here?\n'
     '         */\n'),
    ('qemu-options.hx',
     '    ``guestfwd=[tcp]:server:port-dev``; \\ ``guestfwd=[tcp]:server:port-cmd:command``\n'
     '        Forward guest TCP connections to the IP address server on port\n'
     '        port to the character device dev or to a program executed by\n'
     '        cmd:command which gets spawned for each connection. This option\n'
     '        can be given multiple times.\n',
     '    ``guestfwd=[tcp]:server:port-dev``; \\ ``guestfwd=[tcp]:server:port-cmd:command``; \\ ``guestfwd=[tcp]:server:port-unix-connect:path``\n'
     '        Forward guest TCP connections to the IP address server on port\n'
     '        port to the character device dev, to a program executed by\n'
     '        cmd:command which gets spawned for each connection, or to a new\n'
     '        connection to the UNIX socket path for each connection. This\n'
     '        option can be given multiple times.\n'),
    ('qemu-options.hx',
     "            |qemu_system| -nic  'user,id=n1,guestfwd=tcp:10.0.2.100:1234-cmd:netcat 10.10.1.1 4321'\n",
     "            |qemu_system| -nic  'user,id=n1,guestfwd=tcp:10.0.2.100:1234-cmd:netcat 10.10.1.1 4321'\n"
     '\n'
     '        Or you can have every TCP connection established by the guest\n'
     '        connect to a UNIX socket of the host (libslirp 4.7.0 or later),\n'
     '        with no process started and no host TCP port opened:\n'
     '\n'
     '        .. parsed-literal::\n'
     '\n'
     '            # connect each TCP connection to 10.0.2.100:4420 to /run/nvmet.sock\n'
     '            |qemu_system| -nic user,guestfwd=tcp:10.0.2.100:4420-unix-connect:/run/nvmet.sock\n'),
]

NOFILE_EDITS = [
    ('storage-daemon/qemu-storage-daemon.c',
     '    error_init(argv[0]);\n'
     '    qemu_init_exec_dir(argv[0]);\n',
     '    error_init(argv[0]);\n'
     '    qemu_init_exec_dir(argv[0]);\n'
     '    os_setup_limits();\n'),
]

PATCHES = [
    ('0001-nvmet-tcp-wiring.patch',
     'nvmet-tcp: wire the NVMe-oF TCP target into QEMU\n\n', EDITS),
    ('0002-net-slirp-guestfwd-unix-connect.patch',
     'net/slirp: guestfwd to a UNIX socket, a connection per guest '
     'connection\n\n'
     'libslirp 4.7.0 has slirp_add_unix(): each TCP connection the guest\n'
     'opens to the forwarded address becomes a new connection to a UNIX\n'
     'socket of the host.  Unlike a chardev (one stream for the life of\n'
     'QEMU) it carries any number of connections, and unlike cmd: it\n'
     'starts no process and opens no TCP socket on the host (libslirp\n'
     'connects a cmd: program through a TCP socket pair it makes with a\n'
     'listener on a loopback port, which any local user may race to\n'
     'connect to, and hands it the stream as stderr too).\n\n',
     GUESTFWD_EDITS),
    ('0003-storage-daemon-raise-nofile-limit.patch',
     'storage-daemon: raise the open files limit, as qemu-system does\n\n'
     'qemu-system-* raises RLIMIT_NOFILE to the hard limit at start\n'
     '(os_setup_limits()); qemu-storage-daemon did not, so with the usual\n'
     'soft limit of 1024 an export serving many connections (an nvmet-port\n'
     'with many hosts) ran out of files at about 1000 of them, and\n'
     'QIONetListener then retries the failing accept() in a busy loop.\n\n',
     NOFILE_EDITS),
]


def make_patch(src, edits):
    files = {}
    for path, old, new in edits:
        if path not in files:
            with open(os.path.join(src, path)) as f:
                text = f.read()
            files[path] = [text, text]
        cur = files[path][1]
        if cur.count(old) != 1:
            raise SystemExit('%s: anchor found %d times: %r'
                             % (path, cur.count(old), old))
        files[path][1] = cur.replace(old, new)
    out = []
    for path in sorted(files):
        a, b = files[path]
        out.extend(difflib.unified_diff(a.splitlines(True), b.splitlines(True),
                                        'a/' + path, 'b/' + path))
    return out


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        top, 'build', 'qemu', 'pristine')
    for name, header, edits in PATCHES:
        dst = os.path.join(top, 'scripts', 'qemu-patches', name)
        out = make_patch(src, edits)
        with open(dst, 'w') as f:
            f.write(header + 'Generated by scripts/gen-wiring-patch.py; '
                    'do not edit.\n\n')
            f.writelines(out)
        print('wrote', dst)


if __name__ == '__main__':
    main()
