"""bitprune.Model: a loaded, validated .bp model (immutable; any number of
sessions may share it)."""
import os

from ._handle import Handle
from ._library import ffi, lib
from ._records import to_record
from .errors import StateError, check


class TensorInfo(tuple):
    """(name, shape) of a graph input or output; shape[0] is 1 in the model
    (a session's batch replaces it)."""

    __slots__ = ()

    def __new__(cls, name, shape):
        return tuple.__new__(cls, (name, shape))

    name = property(lambda self: self[0])
    shape = property(lambda self: self[1])

    def __repr__(self):
        return f"TensorInfo(name={self.name!r}, shape={self.shape})"


def _tensor(t):
    return TensorInfo(ffi.string(t.name).decode(errors="replace"), tuple(t.dims[0:t.ndim]))


class Model(Handle):
    """Use Model.load(path_or_bytes). close() (or a with block) releases the
    caller's reference; sessions keep the model alive."""

    _free = "bp_model_free"

    def __init__(self, handle, keepalive):
        self._h = handle
        self._keep = keepalive  # bytes the library may use in place
        self.info = self._read_info()

    @classmethod
    def load(cls, source, *, verify_checksums=True, mmap=False):
        """Loads and fully validates a model from a path (str, bytes path
        given as os.PathLike) or from the model's bytes (bytes, bytearray,
        memoryview). Raises a bitprune.Error subclass on failure."""
        opts = ffi.new("bp_model_opts *")
        check(lib.bp_model_opts_init_sized(opts, ffi.sizeof("bp_model_opts")))
        opts.verify_checksums = 1 if verify_checksums else 0
        opts.mmap = 1 if mmap else 0
        out = ffi.new("bp_model **")
        if isinstance(source, (str, os.PathLike)):
            check(lib.bp_model_load_file(os.fsencode(source), opts, out))
            keep = None
        elif isinstance(source, (bytes, bytearray, memoryview)):
            # an immutable copy: an aligned buffer is used in place by the model
            keep = source if isinstance(source, bytes) else bytes(source)
            check(lib.bp_model_load_memory(ffi.from_buffer(keep), len(keep), opts, out))
        else:
            raise TypeError(f"Model.load takes a path or bytes, not {type(source).__name__}")
        return cls(out[0], keep)

    def _read_info(self):
        p = ffi.new("const bp_model_info **")
        check(lib.bp_model_info_get_sized(self._h, p, ffi.sizeof("bp_model_info"),
                                          ffi.sizeof("bp_layer_info"),
                                          ffi.sizeof("bp_tensor_info")))
        I = p[0]
        return to_record(
            I, "bp_model_info", "ModelInfo",
            inputs=tuple(_tensor(I.inputs[i]) for i in range(I.n_inputs)),
            outputs=tuple(_tensor(I.outputs[i]) for i in range(I.n_outputs)),
            layers=tuple(to_record(I.layers[i], "bp_layer_info", "LayerInfo")
                         for i in range(I.n_layers)))

    def handle(self):
        """The live bp_model * (raises StateError once closed)."""
        if self._h is None:
            raise StateError(lib.BP_ERR_STATE, "Model: the model is closed")
        return self._h

    def meta(self, key):
        """Metadata value for key ("arch", "producer", ...) or None."""
        v = lib.bp_model_meta(self.handle(), key.encode())
        return None if v == ffi.NULL else ffi.string(v).decode(errors="replace")

    def __repr__(self):
        I = self.info
        state = "closed" if self.closed else f"{I.n_layers} layers"
        return f"<bitprune.Model {I.arch or '?'}: {state}, sparsity {I.sparsity:.3f}>"
