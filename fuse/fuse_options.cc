#include "fuse/fuse_options.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cairn::fuse {
namespace {

bool ParseUnsigned(absl::string_view s, uint64_t* out) {
  // Accepts a K/M/G suffix (powers of 1024).
  uint64_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k': case 'K': mult = 1ull << 10; break;
      case 'm': case 'M': mult = 1ull << 20; break;
      case 'g': case 'G': mult = 1ull << 30; break;
      default: break;
    }
    if (mult != 1) s.remove_suffix(1);
  }
  uint64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) return false;
  *out = v * mult;
  return true;
}

// Applies one -o option that cairn-fuse itself understands. Returns false if it is not one.
StatusOr<bool> ApplyOwnOption(const std::string& opt, FuseOptions* o, bool* namenode_from_o) {
  const size_t eq = opt.find('=');
  const std::string key = opt.substr(0, eq);
  const std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
  const bool has_value = eq != std::string::npos;
  auto bad = [&]() { return absl::InvalidArgumentError(absl::StrCat("bad option -o ", opt)); };
  auto seconds = [&](double* out) -> Status {
    if (!has_value || !absl::SimpleAtod(value, out) || *out < 0) return bad();
    return absl::OkStatus();
  };
  auto number = [&](uint64_t* out) -> Status {
    if (!has_value || !ParseUnsigned(value, out)) return bad();
    return absl::OkStatus();
  };
  uint64_t n = 0;
  if (key == "namenode") {
    if (!has_value || value.empty()) return bad();
    o->namenode = value;
    *namenode_from_o = true;
  } else if (key == "attr_timeout") {
    RETURN_IF_ERROR(seconds(&o->attr_timeout_s));
  } else if (key == "entry_timeout") {
    RETURN_IF_ERROR(seconds(&o->entry_timeout_s));
  } else if (key == "negative_timeout") {
    RETURN_IF_ERROR(seconds(&o->negative_timeout_s));
  } else if (key == "kernel_cache") {
    o->kernel_cache = true;
  } else if (key == "dir_cache") {
    o->dir_cache = true;
  } else if (key == "no_dir_cache") {
    o->dir_cache = false;
  } else if (key == "max_threads") {
    RETURN_IF_ERROR(number(&n));
    o->max_threads = static_cast<unsigned>(n);
  } else if (key == "clone_fd") {
    o->clone_fd = true;
  } else if (key == "noclone_fd") {
    o->clone_fd = false;
  } else if (key == "max_write") {
    RETURN_IF_ERROR(number(&n));
    o->max_write_bytes = static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX));
  } else if (key == "max_readahead") {
    RETURN_IF_ERROR(number(&n));
    o->max_readahead_bytes = static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX));
  } else if (key == "read_chunk") {
    RETURN_IF_ERROR(number(&o->read_chunk_bytes));
  } else if (key == "read_ahead_chunks") {
    RETURN_IF_ERROR(number(&n));
    o->read_ahead_chunks = static_cast<int>(std::min<uint64_t>(n, 64));
  } else if (key == "stage_on_unlink_max") {
    RETURN_IF_ERROR(number(&o->stage_on_unlink_max_bytes));
  } else if (key == "replication") {
    RETURN_IF_ERROR(number(&n));
    o->replication = static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX));
  } else if (key == "block_size") {
    RETURN_IF_ERROR(number(&o->block_size_bytes));
  } else if (key == "rpc_timeout_ms") {
    RETURN_IF_ERROR(number(&n));
    o->rpc_timeout_ms = static_cast<int64_t>(n);
  } else if (key == "staging_dir") {
    if (!has_value || value.empty()) return bad();
    o->staging_dir = value;
  } else if (key == "log_file") {
    if (!has_value) return bad();
    o->log_file = value;
  } else if (key == "pid_file") {
    if (!has_value) return bad();
    o->pid_file = value;
  } else if (key == "default_permissions") {
    o->default_permissions = true;
  } else if (key == "no_default_permissions") {
    o->default_permissions = false;
  } else if (key == "allow_other") {
    o->allow_other = true;
  } else if (key == "no_allow_other") {
    o->allow_other = false;
  } else {
    return false;
  }
  return true;
}

}  // namespace

Status FuseOptions::Validate() const {
  if (mountpoint.empty()) return absl::InvalidArgumentError("no mountpoint given");
  if (namenode.empty()) return absl::InvalidArgumentError("empty NameNode address");
  if (max_threads < 1 || max_threads > 1024) {
    return absl::InvalidArgumentError("max_threads must be in 1..1024");
  }
  if (max_write_bytes < 4096) return absl::InvalidArgumentError("max_write must be >= 4096");
  if (read_chunk_bytes < 4096 || read_chunk_bytes > (256u << 20)) {
    return absl::InvalidArgumentError("read_chunk must be in 4K..256M");
  }
  if (rpc_timeout_ms <= 0) return absl::InvalidArgumentError("rpc_timeout_ms must be positive");
  return absl::OkStatus();
}

