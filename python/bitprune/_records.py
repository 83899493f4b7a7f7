"""Python records (named tuples) made from the library's structs, field by
field as the cdef declares them: strings decoded, arrays as tuples, the
`size` field and pointers to other structs left out."""
import collections

from ._library import ffi

_types = {}


def record_type(ctype, name, extra=()):
    """The namedtuple class for a struct: its scalar fields plus extra."""
    key = (ctype, name)
    if key not in _types:
        names = []
        for fname, field in ffi.typeof(ctype).fields:
            t = field.type
            if fname == "size" or (t.kind == "pointer" and t.item.kind == "struct"):
                continue
            names.append(fname)
        _types[key] = collections.namedtuple(name, names + list(extra))
    return _types[key]


def _value(v, t):
    if t.kind == "pointer" and t.item.cname == "char":
        return None if v == ffi.NULL else ffi.string(v).decode(errors="replace")
    if t.kind == "array":
        return tuple(v)
    return v


def to_record(cdata, ctype, name, **extra):
    cls = record_type(ctype, name, tuple(extra))
    fields = dict(ffi.typeof(ctype).fields)
    vals = {f: _value(getattr(cdata, f), fields[f].type) for f in cls._fields if f in fields}
    vals.update(extra)
    return cls(**vals)
