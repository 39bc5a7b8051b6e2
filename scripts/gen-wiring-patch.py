#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Regenerate scripts/qemu-patches/0001-nvmet-tcp-wiring.patch.

The wiring patch is the only change this project makes to QEMU's own
files: it hooks nvmet/ into the build, the QAPI schema, trace events,
object creation order, qtests and the docs index.  The edits are listed
below as (file, anchor, replacement); running this script against an
unpacked QEMU tree (default build/qemu/pristine) rewrites the patch.

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
     "    'main-loop',\n    'nvmet-host',\n    'nvmet-namespace',\n"
     "    'nvmet-port',\n    'nvmet-subsystem',\n"),
    ('qapi/qom.json',
     "      'main-loop':                  'MainLoopProperties',\n",
     "      'main-loop':                  'MainLoopProperties',\n"
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


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        top, 'build', 'qemu', 'pristine')
    files = {}
    for path, old, new in EDITS:
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
    dst = os.path.join(top, 'scripts', 'qemu-patches',
                       '0001-nvmet-tcp-wiring.patch')
    with open(dst, 'w') as f:
        f.write('nvmet-tcp: wire the NVMe-oF TCP target into QEMU\n\n'
                'Generated by scripts/gen-wiring-patch.py; do not edit.\n\n')
        f.writelines(out)
    print('wrote', dst)


if __name__ == '__main__':
    main()
