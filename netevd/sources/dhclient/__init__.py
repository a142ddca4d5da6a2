"""The dhclient source: watches ISC dhclient's lease files (source, files), keeps each interface's
current lease and what changed (book) and counts what it read (metrics)."""
