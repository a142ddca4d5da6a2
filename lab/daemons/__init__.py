"""The helper daemons a test runs for real, each in a lab namespace: a private dbus-daemon (bus),
dnsmasq and dhclient (dhcp), systemd-networkd (networkd), NetworkManager (networkmanager,
networkmanager_files), the real dispatchers (dispatcher), systemd's resolved, hostnamed and
polkitd (systemd_services), and the sandbox they run in (sandbox)."""
