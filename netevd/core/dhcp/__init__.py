"""DHCP in the core: ISC dhclient's lease files parsed (lease, syntax, values) and the reactions to
a lease (reactions), pure."""
