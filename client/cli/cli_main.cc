// cairn: the command-line tool. `cairn [--namenode HOST:PORT] COMMAND ...`
#include <cstdlib>
#include <iostream>

#include "client/cli/cli.h"
#include "common/errno_map.h"
#include "common/malloc_tuning.h"

namespace cairn::cli {

client::FileSystem* Context::fs() {
  if (fs_) return fs_.get();
  if (failed_) return nullptr;
  auto fs = client::FileSystem::Connect(options);
  if (!fs.ok()) {
    failed_ = true;
    std::cerr << "cairn: " << fs.status().message() << "\n";
    return nullptr;
  }
  fs_ = std::move(*fs);
  return fs_.get();
}

int Fail(const std::string& path, const Status& s) {
  std::string text = ErrorText(s);
  if (text == s.message() || path.empty()) {
    std::cerr << "cairn: " << s.message() << "\n";
  } else {
    std::cerr << "cairn: " << path << ": " << text << "\n";
  }
  return 1;
}

int Usage(const std::string& message, int code) {
  std::cerr << "cairn: " << message << "\n";
  return code;
}

}  // namespace cairn::cli

int main(int argc, char** argv) {
  cairn::KeepLargeBuffersInHeap();
  cairn::cli::Context ctx;
  if (const char* env = std::getenv("CAIRN_NAMENODE"); env && *env) ctx.options.namenode = env;
  ctx.options.rpc_timeout_ms = 30000;
  ctx.options.connect_timeout_ms = 3000;

  CLI::App app{"cairn: the Cairn distributed file system command-line tool"};
  app.require_subcommand(1);
  app.add_option("--namenode", ctx.options.namenode,
                 "NameNode address HOST:PORT (default $CAIRN_NAMENODE or 127.0.0.1:8020)");
  app.add_option("--timeout-ms", ctx.options.rpc_timeout_ms, "Deadline of each NameNode call");
  app.add_option("--connect-timeout-ms", ctx.options.connect_timeout_ms,
                 "How long to try reaching the NameNode");
  cairn::cli::Runner run;
  cairn::cli::AddNamespaceCommands(app, ctx, &run);
  cairn::cli::AddIoCommands(app, ctx, &run);
  cairn::cli::AddAdminCommands(app, ctx, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "cairn: " << e.what() << "\n";
    std::cerr << "Try 'cairn --help' or 'cairn COMMAND --help'.\n";
    return 2;
  }
  if (!run) return cairn::cli::Usage("no command");
  return run();
}
