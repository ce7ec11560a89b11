// A complete client program: writes a file, reads it back, lists its directory.
// Usage: hello_cairn [HOST:PORT]   (default $CAIRN_NAMENODE or 127.0.0.1:8020)
#include <cstdlib>
#include <iostream>
#include <string>

#include "client/cairn/client.h"

int main(int argc, char** argv) {
  cairn::client::ClientOptions options;
  if (const char* env = std::getenv("CAIRN_NAMENODE")) options.namenode = env;
  if (argc > 1) options.namenode = argv[1];

  auto fs = cairn::client::FileSystem::Connect(options);
  if (!fs.ok()) {
    std::cerr << "connect: " << fs.status() << "\n";
    return 1;
  }
  if (auto s = (*fs)->Mkdir("/examples", /*parents=*/true); !s.ok()) {
    std::cerr << "mkdir: " << s << "\n";
    return 1;
  }

  // Write: three replicas, each packet acknowledged by all of them (sync).
  cairn::client::CreateOptions create;
  create.replication = 3;
  create.ack = cairn::client::AckMode::kSync;
  create.overwrite = true;
  auto out = (*fs)->Create("/examples/hello.txt", create);
  if (!out.ok()) {
    std::cerr << "create: " << out.status() << "\n";
    return 1;
  }
  const std::string text = "hello, cairn\n";
  if (auto s = (*out)->Write(text.data(), text.size()); !s.ok()) {
    std::cerr << "write: " << s << "\n";
    return 1;
  }
  if (auto s = (*out)->Close(); !s.ok()) {
    std::cerr << "close: " << s << "\n";
    return 1;
  }

  // Read it back.
  auto in = (*fs)->Open("/examples/hello.txt");
  if (!in.ok()) {
    std::cerr << "open: " << in.status() << "\n";
    return 1;
  }
  std::string back((*in)->length(), '\0');
  auto n = (*in)->Pread(0, back.data(), back.size());
  if (!n.ok() || back != text) {
    std::cerr << "read back failed\n";
    return 1;
  }
  std::cout << "read back: " << back;

  // List the directory.
  auto entries = (*fs)->List("/examples");
  if (!entries.ok()) {
    std::cerr << "list: " << entries.status() << "\n";
    return 1;
  }
  for (const auto& e : *entries) std::cout << e.name << "\t" << e.length << " bytes\n";
  return 0;
}
