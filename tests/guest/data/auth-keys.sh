# SPDX-License-Identifier: GPL-2.0-or-later
#
# DH-HMAC-CHAP test keys (DHHC-1) shared by the host side (scripts/run-tests.sh
# turns each into a file for `-object secret,file=...`) and the guest
# (tests/guest/auth.sh sources this file).  Test material only.
#
# Host N: AUTH_HN_KEY host key, AUTH_HN_CKEY controller key (empty:
# unidirectional), AUTH_HN_HASH and AUTH_HN_GROUP the only hash and DH group
# the target allows it.  AUTH_BAD_* are keys no host is configured with.
AUTH_H1_HASH=sha256 AUTH_H1_GROUP=ffdhe2048
AUTH_H2_HASH=sha384 AUTH_H2_GROUP=ffdhe3072
AUTH_H3_HASH=sha512 AUTH_H3_GROUP=ffdhe4096
AUTH_H4_HASH=sha256 AUTH_H4_GROUP=null
AUTH_H5_HASH=sha384 AUTH_H5_GROUP=ffdhe8192
AUTH_H1_KEY='DHHC-1:01:/kGYeNstqGrGGSTO+kOb3mkElEaefvFavB24JC25u5mZD8Sq:'
AUTH_H1_CKEY='DHHC-1:01:p7JQNJO5aFJ484W4UYOoKXp4wqW1rnZmqXq+EQy047l8Dtzy:'
AUTH_H2_KEY='DHHC-1:02:Aw3eBHv1pGl+D2K36N5LCqq7eD894fbq2eAiGtfn/N9SAneFuvkkW+dd1zcUvQBfard/zw==:'
AUTH_H2_CKEY='DHHC-1:02:Oxlt4HFxSyquMfR7TBifTwYtjQrEhd7lR6KC2jGGIXntbVFQo5UJIlq7eF2+W28O8IKyVw==:'
AUTH_H3_KEY='DHHC-1:03:7dtuybguN6ZRWi+iVpkoRkXaDfglRe32zgRg8AGtNCrI4/Y0kF+55CwDuVAM21L2HJZv8K68tGIKDVfBvrAw9anU5C8=:'
AUTH_H3_CKEY='DHHC-1:03:XcYeEEF4+MJovUVxSWWt0G6U9siB4I9/srHsmnb+m+Ezt0iLECy1ZfrGONtU+tea8O54VYHKQ0zy3Be7Bor7wPO5xSw=:'
AUTH_H4_KEY='DHHC-1:00:c6/pfLAxM3GT+FhnyO6PjYqiXsaqcb85S26J6nPgUFVt27ku:'
AUTH_H4_CKEY='DHHC-1:00:3R/ITh0vaMGAWDZ0fU/Ls2rNd67xt3oI3/xgaSzQ9tyuoBUF:'
AUTH_H5_KEY='DHHC-1:00:luTUZB2zDjDB+HmnvT+0j8NbkbEpNLOZ4EOTTkDR43G9DVQp38gMQ+kE5zwrpUWTUNguvQ==:'
AUTH_H5_CKEY=''
AUTH_BAD_KEY='DHHC-1:01:RdRNdrY2zGenoZ5jCqlaSnodw9jj2kQFRJZOY0HzE9lgHywa:'
AUTH_BAD_CKEY='DHHC-1:01:ieR028IoAtcAKnW4RFxTx/3nkDV/9KaubE9SnTGPzX5XYLI2:'
