{
  "targets": [
    {
      "target_name": "unix_socket",
      "sources": ["native/addon.cc", "native/reactor.cc", "native/syscalls.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-fvisibility=hidden"],
      "cflags_cc": ["-std=c++17"],
      "cflags_cc!": ["-std=gnu++17"],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags": ["-O2"]
        }
      }
    }
  ]
}
