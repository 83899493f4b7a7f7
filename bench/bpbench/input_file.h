/* input_file.h: reads a benchmark input from a raw float32 NCHW file or a
 * NumPy .npy file (format 1.0-3.0, dtype '<f4', C order). */
#ifndef BP_BENCH_INPUT_FILE_H
#define BP_BENCH_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>

/* dims[0..ndim) is one image's shape with dims[0] == 1. The file must hold
 * `batch` images or exactly one (then copied to every batch slot): raw files
 * by their size, .npy by a shape of (batch|1, dims[1..]) or (dims[1..]).
 * Only a regular file is read (a device, FIFO or directory is refused
 * without reading or waiting), and its size must be exactly what that
 * needs: the size is checked before the data is read, and the message
 * names the expected and actual sizes. dst holds batch * prod(dims[1..])
 * floats. Returns 0, or -1 with err set. */
int bp_bench_read_input(const char *path, const uint32_t *dims, uint32_t ndim, uint32_t batch,
                        float *dst, char *err, size_t errlen);

/* Parses a .npy header in buf[0..len). On success fills the shape (at most
 * max_dims), the data offset and returns 0; else -1 with err set. */
int bp_bench_npy_header(const unsigned char *buf, size_t len, uint64_t *shape, uint32_t *ndim,
                        uint32_t max_dims, size_t *data_off, char *err, size_t errlen);

#endif
