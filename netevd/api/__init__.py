"""The HTTP side: REST API, Server-Sent Events, Prometheus metrics and the dashboard.

Everything here reads the engine's published snapshot through netevd.api.view; nothing here
reaches into sources or changes state except a reload, which takes the SIGHUP path.
"""
