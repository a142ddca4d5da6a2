"""The systemd-networkd source: follows org.freedesktop.network1 on the system bus (source),
decodes and checks what networkd says (decode) and its sd-bus object paths (paths)."""
