# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fixed TLS PSKs (NVMe PSK interchange format) and secrets for
# tests/guest/psk-vectors.sh, which feeds them to nvme-cli/libnvme and the
# kernel keyring to obtain reference vectors (tests/vectors/psk-nvme-cli.txt).
# The keys are some of scripts/psk-kat.py's.  Test material only.
#
# PSK_KEYS: space-separated list of the variables holding keys.
PSK_HOSTNQN='nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6'
PSK_SUBNQN='nqn.2026-01.org.qemu:nvmet-psk'
PSK_HOSTNQN_B='nqn.2014-08.org.nvmexpress:uuid:host-b'
PSK_SUBNQN_B='nqn.2014-08.org.nvmexpress:uuid:subsys-b'
PSK_K256='NVMeTLSkey-1:01:MF4cMfAVj2b1iFEWKCmYpo883epiuZp4Ddr4XASXCdKSquSU:'
PSK_K384='NVMeTLSkey-1:02:AAIK3+YvlC0CSJVdAowuFHGb23y13+RJRg7Jlp0NpPxzV6fTnIFEzD0PeB0N0X6NdaqMyg==:'
PSK_K00_32='NVMeTLSkey-1:00:3iqXM6OCzmTPYWjLMGJfr3z3VVkcuEPYYhLodtFhVre9+pxu:'
PSK_K00_48='NVMeTLSkey-1:00:LNq5ngVNZZOrMNoO4TbFjVETMhy0UyGXrC9995DYFZUKZTpo9uAlLsPfnBDwkyLaBsub6A==:'
PSK_KEYS='PSK_K256 PSK_K384 PSK_K00_32 PSK_K00_48'
# `nvme gen-tls-key --secret=HEX` (32 bytes with --hmac=1, 48 with --hmac=2)
PSK_SECRET256='000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'
PSK_SECRET384='f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210'
