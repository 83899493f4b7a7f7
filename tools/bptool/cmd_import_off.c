/* cmd_import_off.c: `bptool import` in a build without ONNX support (meson
 * -Donnx disabled, or protobuf-c / onnx.proto / oneDNN missing): says so. */
#include <stdio.h>

#include "onnx_import.h"

int bp_tool_cmd_import(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("bptool import: not built: this bptool was built without ONNX support\n"
          "(meson -Donnx=enabled needs protobuf-c, protoc-c, onnx.proto from libonnx-dev and\n"
          "the oneDNN backends)\n",
          stderr);
    return 1;
}
