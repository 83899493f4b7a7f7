"""The lifetime of a library handle owned by one Python object: closed,
close(), with blocks, and release when the object is collected."""
from ._library import lib


class Handle:
    _free = ""   # name of the library function that frees the handle
    _lock = None  # a threading.Lock when close() may race with other calls
    _h = None

    @property
    def closed(self):
        return self._h is None

    def _release(self):
        h, self._h = self._h, None
        if h is not None:
            getattr(lib, self._free)(h)

    def close(self):
        if self._lock is None:
            self._release()
        else:
            with self._lock:
                self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self._release()  # no lock: nothing else can reach the object now
        except Exception:  # interpreter shutdown
            pass
