"""The package under test is the one the run asked for: the pip-installed
copy (with its own libpicpq inside) or the checkout."""
import os

import picpq

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.normpath(os.path.join(HERE, "..", ".."))


def test_package_and_library_come_from_where_asked():
    package = os.path.dirname(os.path.abspath(picpq.__file__))
    library = os.path.abspath(picpq._native.lib._name)
    if os.environ.get("PICPQ_TEST_INSTALLED") == "1":
        assert not package.startswith(CHECKOUT + os.sep + "python")
        assert library == os.path.join(package, "libpicpq.so")
    else:
        assert package == os.path.join(CHECKOUT, "python", "picpq")
    header = open(os.path.join(CHECKOUT, "include", "picpq.h")).read()
    assert f"#define PICPQ_VERSION_MINOR {picpq.version().split('.')[1]}" in header
