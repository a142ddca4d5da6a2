"""Containers: netevd's image built from this checkout (image, python -m lab.containers.image) and
podman run for the tests (podman)."""
