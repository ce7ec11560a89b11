#include "datanode/replica_file_pool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/file_io.h"
#include "common/logging.h"

namespace cairn::datanode {

namespace {
constexpr int64_t kRetryAfterMs = 1000;  // after a pool directory refused a new file
constexpr char kCleanMarker[] = ".clean";  // in a pool directory: left by a clean stop
constexpr char kAsidePrefix[] = "pool.crashed-";  // in VOLUME/current: a crashed run's pool

bool IsEmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return true;
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}
}  // namespace

ReplicaFilePool::ReplicaFilePool(std::vector<std::string> dirs, size_t target)
    : target_(target), pools_(dirs.size()) {
  for (size_t v = 0; v < dirs.size(); ++v) {
    Pool& p = pools_[v];
    p.dir = std::move(dirs[v]);
    if (p.dir.empty()) continue;  // (a volume without a pool)
    if (::mkdir(p.dir.c_str(), 0755) != 0 && errno != EEXIST) {
      LOG(WARNING) << "replica file pool: cannot create " << p.dir << ": " << strerror(errno);
      continue;
    }
    // After a crash the pool directory is not trusted: a crash can undo the rename that took a
    // file out of the pool, leaving a pool name on a replica's file, and without a journal
    // (and fsck) even the link counts may be wrong. Nothing in it is used or removed; it is
    // set aside for an operator. After a clean stop (the marker), its files are adopted,
    // still only empty ones with no other name.
    const std::string marker = absl::StrCat(p.dir, "/", kCleanMarker);
    if (::access(marker.c_str(), F_OK) == 0) {
      // From here on a crash must not pass for a clean stop.
      if (::unlink(marker.c_str()) != 0 || FsyncDir(p.dir) != 0) continue;
    } else {
      if (!IsEmptyDir(p.dir)) {
        // A name of its own (two crashes may fall in one second; rename(2) onto a directory
        // that is not empty fails).
        std::string aside = absl::StrCat(p.dir, ".crashed-", ::time(nullptr));
        for (int n = 1; ::access(aside.c_str(), F_OK) == 0; ++n) {
          aside = absl::StrCat(p.dir, ".crashed-", ::time(nullptr), "-", n);
        }
        if (::rename(p.dir.c_str(), aside.c_str()) != 0 || ::mkdir(p.dir.c_str(), 0755) != 0) {
          LOG(WARNING) << "replica file pool: cannot set " << p.dir << " aside: "
                       << strerror(errno) << "; no pool on this volume";
          p.dir.clear();
          continue;
        }
        LOG(WARNING) << "replica file pool: the DataNode did not stop cleanly; the old pool is "
                     << "set aside at " << aside << " (removed at start, file by file, where "
                     << "that is safe)";
      }
      continue;  // nothing to adopt
    }
    DIR* d = ::opendir(p.dir.c_str());
    if (d == nullptr) continue;
    absl::MutexLock l(&p.mu);
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      const std::string path = absl::StrCat(p.dir, "/", e->d_name);
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (st.st_size != 0 || st.st_nlink != 1) {
        LOG(WARNING) << "replica file pool: not using " << path << " (" << st.st_size
                     << " bytes, " << st.st_nlink << " links): a crash left it";
        continue;
      }
      p.names.emplace_back(e->d_name);
      next_name_ = std::max<uint64_t>(next_name_, std::strtoull(e->d_name, nullptr, 10) + 1);
    }
    ::closedir(d);
  }
  filler_ = std::thread([this] { Fill(); });
}

ReplicaFilePool::~ReplicaFilePool() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  filler_.join();
  // A clean stop: the pool directory as it is now (every file taken out, every file made)
  // made durable, then the marker that lets the next start trust it.
  for (Pool& p : pools_) {
    if (p.dir.empty() || FsyncDir(p.dir) != 0) continue;
    const int fd = ::open(absl::StrCat(p.dir, "/", kCleanMarker).c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) continue;
    ::close(fd);
    FsyncDir(p.dir);
  }
}

bool ReplicaFilePool::Take(int volume, const std::string& dest) {
  if (volume < 0 || static_cast<size_t>(volume) >= pools_.size()) return false;
  Pool& p = pools_[volume];
  std::string name;
  bool low;  // (the filler tops the pool up after every take: it works beside the writers)
  {
    absl::MutexLock l(&p.mu);
    if (!p.names.empty()) {
      name = std::move(p.names.front());
      p.names.pop_front();
    }
    low = p.names.size() < target_;
  }
  if (low) {
    absl::MutexLock l(&mu_);
    wanted_ = true;
  }
  if (name.empty()) return false;
  if (::rename(absl::StrCat(p.dir, "/", name).c_str(), dest.c_str()) != 0) {
    LOG(WARNING) << "replica file pool: cannot move " << p.dir << "/" << name << " to " << dest
                 << ": " << strerror(errno);
    return false;
  }
  return true;
}

