{
  "targets": [
    {
      "target_name": "tftp_pump",
      "sources": ["tftp_pump.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=gnu11", "-Wall"],
      "libraries": ["-lpthread"]
    }
  ]
}
