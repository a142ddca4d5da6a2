"""The NetworkManager source: follows org.freedesktop.NetworkManager on the system bus (source,
session), decodes its signals and replies (signals, decode, objects, fields, active, values,
enums, paths), and keeps the devices' and VPNs' pictures it reports (devices, vpns)."""