size_t ReplicaFilePool::SweepCrashedPools(const std::string& current,
                                          const std::vector<std::string>& replica_dirs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // The set-aside directories and, in them, the files that may go: empty, one link.
  struct Dir {
    std::string path;
    std::vector<std::pair<std::string, std::pair<dev_t, ino_t>>> candidates;
    size_t others = 0;  // files that stay whatever the replicas are
  };
  std::vector<Dir> dirs;
  for (auto it = fs::directory_iterator(current, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->path().filename().string().rfind(kAsidePrefix, 0) == 0) {
      dirs.push_back(Dir{it->path().string(), {}, 0});
    }
  }
  if (dirs.empty()) return 0;
  std::set<std::pair<dev_t, ino_t>> candidates;
  for (Dir& d : dirs) {
    std::error_code dec;
    for (auto it = fs::directory_iterator(d.path, dec); !dec && it != fs::directory_iterator();
         it.increment(dec)) {
      struct stat st;
      if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
          st.st_nlink == 1) {
        d.candidates.emplace_back(it->path().string(), std::make_pair(st.st_dev, st.st_ino));
        candidates.emplace(st.st_dev, st.st_ino);
      } else {
        ++d.others;
      }
    }
    if (dec) {  // unreadable: nothing in it is removed
      d.others += d.candidates.size() + 1;
      d.candidates.clear();
    }
  }
  // A candidate that is also a replica's file stays: a crash can leave a pool name on it, and
  // without fsck its link count may say 1.
  std::set<std::pair<dev_t, ino_t>> in_use;
  if (!candidates.empty()) {
    for (const std::string& dir : replica_dirs) {
      for (auto it = fs::recursive_directory_iterator(dir, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        struct stat st;
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            candidates.count({st.st_dev, st.st_ino}) != 0) {
          in_use.emplace(st.st_dev, st.st_ino);
        }
      }
      if (ec) {
        LOG(WARNING) << "replica file pool: cannot read " << dir << " (" << ec.message()
                     << "); set-aside pools are kept";
        return 0;
      }
    }
  }
  size_t left = 0;
  for (Dir& d : dirs) {
    size_t removed = 0, kept = d.others;
    for (const auto& [path, id] : d.candidates) {
      if (in_use.count(id) == 0 && ::unlink(path.c_str()) == 0) {
        ++removed;
      } else {
        ++kept;
      }
    }
    if (kept == 0 && ::rmdir(d.path.c_str()) == 0) {
      FsyncDir(current);
    } else if (removed > 0) {
      FsyncDir(d.path);
    }
    if (kept > 0) {
      LOG(WARNING) << "replica file pool: " << kept << " file(s) left in " << d.path
                   << " (not empty, more than one link, or a replica's file)";
    }
    left += kept;
  }
  return left;
}

size_t ReplicaFilePool::available(int volume) const {
  if (volume < 0 || static_cast<size_t>(volume) >= pools_.size()) return 0;
  absl::MutexLock l(&pools_[volume].mu);
  return pools_[volume].names.size();
}

std::string ReplicaFilePool::CreateOne(Pool* pool, int* err) {
  while (true) {
    std::string name = absl::StrCat(next_name_++);
    int fd = ::open(absl::StrCat(pool->dir, "/", name).c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::close(fd);
      return name;
    }
    if (errno == EEXIST || errno == EINTR) continue;
    *err = errno;
    return "";
  }
}

void ReplicaFilePool::Fill() {
  while (true) {
    {
      absl::MutexLock l(&mu_);
      // Also looks again every second: a pool that failed may work again.
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](ReplicaFilePool* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
                                 return s->stopping_ || s->wanted_;
                               },
                               this),
                           absl::Milliseconds(kRetryAfterMs));
      if (stopping_) return;
      wanted_ = false;
    }
    for (Pool& p : pools_) {
      if (p.dir.empty() || p.retry_at_ms > MonoMillis()) continue;
      while (true) {
        {
          absl::MutexLock l(&p.mu);
          if (p.names.size() >= target_) break;
        }
        {
          absl::MutexLock l(&mu_);
          if (stopping_) return;
        }
        int err = 0;
        std::string name = CreateOne(&p, &err);
        if (name.empty()) {
          if (p.retry_at_ms == 0) {
            LOG(WARNING) << "replica file pool: cannot create a file in " << p.dir << ": "
                         << strerror(err) << " (replicas there are created as needed)";
          }
          p.retry_at_ms = MonoMillis() + kRetryAfterMs;
          break;
        }
        p.retry_at_ms = 0;
        absl::MutexLock l(&p.mu);
        p.names.push_back(std::move(name));
      }
    }
  }
}

}  // namespace cairn::datanode
