# SPDX-License-Identifier: GPL-2.0-or-later
#
# TLS test material shared by scripts/run-tests.sh (secret files for QEMU)
# and tests/guest/tls.sh.  Test keys only.
#
# Host 1: a configured TLS PSK (interchange format, SHA-256).
# Host 2: DH-HMAC-CHAP keys, for secure channel concatenation.
# Host 3: a configured SHA-384 TLS PSK (TLS_PSK384).
# Host 4: DH-HMAC-CHAP keys, concatenation with SHA-384 (the target allows
#         this host SHA-384 only, so the generated PSKs are SHA-384 ones).
# TLS_BAD_PSK: a PSK the target does not know.
TLS_H1='nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000011'
TLS_H1_ID='00000000-0000-4000-8000-000000000011'
TLS_PSK='NVMeTLSkey-1:01:yGezv5+m2xJ6Bn4f1z8/TrZRaEARtVMWRVZrLFHgibJWc+Q+:'
TLS_PSK384='NVMeTLSkey-1:02:3P3dHY2XwpvkSkxo+wqmwYUT3ndZD7cpoKYSXkg3JlX5PjSmTYYhAT1BigTnmPrWI6luiQ==:'
TLS_BAD_PSK='NVMeTLSkey-1:01:8DK9vaTavYMMpZlzqCAxP0iEI0eDz1XEOvbbR1iGFuH1rmuK:'
TLS_H2='nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000012'
TLS_H2_ID='00000000-0000-4000-8000-000000000012'
TLS_H2_KEY='DHHC-1:01:1B/bn+pFQsA1U5cJBWFqgMu25wAKVTXaY00mndRyGeVgKNFu:'
TLS_H2_CKEY='DHHC-1:01:rfbf0NFYMvVmPJTQ3S1Cn9HAHXt43QckRO5BMQuSW+RCJOK3:'
TLS_H3='nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000013'
TLS_H3_ID='00000000-0000-4000-8000-000000000013'
TLS_H4='nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000014'
TLS_H4_ID='00000000-0000-4000-8000-000000000014'
TLS_H4_KEY='DHHC-1:02:gnJ9ZvqzjnCOYfMZmLADVY5IL3ZkVKfQiKBtSZa34w86USN3vtRf5WI1XEAmgdYkU8EIBA==:'
TLS_H4_CKEY='DHHC-1:03:/rwRE98TaCn398UQAvD2yI0DMWkMU+aamRUYn9DMpmyupbpDPNIt8ef3YUPKfcWfH/+DDvFHgWQx/5RmpksIly5V9z8=:'