std::string FuseUsage(const char* argv0) {
  return absl::StrCat(
      "usage: ", argv0, " MOUNTPOINT [--namenode HOST:PORT] [-f] [-d] [-s] [-o OPT[,OPT...]]\n\n",
      "Mounts a Cairn file system. The NameNode address comes from --namenode, -o namenode=,\n"
      "$CAIRN_NAMENODE, or defaults to 127.0.0.1:8020. Without -f the process daemonizes once\n"
      "the mount is up (errors are printed first). Unmount with `fusermount3 -u MOUNTPOINT` or\n"
      "SIGTERM/SIGINT (open files are written back first).\n\n"
      "Options (-o):\n"
      "  attr_timeout=S, entry_timeout=S, negative_timeout=S   kernel cache times (1, 1, 0)\n"
      "  kernel_cache            keep cached file data across opens\n"
      "  no_dir_cache            no lookups from cached directory listings\n"
      "  max_threads=N           FUSE worker threads (32); clone_fd / noclone_fd\n"
      "  max_write=BYTES         largest write request (1M)\n"
      "  max_readahead=BYTES     kernel read-ahead (8M)\n"
      "  read_chunk=BYTES        DataNode read size of sequential readers (4M)\n"
      "  read_ahead_chunks=N     chunks prefetched by sequential readers (2)\n"
      "  replication=N           replication of new files (NameNode default)\n"
      "  block_size=BYTES        block size of new files (NameNode default)\n"
      "  staging_dir=DIR         where staged copies of modified files live ($TMPDIR or /tmp)\n"
      "  rpc_timeout_ms=MS       NameNode call deadline (30000)\n"
      "  log_file=FILE, pid_file=FILE   daemon mode\n"
      "  no_default_permissions, no_allow_other   (both are on by default as root)\n"
      "  anything else (ro, fsname=, ...) goes to libfuse and the kernel\n");
}

Status ParseFuseCommandLine(int argc, char** argv, FuseOptions* o, bool* exit_now) {
  *exit_now = false;
  o->allow_other = geteuid() == 0;
  bool namenode_given = false;
  bool namenode_from_o = false;
  std::vector<std::string> opts;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << FuseUsage(argv[0]);
      *exit_now = true;
      return absl::OkStatus();
    } else if (a == "-V" || a == "--version") {
      std::cout << "cairn-fuse 0.1\n";
      *exit_now = true;
      return absl::OkStatus();
    } else if (a == "-f") {
      o->foreground = true;
    } else if (a == "-d" || a == "--debug") {
      o->debug = true;
      o->foreground = true;
    } else if (a == "-s") {
      o->single_threaded = true;
    } else if (a == "--namenode" || a == "-n") {
      if (i + 1 >= argc) return absl::InvalidArgumentError("--namenode needs HOST:PORT");
      o->namenode = argv[++i];
      namenode_given = true;
    } else if (a.rfind("--namenode=", 0) == 0) {
      o->namenode = a.substr(11);
      namenode_given = true;
    } else if (a == "-o") {
      if (i + 1 >= argc) return absl::InvalidArgumentError("-o needs options");
      for (auto& p : absl::StrSplit(argv[++i], ',', absl::SkipEmpty())) opts.emplace_back(p);
    } else if (a.rfind("-o", 0) == 0) {
      for (auto& p : absl::StrSplit(a.substr(2), ',', absl::SkipEmpty())) opts.emplace_back(p);
    } else if (!a.empty() && a[0] == '-') {
      return absl::InvalidArgumentError(absl::StrCat("unknown argument ", a));
    } else if (o->mountpoint.empty()) {
      o->mountpoint = a;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument ", a));
    }
  }
  const std::string cmdline_namenode = o->namenode;
  for (const auto& opt : opts) {
    ASSIGN_OR_RETURN(bool own, ApplyOwnOption(opt, o, &namenode_from_o));
    if (!own) o->fuse_options.push_back(opt);
  }
  if (namenode_given) {
    o->namenode = cmdline_namenode;
  } else if (!namenode_from_o) {
    if (const char* env = std::getenv("CAIRN_NAMENODE"); env != nullptr && *env != '\0') {
      o->namenode = env;
    }
  }
  if (!o->mountpoint.empty() && o->mountpoint.size() > 1 && o->mountpoint.back() == '/') {
    o->mountpoint.pop_back();
  }
  return o->Validate();
}

std::string KernelMountOptions(const FuseOptions& o) {
  std::vector<std::string> out;
  bool has_fsname = false, has_subtype = false;
  for (const auto& opt : o.fuse_options) {
    if (opt.rfind("fsname=", 0) == 0) has_fsname = true;
    if (opt.rfind("subtype=", 0) == 0) has_subtype = true;
  }
  if (!has_fsname) out.push_back(absl::StrCat("fsname=cairn@", o.namenode));
  if (!has_subtype) out.push_back("subtype=cairn");
  if (o.default_permissions) out.push_back("default_permissions");
  if (o.allow_other) out.push_back("allow_other");
  for (const auto& opt : o.fuse_options) out.push_back(opt);
  // Commas inside values (none expected) would split options; fsname may contain ':' only.
  return absl::StrJoin(out, ",");
}

}  // namespace cairn::fuse
