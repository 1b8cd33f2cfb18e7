import os
import sys

# PICPQ_TEST_INSTALLED=1 tests the package pip installed (make check-pip);
# otherwise the checkout's python/ with the library that PICPQ_LIBRARY names.
if os.environ.get("PICPQ_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))


def pytest_report_header(config):
    import picpq
    return f"picpq {picpq.version()} from {os.path.dirname(picpq.__file__)}"
