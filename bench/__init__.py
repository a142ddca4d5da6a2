"""Benchmarks of the real netevd daemon in lab network namespaces (``python -m bench``).

Each benchmark builds its own namespaces (a fresh per-run prefix), runs the real ``netevd``
process in one of them, measures, removes everything (also when it fails), prints a table and
writes a JSON result file under ``bench/results/``. Method and figures: docs/benchmarks.md.
"""
