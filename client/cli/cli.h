// Shared pieces of the `cairn` command-line tool. Each command is a function returning the
// process exit status; errors are printed as one line on stderr ("cairn: PATH: reason").
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "client/cairn/client.h"

namespace cairn::cli {

// Global state of one invocation.
struct Context {
  client::ClientOptions options;
  // Connects on first use; nullptr after printing the error.
  client::FileSystem* fs();

 private:
  std::unique_ptr<client::FileSystem> fs_;
  bool failed_ = false;
};

// Prints "cairn: PATH: reason" (or "cairn: message" when the message says it all); returns 1.
int Fail(const std::string& path, const Status& s);
// Prints "cairn: message"; returns `code`.
int Usage(const std::string& message, int code = 2);

// Commands register themselves on `app`; `run` receives the function to call after parsing.
using Runner = std::function<int()>;
void AddNamespaceCommands(CLI::App& app, Context& ctx, Runner* run);
void AddIoCommands(CLI::App& app, Context& ctx, Runner* run);
void AddAdminCommands(CLI::App& app, Context& ctx, Runner* run);

// "-rw-r--r--" style text for a type and mode.
std::string ModeString(client::FileType type, uint32_t mode);
// "2026-11-28 09:30" (local time) for milliseconds since the epoch.
std::string TimeString(int64_t ms);
// 1536 -> "1.5 KiB"
std::string HumanBytes(uint64_t bytes);

}  // namespace cairn::cli
