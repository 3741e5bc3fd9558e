# Bootchain: DHCP for diskless iSCSI boot.
# PXE firmware gets iPXE; any iPXE gets default.ipxe (no DHCP loop); option 17 goes only
# to Bootchain's iPXE (user-class set by its embedded script).
# Where it goes: paste into a RouterOS 7 terminal, or /import file=mikrotik.rsc

/ip dhcp-server option
add code=67 name=bootchain-file-bios value="s'undionly.kpxe'"
add code=67 name=bootchain-file-uefi value="s'snponly.efi'"
add code=67 name=bootchain-file-script value="s'default.ipxe'"
add code=66 name=bootchain-tftp-server value="s'10.77.0.20'"
/ip dhcp-server option sets
add name=bootchain-bios options=bootchain-tftp-server,bootchain-file-bios
add name=bootchain-uefi options=bootchain-tftp-server,bootchain-file-uefi
add name=bootchain-any-ipxe options=bootchain-tftp-server,bootchain-file-script
add name=bootchain-ours options=bootchain-tftp-server,bootchain-file-script
/ip dhcp-server matcher
add name=bootchain-ours server=dhcp1 code=77 value="bootchain" option-set=bootchain-ours
add name=bootchain-any-ipxe server=dhcp1 code=77 value="iPXE" option-set=bootchain-any-ipxe
add name=bootchain-uefi-7 server=dhcp1 code=93 value=0x0007 option-set=bootchain-uefi
add name=bootchain-uefi-9 server=dhcp1 code=93 value=0x0009 option-set=bootchain-uefi
add name=bootchain-bios server=dhcp1 code=93 value=0x0000 option-set=bootchain-bios
/ip dhcp-server network
set [find address="10.77.0.0/24"] next-server=10.77.0.20
