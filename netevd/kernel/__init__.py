"""The kernel's rtnetlink, as sources and executors both read it: decoding and dumps."""
