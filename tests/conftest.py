from hypothesis import settings

pytest_plugins = ["lab.pytest_plugin"]

# No per-example deadline: it is a timed assertion, and on a loaded 2-core machine (pytest -n auto
# beside the integration suite) a slow example is the machine, not the code under test.
settings.register_profile("netevd", deadline=None)
settings.load_profile("netevd")
