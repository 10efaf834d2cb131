import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import isolation  # noqa: E402  (after the log level, which its child processes inherit)
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--no-isolation", action="store_true",
                     help="run the tests marked isolated in this process (tests/isolation.py)")


def pytest_collection_modifyitems(items):
    isolation.files.update(str(item.path) for item in items
                           if item.get_closest_marker("isolated") is not None)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if (isolation.IN_CHILD or pyfuncitem.get_closest_marker("isolated") is None
            or pyfuncitem.config.getoption("--no-isolation")):
        return None
    isolation.run(pyfuncitem)
    return True


def pytest_sessionfinish(session):
    isolation.close()
