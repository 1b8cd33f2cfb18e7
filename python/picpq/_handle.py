"""The lifetime management shared by every class over a libpicpq handle."""
from ._native import lib


class _Handle:
    """Common lifetime management of the C handles."""
    _ptr = None
    _free_name = None
    _what = "object"

    @property
    def ptr(self):
        """The C handle (for raw calls through picpq.lib); ValueError once closed."""
        if not self._ptr:
            raise ValueError(f"the {self._what} is closed")
        return self._ptr

    @property
    def closed(self):
        """Whether close() has freed the C object."""
        return not self._ptr

    def close(self):
        """Free the C object now. Closing twice is harmless."""
        if self._ptr:
            getattr(lib, self._free_name)(self._ptr)
            self._ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
