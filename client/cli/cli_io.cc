// Data commands: put, get, cat, du, df.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/cli.h"
#include "common/path.h"

namespace cairn::cli {

using client::FileStatus;
using client::FileType;

namespace {

// A progress line on stderr (bytes, rate, ETA), drawn only when stderr is a terminal.
class Progress {
 public:
  Progress(std::string label, uint64_t total)
      : label_(std::move(label)), total_(total), enabled_(isatty(STDERR_FILENO) != 0),
        start_(std::chrono::steady_clock::now()) {}
  void Update(uint64_t done, bool final = false) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double secs = std::max(1e-3, std::chrono::duration<double>(now - start_).count());
    const double rate = static_cast<double>(done) / secs;
    std::string eta = "--";
    if (total_ > 0 && rate > 0 && done <= total_) {
      eta = absl::StrFormat("%.0fs", static_cast<double>(total_ - done) / rate);
    }
    std::string pct = total_ > 0 ? absl::StrFormat("%3.0f%%", 100.0 * done / total_) : "";
    std::fprintf(stderr, "\r%s %s %s / %s  %s/s  ETA %s   ", label_.c_str(), pct.c_str(),
                 HumanBytes(done).c_str(), total_ ? HumanBytes(total_).c_str() : "?",
                 HumanBytes(static_cast<uint64_t>(rate)).c_str(), eta.c_str());
    if (final) std::fprintf(stderr, "\n");
  }

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
};

client::AckMode ParseAck(const std::string& s, bool* ok) {
  *ok = true;
  if (s == "sync") return client::AckMode::kSync;
  if (s == "semi-sync") return client::AckMode::kSemiSync;
  if (s == "async") return client::AckMode::kAsync;
  *ok = false;
  return client::AckMode::kDefault;
}

int Put(Context& ctx, const std::string& local, std::string remote, bool force, uint32_t repl,
        const std::string& ack, uint64_t block_size) {
  bool ack_ok = false;
  client::CreateOptions co;
  co.ack = ParseAck(ack, &ack_ok);
  if (!ack_ok) return Usage(absl::StrCat("invalid --ack '", ack, "' (sync, semi-sync, async)"));
  co.replication = repl;
  co.block_size = block_size;
  int fd = local == "-" ? STDIN_FILENO : ::open(local.c_str(), O_RDONLY);
  if (fd < 0) return Usage(absl::StrCat(local, ": ", std::strerror(errno)), 1);
  struct stat st {};
  fstat(fd, &st);
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Usage(absl::StrCat(local, ": Is a directory"), 1);
  }
  auto* fs = ctx.fs();
  if (!fs) return 1;
  // "put f /dir" puts into the directory.
  if (auto rs = fs->Stat(remote); rs.ok() && rs->type == FileType::kDirectory) {
    if (local == "-") return Fail(remote, IsADirectoryError(remote));
    remote = JoinPath(remote, BaseName(local));
  }
  co.mode = local == "-" ? 0644 : (st.st_mode & 0777);
  // The data goes to a temporary name beside the destination, renamed over it once complete:
  // a put that fails half-way leaves the destination as it was and no partial file.
  auto fail_early = [&](const Status& why) {
    if (fd != STDIN_FILENO) ::close(fd);
    return Fail(remote, why);
  };
  if (remote.size() > 1 && remote.back() == '/') {
    return fail_early(NotADirectoryError(absl::StrCat(remote, ": not a directory")));
  }
  if (!force && fs->Stat(remote).ok()) {
    return fail_early(absl::AlreadyExistsError(absl::StrCat(remote, ": file exists")));
  }
  const std::string tmp = remote + "._COPYING_";
  co.overwrite = true;  // a temporary file left by an interrupted put
  auto out = fs->Create(tmp, co);
  if (!out.ok()) return fail_early(out.status());
  Progress progress("put " + remote, S_ISREG(st.st_mode) ? st.st_size : 0);
  std::string buf(4 << 20, '\0');
  uint64_t done = 0;
  Status s;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      s = absl::InternalError(absl::StrCat(local, ": ", std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    s = (*out)->Write(buf.data(), static_cast<size_t>(n));
    if (!s.ok()) break;
    done += static_cast<uint64_t>(n);
    progress.Update(done);
  }
  if (fd != STDIN_FILENO) ::close(fd);
  Status c = (*out)->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = fs->Rename(tmp, remote, /*no_replace=*/!force);
  if (!s.ok()) {
    fs->Delete(tmp).IgnoreError();
    return Fail(remote, s);
  }
  progress.Update(done, true);
  return 0;
}

int Get(Context& ctx, const std::string& remote, std::string local) {
  auto* fs = ctx.fs();
  if (!fs) return 1;
  auto in = fs->Open(remote);
  if (!in.ok()) return Fail(remote, in.status());
  struct stat st {};
  if (local != "-" && ::stat(local.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    local = JoinPath(local, BaseName(remote));
  }
  // Write to a temporary file and rename, so a failed get leaves nothing half-written.
  const std::string tmp = local == "-" ? "" : local + ".cairn-get.tmp";
  int fd = local == "-" ? STDOUT_FILENO : ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Usage(absl::StrCat(local, ": ", std::strerror(errno)), 1);
  Progress progress("get " + remote, (*in)->length());
  std::string buf(4 << 20, '\0');
  uint64_t done = 0;
  Status s;
  while (true) {
    auto n = (*in)->Read(buf.data(), buf.size());
    if (!n.ok()) {
      s = n.status();
      break;
    }
    if (*n == 0) break;
    size_t off = 0;
    while (off < *n) {
      ssize_t w = ::write(fd, buf.data() + off, *n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        s = absl::InternalError(absl::StrCat(local, ": ", std::strerror(errno)));
        break;
      }
      off += static_cast<size_t>(w);
    }
    if (!s.ok()) break;
    done += *n;
    progress.Update(done);
  }
  if (fd != STDOUT_FILENO) {
    if (s.ok() && ::fsync(fd) != 0) s = absl::InternalError(absl::StrCat(local, ": fsync failed"));
    ::close(fd);
    if (s.ok() && ::rename(tmp.c_str(), local.c_str()) != 0) {
      s = absl::InternalError(absl::StrCat(local, ": ", std::strerror(errno)));
    }
    if (!s.ok()) ::unlink(tmp.c_str());
  }
  if (!s.ok()) return Fail(remote, s);
  progress.Update(done, true);
  return 0;
}

// Bytes and files below `path` (a file counts itself).
Status DiskUsage(client::FileSystem* fs, const std::string& path, const FileStatus& st,
                 uint64_t* bytes, uint64_t* files) {
  if (st.type != FileType::kDirectory) {
    *bytes += st.length;
    *files += 1;
    return absl::OkStatus();
  }
  std::string after;
  bool more = true;
  while (more) {
    std::vector<FileStatus> page;
    RETURN_IF_ERROR(fs->ListPage(path, after, 1000, &page, &more));
    for (const auto& e : page) RETURN_IF_ERROR(DiskUsage(fs, JoinPath(path, e.name), e, bytes, files));
    if (!page.empty()) after = page.back().name;
  }
  return absl::OkStatus();
}

}  // namespace

void AddIoCommands(CLI::App& app, Context& ctx, Runner* run) {
  {
    auto* cmd = app.add_subcommand("put", "Copy a local file (or - for stdin) into Cairn");
    struct Args {
      bool force = false;
      uint32_t repl = 0;
      std::string ack = "sync";
      uint64_t block_size = 0;
      std::string local, remote;
    };
    auto a = std::make_shared<Args>();
    cmd->add_flag("-f,--force", a->force, "Overwrite an existing file");
    cmd->add_option("-r,--replication", a->repl, "Replication factor (default: the NameNode's)");
    cmd->add_option("--ack", a->ack, "Acknowledgement mode: sync, semi-sync or async")
        ->capture_default_str();
    cmd->add_option("--block-size", a->block_size, "Block size in bytes");
    cmd->add_option("LOCAL", a->local, "Local file or -")->required();
    cmd->add_option("REMOTE", a->remote, "Cairn path (a directory: put into it)")->required();
    cmd->callback([&ctx, run, a] {
      *run = [&ctx, a] { return Put(ctx, a->local, a->remote, a->force, a->repl, a->ack, a->block_size); };
    });
  }
  {
    auto* cmd = app.add_subcommand("get", "Copy a Cairn file to a local file (or - for stdout)");
    auto remote = std::make_shared<std::string>();
    auto local = std::make_shared<std::string>();
    cmd->add_option("REMOTE", *remote, "Cairn path")->required();
    cmd->add_option("LOCAL", *local, "Local path or -")->required();
    cmd->callback([&ctx, run, remote, local] {
      *run = [&ctx, remote, local] { return Get(ctx, *remote, *local); };
    });
  }
  {
    auto* cmd = app.add_subcommand("cat", "Print Cairn files to stdout");
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_option("PATH", *paths, "Files")->required();
    cmd->callback([&ctx, run, paths] {
      *run = [&ctx, paths] {
        int rc = 0;
        for (const auto& p : *paths) rc |= Get(ctx, p, "-");
        return rc;
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("du", "Bytes used below paths");
    cmd->set_help_flag("--help", "Print this help message and exit");
    auto paths = std::make_shared<std::vector<std::string>>();
    auto human = std::make_shared<bool>(false);
    auto summary = std::make_shared<bool>(false);
    cmd->add_flag("-h,--human-readable", *human, "Sizes like 1.5 GiB");
    cmd->add_flag("-s,--summarize", *summary, "Only a total for each argument");
    cmd->add_option("PATH", *paths, "Paths (default /)");
    cmd->callback([&ctx, run, paths, human, summary] {
      *run = [&ctx, paths, human, summary] {
        auto* fs = ctx.fs();
        if (!fs) return 1;
        if (paths->empty()) paths->push_back("/");
        int rc = 0;
        auto show = [&](uint64_t bytes, const std::string& p) {
          std::cout << (*human ? HumanBytes(bytes) : std::to_string(bytes)) << "\t" << p << "\n";
        };
        for (const auto& p : *paths) {
          auto st = fs->Stat(p);
          if (!st.ok()) {
            rc = Fail(p, st.status());
            continue;
          }
          if (*summary || st->type != FileType::kDirectory) {
            uint64_t bytes = 0, files = 0;
            if (Status s = DiskUsage(fs, p, *st, &bytes, &files); !s.ok()) {
              rc = Fail(p, s);
              continue;
            }
            show(bytes, p);
            continue;
          }
          auto entries = fs->List(p);
          if (!entries.ok()) {
            rc = Fail(p, entries.status());
            continue;
          }
          for (const auto& e : *entries) {
            uint64_t bytes = 0, files = 0;
            std::string child = JoinPath(p, e.name);
            if (Status s = DiskUsage(fs, child, e, &bytes, &files); !s.ok()) {
              rc = Fail(child, s);
              continue;
            }
            show(bytes, child);
          }
        }
        return rc;
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("df", "Cluster capacity and usage");
    cmd->set_help_flag("--help", "Print this help message and exit");
    auto human = std::make_shared<bool>(false);
    cmd->add_flag("-h,--human-readable", *human, "Sizes like 1.5 GiB");
    cmd->callback([&ctx, run, human] {
      *run = [&ctx, human] {
        auto* fs = ctx.fs();
        if (!fs) return 1;
        auto st = fs->GetFsStats();
        if (!st.ok()) return Fail("", st.status());
        auto sz = [&](uint64_t b) { return *human ? HumanBytes(b) : std::to_string(b); };
        std::cout << absl::StrFormat("%-16s %14s %14s %14s %5s %s\n", "Filesystem", "Size", "Used",
                                     "Available", "Use%", "DataNodes");
        const double pct = st->capacity ? 100.0 * st->used / st->capacity : 0;
        std::cout << absl::StrFormat("%-16s %14s %14s %14s %4.0f%% %u live, %u dead\n",
                                     "cairn://" + ctx.options.namenode, sz(st->capacity),
                                     sz(st->used), sz(st->remaining), pct, st->live_datanodes,
                                     st->dead_datanodes);
        return 0;
      };
    });
  }
}

}  // namespace cairn::cli
