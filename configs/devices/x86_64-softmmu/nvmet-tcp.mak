# SPDX-License-Identifier: GPL-2.0-or-later
#
# Devices of the slim qemu-system-x86_64 that scripts/build-qemu.sh builds
# (configure --without-default-devices --with-devices-x86_64=nvmet-tcp):
# what the demo, the guest tests and a guest kernel developer's usual
# command line need, nothing else.  Everything these select (PCI, ISA,
# serial, ACPI, fw_cfg for -kernel/-initrd, the i8259/i8254/RTC...) comes
# in through Kconfig.  NVMET_QEMU_FULL=1 scripts/build-qemu.sh builds
# QEMU's full default device set instead.

# The default machine ("pc", i440FX + PIIX3)
CONFIG_I440FX=y
# -M q35, as many developers start their guests
CONFIG_Q35=y

# -netdev user,id=n0 -device virtio-net-pci,netdev=n0
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_NET=y
# the pc machine's default NIC (a guest started without -netdev/-nic)
CONFIG_E1000_PCI=y
# the pc machine's default display: -nographic still creates it
CONFIG_VGA_PCI=y

# guest entropy, block and console devices commonly added to test guests
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_SERIAL=y
