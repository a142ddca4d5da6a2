"""The system bus, shared by the D-Bus sources (systemd-networkd, NetworkManager) and the name
services' executor (systemd-resolved, systemd-hostnamed).

- :mod:`netevd.bus.connection`: opening the bus (``DBUS_SYSTEM_BUS_ADDRESS`` or the system bus),
  and the bus daemon's own names;
- :mod:`netevd.bus.follow`: what a source needs: counted calls, a signal inbox, following a
  name's owner, reconnecting with backoff, tasks kept in order per key;
- :mod:`netevd.bus.caller`: what an executor needs: method calls with failures as values;
- :mod:`netevd.bus.values`: the rejection vocabulary (why a peer's message was not believed) and
  the bus daemon's NameOwnerChanged, decoded.
"""
