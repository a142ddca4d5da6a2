"""Process-level concerns: logging, sd_notify, privileges."""
