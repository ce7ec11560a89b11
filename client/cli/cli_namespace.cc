// Namespace commands: mkdir, ls, stat, mv, rm, touch, setrep, chmod, chown, ln.
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/cli.h"
#include "common/path.h"

namespace cairn::cli {

using client::FileStatus;
using client::FileType;

std::string ModeString(FileType type, uint32_t mode) {
  std::string s = type == FileType::kDirectory ? "d" : type == FileType::kSymlink ? "l" : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (mode & (0400 >> i)) ? rwx[i] : '-';
  // setuid, setgid, sticky: s/S, s/S, t/T in the execute columns.
  if (mode & 04000) s[3] = s[3] == 'x' ? 's' : 'S';
  if (mode & 02000) s[6] = s[6] == 'x' ? 's' : 'S';
  if (mode & 01000) s[9] = s[9] == 'x' ? 't' : 'T';
  return s;
}

std::string TimeString(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrCat(bytes, " B") : absl::StrFormat("%.1f %s", v, units[u]);
}

namespace {

const char* TypeName(FileType t) {
  return t == FileType::kDirectory ? "directory" : t == FileType::kSymlink ? "symbolic link" : "regular file";
}

void PrintLong(const FileStatus& st, const std::string& shown) {
  std::cout << ModeString(st.type, st.mode) << " "
            << std::setw(3) << (st.type == FileType::kFile ? std::to_string(st.replication) : "-")
            << " " << std::left << std::setw(8) << st.owner << " " << std::setw(8) << st.group
            << std::right << " " << std::setw(12) << st.length << " " << TimeString(st.mtime_ms)
            << " " << shown;
  if (st.type == FileType::kSymlink) std::cout << " -> " << st.symlink_target;
  std::cout << "\n";
}

// Lists `path` (recursively with `recursive`); returns false after printing an error.
bool ListDir(client::FileSystem* fs, const std::string& path, bool lng, bool recursive,
             bool show_full) {
  std::string after;
  bool more = true;
  std::vector<std::string> subdirs;
  while (more) {
    std::vector<FileStatus> page;
    if (Status s = fs->ListPage(path, after, 1000, &page, &more); !s.ok()) {
      Fail(path, s);
      return false;
    }
    for (const auto& st : page) {
      std::string shown = show_full ? JoinPath(path, st.name) : st.name;
      if (lng) {
        PrintLong(st, shown);
      } else {
        std::cout << shown << "\n";
      }
      if (recursive && st.type == FileType::kDirectory) subdirs.push_back(JoinPath(path, st.name));
    }
    if (!page.empty()) after = page.back().name;
  }
  bool ok = true;
  for (const auto& d : subdirs) ok &= ListDir(fs, d, lng, recursive, show_full);
  return ok;
}

}  // namespace

void AddNamespaceCommands(CLI::App& app, Context& ctx, Runner* run) {
  // mkdir
  {
    auto* cmd = app.add_subcommand("mkdir", "Create directories");
    auto parents = std::make_shared<bool>(false);
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_flag("-p,--parents", *parents, "Create missing parents; no error if it exists");
    cmd->add_option("PATH", *paths, "Directories to create")->required();
    cmd->callback([&ctx, run, parents, paths] {
      *run = [&ctx, parents, paths] {
        auto* fs = ctx.fs();
        if (!fs) return 1;
        int rc = 0;
        for (const auto& p : *paths) {
          if (Status s = fs->Mkdir(p, *parents); !s.ok()) rc = Fail(p, s);
        }
        return rc;
      };
    });
  }
  // ls
  {
    auto* cmd = app.add_subcommand("ls", "List directories (or show files)");
    auto lng = std::make_shared<bool>(false);
    auto rec = std::make_shared<bool>(false);
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_flag("-l", *lng, "Long format: mode, replication, owner, group, size, mtime");
    cmd->add_flag("-R", *rec, "Recursive (prints full paths)");
    cmd->add_option("PATH", *paths, "Paths (default /)");
    cmd->callback([&ctx, run, lng, rec, paths] {
      *run = [&ctx, lng, rec, paths] {
        auto* fs = ctx.fs();
        if (!fs) return 1;
        if (paths->empty()) paths->push_back("/");
        int rc = 0;
        for (const auto& p : *paths) {
          auto st = fs->Stat(p);
          if (!st.ok()) {
            rc = Fail(p, st.status());
            continue;
          }
          if (st->type != FileType::kDirectory) {
            if (*lng) {
              PrintLong(*st, p);
            } else {
              std::cout << p << "\n";
            }
            continue;
          }
          if (paths->size() > 1 && !*rec) std::cout << p << ":\n";
          if (!ListDir(fs, p, *lng, *rec, *rec)) rc = 1;
        }
        return rc;
      };
    });
  }
  // stat
  {
    auto* cmd = app.add_subcommand("stat", "Show metadata (and blocks) of paths");
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_option("PATH", *paths, "Paths")->required();
    cmd->callback([&ctx, run, paths] {
      *run = [&ctx, paths] {
        auto* fs = ctx.fs();
        if (!fs) return 1;
        int rc = 0;
        for (const auto& p : *paths) {
          auto st = fs->Stat(p);
          if (!st.ok()) {
            rc = Fail(p, st.status());
            continue;
          }
          std::cout << "  File: " << p;
          if (st->type == FileType::kSymlink) std::cout << " -> " << st->symlink_target;
          std::cout << "\n  Type: " << TypeName(st->type) << "\n  Size: " << st->length
                    << "\n  Inode: " << st->inode_id << "\n  Mode: "
                    << absl::StrFormat("%04o", st->mode) << " (" << ModeString(st->type, st->mode)
                    << ")\n  Owner: " << st->owner << "\n  Group: " << st->group
                    << "\n  Modify: " << TimeString(st->mtime_ms)
                    << "\n  Access: " << TimeString(st->atime_ms)
                    << "\n  Change: " << TimeString(st->ctime_ms) << "\n";
          if (st->type == FileType::kDirectory) {
            std::cout << "  Entries: " << st->children << "\n";
          } else if (st->type == FileType::kFile) {
            std::cout << "  Replication: " << st->replication << "\n  Block size: "
                      << st->block_size << "\n";
            if (st->under_construction) std::cout << "  Under construction: yes\n";
            auto blocks = fs->GetBlocks(p);
            if (!blocks.ok()) {
              rc = Fail(p, blocks.status());
              continue;
            }
            std::cout << "  Blocks: " << blocks->size() << "\n";
            for (const auto& b : *blocks) {
              std::cout << "    blk_" << b.block_id << "_" << b.generation_stamp
                        << " offset=" << b.offset << " len=" << b.length
                        << (b.corrupt ? " CORRUPT" : "") << " [";
              for (size_t i = 0; i < b.datanodes.size(); ++i) {
                std::cout << (i ? ", " : "") << b.datanodes[i];
              }
              std::cout << "]\n";
            }
          }
        }
        return rc;
      };
    });
  }
  // mv
  {
    auto* cmd = app.add_subcommand("mv", "Move or rename; into DST if it is a directory");
    auto args = std::make_shared<std::vector<std::string>>();
    auto no_clobber = std::make_shared<bool>(false);
    cmd->add_flag("-n,--no-clobber", *no_clobber, "Do not replace an existing file");
    cmd->add_option("SRC... DST", *args, "Sources and destination")->required()->expected(2, -1);
    cmd->callback([&ctx, run, args, no_clobber] {
      *run = [&ctx, args, no_clobber] {
        auto* fs = ctx.fs();
        if (!fs) return 1;
        const std::string dst = args->back();
        auto dst_st = fs->Stat(dst);
        const bool into = dst_st.ok() && dst_st->type == FileType::kDirectory;
        if (args->size() > 2 && !into) {
          return Fail(dst, dst_st.ok() ? NotADirectoryError(dst) : dst_st.status());
        }
        int rc = 0;
        for (size_t i = 0; i + 1 < args->size(); ++i) {
          const std::string& src = (*args)[i];
          std::string target = into ? JoinPath(dst, BaseName(src)) : dst;
          if (Status s = fs->Rename(src, target, *no_clobber); !s.ok()) {
            rc = Fail(s.code() == absl::StatusCode::kNotFound ? src : target, s);
          }
        }
        return rc;
      };
    });
  }
  // rm
  {
    auto* cmd = app.add_subcommand("rm", "Delete files and directories");
    auto rec = std::make_shared<bool>(false);
    auto force = std::make_shared<bool>(false);
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_flag("-r,-R,--recursive", *rec, "Delete directories and their contents");
    cmd->add_flag("-f,--force", *force, "Ignore missing paths");
    cmd->add_option("PATH", *paths, "Paths")->required();
    cmd->callback([&ctx, run, rec, force, paths] {
      *run = [&ctx, rec, force, paths] {
        auto* fs = ctx.fs();
        if (!fs) return 1;
        int rc = 0;
        for (const auto& p : *paths) {
          if (!*rec) {
            auto st = fs->Stat(p);
            if (st.ok() && st->type == FileType::kDirectory) {
              rc = Fail(p, IsADirectoryError(p));
              continue;
            }
          }
          Status s = fs->Delete(p, *rec);
          if (!s.ok() && !(*force && s.code() == absl::StatusCode::kNotFound)) rc = Fail(p, s);
        }
        return rc;
      };
    });
  }
  // touch
  {
    auto* cmd = app.add_subcommand("touch", "Create empty files or update their times");
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_option("PATH", *paths, "Paths")->required();
    cmd->callback([&ctx, run, paths] {
      *run = [&ctx, paths] {
        auto* fs = ctx.fs();
        if (!fs) return 1;
        int rc = 0;
        for (const auto& p : *paths) {
          if (Status s = fs->Touch(p); !s.ok()) rc = Fail(p, s);
        }
        return rc;
      };
    });
  }
  // setrep
  {
    auto* cmd = app.add_subcommand("setrep", "Set the replication factor of files");
    auto n = std::make_shared<int64_t>(0);
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_option("N", *n, "Replication factor")->required();
    cmd->add_option("PATH", *paths, "Files")->required();
    cmd->callback([&ctx, run, n, paths] {
      *run = [&ctx, n, paths] {
        if (*n < 1 || *n > 1000) return Usage(absl::StrCat("invalid replication factor: ", *n));
        auto* fs = ctx.fs();
        if (!fs) return 1;
        int rc = 0;
        for (const auto& p : *paths) {
          if (Status s = fs->SetReplication(p, static_cast<uint32_t>(*n)); !s.ok()) rc = Fail(p, s);
        }
        return rc;
      };
    });
  }
  // chmod
  {
    auto* cmd = app.add_subcommand("chmod", "Change permission bits (octal MODE)");
    auto mode = std::make_shared<std::string>();
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_option("MODE", *mode, "Octal mode, e.g. 755")->required();
    cmd->add_option("PATH", *paths, "Paths")->required();
    cmd->callback([&ctx, run, mode, paths] {
      *run = [&ctx, mode, paths] {
        uint32_t m = 0;
        if (mode->empty() || mode->size() > 4 ||
            mode->find_first_not_of("01234567") != std::string::npos) {
          return Usage(absl::StrCat("invalid mode: '", *mode, "' (use octal, e.g. 644)"));
        }
        m = static_cast<uint32_t>(std::stoul(*mode, nullptr, 8));
        auto* fs = ctx.fs();
        if (!fs) return 1;
        int rc = 0;
        for (const auto& p : *paths) {
          if (Status s = fs->SetPermission(p, m); !s.ok()) rc = Fail(p, s);
        }
        return rc;
      };
    });
  }
  // chown
  {
    auto* cmd = app.add_subcommand("chown", "Change owner and/or group (USER[:GROUP] or :GROUP)");
    auto spec = std::make_shared<std::string>();
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_option("USER[:GROUP]", *spec, "New owner and group")->required();
    cmd->add_option("PATH", *paths, "Paths")->required();
    cmd->callback([&ctx, run, spec, paths] {
      *run = [&ctx, spec, paths] {
        std::string user = *spec, group;
        if (auto colon = spec->find(':'); colon != std::string::npos) {
          user = spec->substr(0, colon);
          group = spec->substr(colon + 1);
        }
        if (user.empty() && group.empty()) return Usage(absl::StrCat("invalid owner: '", *spec, "'"));
        auto* fs = ctx.fs();
        if (!fs) return 1;
        int rc = 0;
        for (const auto& p : *paths) {
          if (Status s = fs->SetOwner(p, user, group); !s.ok()) rc = Fail(p, s);
        }
        return rc;
      };
    });
  }
  // ln -s
  {
    auto* cmd = app.add_subcommand("ln", "Create a symbolic link (ln -s TARGET LINK)");
    auto sym = std::make_shared<bool>(false);
    auto target = std::make_shared<std::string>();
    auto link = std::make_shared<std::string>();
    cmd->add_flag("-s,--symbolic", *sym, "Symbolic link (required: no hard links)");
    cmd->add_option("TARGET", *target, "Link target")->required();
    cmd->add_option("LINK", *link, "Link path")->required();
    cmd->callback([&ctx, run, sym, target, link] {
      *run = [&ctx, sym, target, link] {
        if (!*sym) return Usage("hard links are not supported; use ln -s");
        auto* fs = ctx.fs();
        if (!fs) return 1;
        if (Status s = fs->CreateSymlink(*target, *link); !s.ok()) return Fail(*link, s);
        return 0;
      };
    });
  }
}

}  // namespace cairn::cli
