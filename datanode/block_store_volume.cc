// Volumes: preparation and scanning at Open, health probes and failure, free space.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/crc32c.h"
#include "common/logging.h"
#include "datanode/block_store_internal.h"

namespace cairn::datanode::internal {
namespace {

// RESOURCE_EXHAUSTED for a full disk or quota (ENOSPC, EDQUOT), INTERNAL for anything else.
Status ErrnoStatus(int err, absl::string_view what, const std::string& path) {
  std::string msg = absl::StrCat(what, " ", path, ": ", ErrnoText(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(std::move(msg));
  return absl::InternalError(std::move(msg));
}

// mkdir -p.
Status MakeDirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) == 0) continue;
    int err = errno;
    if (err != EEXIST) return ErrnoStatus(err, "mkdir", prefix);
    struct stat st;
    if (::stat(prefix.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", prefix);
    if (!S_ISDIR(st.st_mode)) return ErrnoStatus(ENOTDIR, "mkdir", prefix);
  }
  return absl::OkStatus();
}

struct DirEntry {
  std::string name;
  bool is_dir = false;
};

// Lists `dir` without "." and "..".
Status ListDir(const std::string& dir, std::vector<DirEntry>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "opendir", dir);
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      int err = errno;
      ::closedir(d);
      if (err != 0) return ErrnoStatus(err, "readdir", dir);
      return absl::OkStatus();
    }
    absl::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    DirEntry entry{std::string(name), e->d_type == DT_DIR};
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      entry.is_dir = ::fstatat(::dirfd(d), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
    }
    out->push_back(std::move(entry));
  }
}

// The files of one (block, generation stamp) in one directory.
struct FilePair {
  std::string dir;
  bool data = false;
  bool crc = false;
};
using FileMap = std::map<std::pair<uint64_t, uint64_t>, FilePair>;

void AddFiles(const std::string& dir, const std::vector<DirEntry>& entries, FileMap* files) {
  for (const DirEntry& e : entries) {
    if (e.is_dir) continue;
    uint64_t id, gs;
    bool data = ParseBlockFileName(e.name, ".data", &id, &gs);
    if (!data && !ParseBlockFileName(e.name, ".crc", &id, &gs)) continue;
    FilePair& f = (*files)[{id, gs}];
    if (!f.dir.empty() && f.dir != dir) {
      LOG(WARNING) << "block store: " << BlockName(id, gs) << " found in both " << f.dir << " and "
                   << dir << "; using " << f.dir;
      continue;
    }
    f.dir = dir;
    (data ? f.data : f.crc) = true;
  }
}

std::string FilePath(const std::string& dir, uint64_t id, uint64_t gs, absl::string_view ext) {
  return absl::StrCat(dir, "/", BlockName(id, gs), ext);
}

// Outcome of loading one replica: OK and `*ok` set, OK and skipped, or a volume error.
Status LoadReplica(const FilePair& f, uint64_t id, uint64_t gs, ReplicaState state, int volume,
                   uint32_t default_bpc, ScannedReplica* out, bool* ok) {
  *ok = false;
  const std::string name = BlockName(id, gs);
  const std::string data_path = FilePath(f.dir, id, gs, ".data");
  const std::string crc_path = FilePath(f.dir, id, gs, ".crc");
  auto skip = [&](absl::string_view why) {
    LOG(WARNING) << "block store: ignoring replica " << data_path << ": " << why;
    return absl::OkStatus();
  };
  auto fail = [&](int err, absl::string_view what) -> Status {
    if (IsHardVolumeError(err)) {
      return absl::InternalError(absl::StrCat(name, ": ", what, ": ", ErrnoText(err)));
    }
    return skip(absl::StrCat(what, ": ", ErrnoText(err)));
  };

  struct stat ds, cs;
  if (::stat(data_path.c_str(), &ds) != 0) return fail(errno, "stat data");
  if (::stat(crc_path.c_str(), &cs) != 0) return fail(errno, "stat checksums");
  const uint64_t data_bytes = static_cast<uint64_t>(ds.st_size);
  const uint64_t crc_bytes = static_cast<uint64_t>(cs.st_size);
  if (crc_bytes < kCrcHeaderBytes) return skip("checksum file is shorter than its header");

  uint32_t bpc = default_bpc;
  ScopedFd crc_fd;
  // A finalized replica whose .crc size matches its length is trusted without reading (startup
  // cost); readers check the header when they open it.
  if (state == ReplicaState::kBeingWritten || crc_bytes != CrcFileBytes(data_bytes, bpc)) {
    int fd;
    if (int err = OpenFile(crc_path, O_RDONLY, &fd)) return fail(err, "open checksums");
    crc_fd = ScopedFd(fd);
    char header[kCrcHeaderBytes];
    size_t got;
    if (int err = PReadFull(fd, header, sizeof(header), 0, &got)) {
      return fail(err, "read checksum header");
    }
    bpc = DecodeCrcHeader(header, got);
    if (bpc == 0) return skip("bad checksum header");
  }
  uint64_t length = std::min(data_bytes, (crc_bytes - kCrcHeaderBytes) / 4 * bpc);
  if (length < data_bytes) {
    LOG(WARNING) << "block store: " << data_path << " has " << data_bytes
                 << " bytes but checksums for only " << length;
  }

  uint32_t last_crc = 0;
  if (state == ReplicaState::kBeingWritten && length > 0) {
    // A crash may have left the last chunk's data and CRC out of step: keep it only if they
    // agree, else drop back to the previous chunk boundary.
    const uint64_t chunk = (length - 1) / bpc;
    const uint64_t chunk_start = chunk * bpc;
    int fd;
    if (int err = OpenFile(data_path, O_RDONLY, &fd)) return fail(err, "open data");
    ScopedFd data_fd(fd);
    std::string buf(static_cast<size_t>(length - chunk_start), '\0');
    char stored[4];
    size_t got, got_crc;
    if (int err = PReadFull(fd, buf.data(), buf.size(), chunk_start, &got)) {
      return fail(err, "read last chunk");
    }
    if (int err = PReadFull(crc_fd.get(), stored, 4, CrcOffset(chunk), &got_crc)) {
      return fail(err, "read last checksum");
    }
    uint32_t crc = Crc32c(buf.data(), got);
    const uint32_t want = DecodeFixed32(stored);
    if (got == buf.size() && got_crc == 4 && crc == want) {
      last_crc = length % bpc != 0 ? crc : 0;
    } else {
      // Data of a later write reached the disk but its CRC did not: keep the longest prefix of
      // the chunk that matches the stored CRC (one CRC step per byte, only on this rare path).
      uint64_t keep = 0;
      last_crc = 0;
      if (got_crc == 4) {
        crc = 0;
        for (size_t i = 0; i < got; ++i) {
          crc = Crc32cExtend(crc, &buf[i], 1);
          if (crc == want) {
            keep = i + 1;
            last_crc = crc;
          }
        }
      }
      LOG(WARNING) << "block store: " << data_path << ": last chunk does not match its checksum; "
                   << "length " << length << " cut to " << chunk_start + keep;
      length = chunk_start + keep;
      if (length % bpc == 0) last_crc = 0;
    }
  }

  out->block_id = id;
  out->generation_stamp = gs;
  out->state = state;
  out->length = length;
  out->last_chunk_crc = last_crc;
  out->bytes_per_checksum = bpc;
  out->volume = volume;
  out->data_path = data_path;
  out->crc_path = crc_path;
  out->disk_bytes = data_bytes + crc_bytes;
  *ok = true;
  return absl::OkStatus();
}

// Whether `a` should be kept over `b`, two replicas of one block found at Open.
bool Better(const ScannedReplica& a, const ScannedReplica& b) {
  if (a.generation_stamp != b.generation_stamp) return a.generation_stamp > b.generation_stamp;
  if (a.state != b.state) return a.state == ReplicaState::kFinalized;
  return a.length > b.length;
}

}  // namespace

Status PrepareVolume(const VolumePaths& paths) {
  RETURN_IF_ERROR(MakeDirs(paths.rbw));
  return MakeDirs(paths.finalized);
}

Status ScanVolume(const VolumePaths& paths, int volume, uint32_t default_bytes_per_checksum,
                  std::vector<ScannedReplica>* out) {
  FileMap rbw, finalized;
  std::vector<DirEntry> entries;
  // Probe files left by a crash during CheckVolumes.
  RETURN_IF_ERROR(ListDir(paths.current, &entries));
  for (const DirEntry& e : entries) {
    if (e.is_dir || e.name.rfind(".probe_", 0) != 0) continue;
    std::string path = absl::StrCat(paths.current, "/", e.name);
    if (::unlink(path.c_str()) != 0) {
      LOG(WARNING) << "block store: unlink " << path << ": " << ErrnoText(errno);
    }
  }
  entries.clear();
  RETURN_IF_ERROR(ListDir(paths.rbw, &entries));
  AddFiles(paths.rbw, entries, &rbw);
  entries.clear();
  RETURN_IF_ERROR(ListDir(paths.finalized, &entries));
  for (const DirEntry& sub : entries) {
    if (!sub.is_dir) continue;
    std::string dir = absl::StrCat(paths.finalized, "/", sub.name);
    std::vector<DirEntry> files;
    RETURN_IF_ERROR(ListDir(dir, &files));
    AddFiles(dir, files, &finalized);
  }

  // Finalize renames the .crc first: a crash before the .data followed leaves the data in rbw/
  // and the checksums in finalized/. Complete the move.
  for (auto it = rbw.begin(); it != rbw.end();) {
    auto fin = finalized.find(it->first);
    if (it->second.data && !it->second.crc && fin != finalized.end() && fin->second.crc &&
        !fin->second.data) {
      auto [id, gs] = it->first;
      std::string from = FilePath(it->second.dir, id, gs, ".data");
      std::string to = FilePath(fin->second.dir, id, gs, ".data");
      if (::rename(from.c_str(), to.c_str()) == 0) {
        LOG(WARNING) << "block store: completed interrupted finalize of " << to;
        fin->second.data = true;
        it = rbw.erase(it);
        continue;
      }
      LOG(WARNING) << "block store: cannot complete finalize of " << to << ": " << ErrnoText(errno);
    }
    ++it;
  }

  for (int pass = 0; pass < 2; ++pass) {
    const FileMap& files = pass == 0 ? finalized : rbw;
    const ReplicaState state = pass == 0 ? ReplicaState::kFinalized : ReplicaState::kBeingWritten;
    for (const auto& [key, f] : files) {
      if (!f.data || !f.crc) {
        LOG(WARNING) << "block store: ignoring " << FilePath(f.dir, key.first, key.second, "")
                     << (f.data ? ".data without .crc" : ".crc without .data");
        continue;
      }
      ScannedReplica r;
      bool ok;
      RETURN_IF_ERROR(LoadReplica(f, key.first, key.second, state, volume,
                                  default_bytes_per_checksum, &r, &ok));
      if (ok) out->push_back(std::move(r));
    }
  }
  return absl::OkStatus();
}

Status ProbeVolume(const VolumePaths& paths) {
  for (const std::string* dir : {&paths.rbw, &paths.finalized}) {
    struct stat st;
    if (::stat(dir->c_str(), &st) != 0) return ErrnoStatus(errno, "stat", *dir);
    if (!S_ISDIR(st.st_mode)) return ErrnoStatus(ENOTDIR, "stat", *dir);
  }
  static std::atomic<uint64_t> seq{0};
  const std::string path = absl::StrCat(paths.current, "/.probe_", ::getpid(), "_", seq++);
  int fd;
  if (int err = OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC, &fd)) {
    return ErrnoStatus(err, "create", path);
  }
  ScopedFd file(fd);
  char buf[512];
  memset(buf, 0x5a, sizeof(buf));
  Status s;
  if (int err = PWriteFull(fd, buf, sizeof(buf), 0)) {
    s = ErrnoStatus(err, "write", path);
  } else if (::fsync(fd) != 0) {
    s = ErrnoStatus(errno, "fsync", path);
  } else if (int err = file.Close()) {
    s = ErrnoStatus(err, "close", path);
  }
  if (::unlink(path.c_str()) != 0 && s.ok()) s = ErrnoStatus(errno, "unlink", path);
  return s;
}

// ---- StoreCore: opening and volume health ----------------------------------------------------

StoreCore::StoreCore(const BlockStoreOptions& options) : options_(options) {}

Status StoreCore::Init(std::shared_ptr<StoreCore> self) {
  self_ = self;
  if (options_.volumes.empty()) return absl::InvalidArgumentError("block store: no volumes");
  if (options_.bytes_per_checksum == 0 || options_.bytes_per_checksum > kMaxBytesPerChecksum) {
    return absl::InvalidArgumentError(
        absl::StrCat("block store: bad bytes_per_checksum ", options_.bytes_per_checksum));
  }
  const int n = static_cast<int>(options_.volumes.size());
  std::vector<VolumeState> states(n);
  std::vector<ScannedReplica> found;
  std::vector<std::pair<dev_t, ino_t>> identities;
  std::vector<std::string> failures;
  for (int v = 0; v < n; ++v) {
    std::string dir = options_.volumes[v];
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (dir.empty()) return absl::InvalidArgumentError("block store: empty volume path");
    paths_.push_back(VolumePaths{dir, dir + "/current", dir + "/current/rbw",
                                 dir + "/current/finalized"});
    Status s = PrepareVolume(paths_[v]);
    struct stat st;
    if (s.ok() && ::stat(dir.c_str(), &st) == 0) {
      auto id = std::make_pair(st.st_dev, st.st_ino);
      if (std::find(identities.begin(), identities.end(), id) != identities.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("block store: volume ", dir, " is listed twice"));
      }
      identities.push_back(id);
    }
    std::vector<ScannedReplica> mine;
    if (s.ok()) s = ScanVolume(paths_[v], v, options_.bytes_per_checksum, &mine);
    if (!s.ok()) {
      LOG(ERROR) << "block store: volume " << dir << " failed: " << s;
      states[v].failed = true;
      states[v].failure = std::string(s.message());
      failures.push_back(absl::StrCat(dir, ": ", s.message()));
      continue;
    }
    for (ScannedReplica& r : mine) found.push_back(std::move(r));
  }
  if (failures.size() == static_cast<size_t>(n)) {
    return absl::UnavailableError(
        absl::StrCat("block store: no usable volume: ", absl::StrJoin(failures, "; ")));
  }

  // One replica per block: the newest generation stamp wins; the others are deleted.
  std::unordered_map<uint64_t, size_t> best;
  for (size_t i = 0; i < found.size(); ++i) {
    auto [it, inserted] = best.emplace(found[i].block_id, i);
    if (inserted) continue;
    size_t loser = i;
    if (Better(found[i], found[it->second])) std::swap(loser, it->second);
    const ScannedReplica& l = found[loser];
    LOG(WARNING) << "block store: deleting superseded replica " << l.data_path;
    for (const std::string* path : {&l.data_path, &l.crc_path}) {
      if (::unlink(path->c_str()) != 0) {
        LOG(WARNING) << "block store: unlink " << *path << ": " << ErrnoText(errno);
      }
    }
  }

  std::vector<int> healthy;
  {
    absl::MutexLock l(&mu_);
    volumes_ = std::move(states);
    for (const auto& [id, i] : best) {
      const ScannedReplica& r = found[i];
      auto rep = std::make_shared<Replica>(id);
      rep->generation_stamp = r.generation_stamp;
      rep->length = r.length;
      rep->last_chunk_crc = r.last_chunk_crc;
      rep->bytes_per_checksum = r.bytes_per_checksum;
      rep->state = r.state;
      rep->volume = r.volume;
      rep->data_path = r.data_path;
      rep->crc_path = r.crc_path;
      rep->disk_bytes = r.disk_bytes;
      volumes_[r.volume].used += r.disk_bytes;
      replicas_.emplace(id, std::move(rep));
    }
    LOG(INFO) << "block store: " << replicas_.size() << " replicas on " << n - failures.size()
              << " of " << n << " volumes";
    for (int v = 0; v < n; ++v) {
      if (!volumes_[v].failed) healthy.push_back(v);
    }
  }
  // Before the pool's filler starts making files (file system walks: outside mu_).
  for (int v : healthy) {
    ReplicaFilePool::SweepCrashedPools(paths_[v].current, {paths_[v].rbw, paths_[v].finalized});
  }
  {
    absl::MutexLock l(&mu_);
    if (options_.file_pool_size > 0) {
      std::vector<std::string> pool_dirs;
      for (int v = 0; v < n; ++v) {
        pool_dirs.push_back(volumes_[v].failed ? "" : paths_[v].current + "/pool");
      }
      file_pool_ = std::make_unique<ReplicaFilePool>(std::move(pool_dirs), options_.file_pool_size);
    }
  }
  return absl::OkStatus();
}

// ---- Volume health -----------------------------------------------------------------------------

void StoreCore::MarkVolumeFailed(int volume, const std::string& why) {
  absl::MutexLock l(&mu_);
  VolumeState& vs = volumes_[volume];
  if (vs.failed) return;
  vs.failed = true;
  vs.failure = why;
  vs.used = 0;
  vs.reserved = 0;
  size_t dropped = 0;
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    Replica& rep = *it->second;
    if (rep.volume != volume) {
      ++it;
      continue;
    }
    rep.removed = true;
    ++rep.writer_epoch;
    it = replicas_.erase(it);
    ++dropped;
  }
  LOG(ERROR) << "block store: volume " << paths_[volume].dir << " failed (" << why << "); dropped "
             << dropped << " replicas";
}

bool StoreCore::CheckVolume(int volume) {
  {
    absl::MutexLock l(&mu_);
    if (volumes_[volume].failed) return false;
  }
  Status s = ProbeVolume(paths_[volume]);
  // A full disk is not a failed one: it keeps serving its replicas (new ones are refused by
  // the space check) and takes writes again once space is freed.
  if (s.ok() || s.code() == absl::StatusCode::kResourceExhausted) return true;
  MarkVolumeFailed(volume, std::string(s.message()));
  return false;
}

Status StoreCore::IoError(int volume, int err, absl::string_view name, absl::string_view what) {
  std::string msg = absl::StrCat(name, ": ", what, ": ", ErrnoText(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(msg);
  bool failed = false;
  if (IsHardVolumeError(err)) {
    MarkVolumeFailed(volume, msg);
    failed = true;
  } else if (IsSuspectVolumeError(err)) {
    failed = !CheckVolume(volume);
  }
  if (failed) absl::StrAppend(&msg, " (volume ", paths_[volume].dir, " failed)");
  return absl::InternalError(msg);
}

std::vector<StoreCore::VolumeUsage> StoreCore::HealthyVolumes() {
  absl::MutexLock l(&mu_);
  std::vector<VolumeUsage> out;
  for (int v = 0; v < static_cast<int>(volumes_.size()); ++v) {
    if (!volumes_[v].failed) out.push_back(VolumeUsage{v, volumes_[v].used, volumes_[v].reserved});
  }
  return out;
}

StatusOr<StoreCore::VolumeChoice> StoreCore::ChooseVolume(absl::string_view name,
                                                          uint64_t expected_bytes,
                                                          uint64_t promised) {
  const std::vector<VolumeUsage> candidates = HealthyVolumes();
  if (candidates.empty()) return absl::UnavailableError(absl::StrCat(name, ": no usable volume"));
  uint64_t rotate;
  {
    absl::MutexLock l(&mu_);
    rotate = next_volume_;
  }
  VolumeChoice best;
  uint64_t most_free = 0;
  bool any_space_known = false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const VolumeUsage& u = candidates[(rotate + i) % candidates.size()];
    uint64_t capacity, remaining;
    if (!VolumeSpace(u.volume, u.used, u.reserved, &capacity, &remaining)) continue;
    any_space_known = true;
    most_free = std::max(most_free, remaining);
    if (remaining == 0 || remaining < promised) continue;
    if (best.volume < 0 || remaining > best.remaining) {
      best = VolumeChoice{u.volume, remaining, u.used + u.reserved};
    }
  }
  if (best.volume >= 0) return best;
  if (!any_space_known) return absl::UnavailableError(absl::StrCat(name, ": no usable volume"));
  return absl::ResourceExhaustedError(
      absl::StrCat(name, ": no space left on any volume (", expected_bytes,
                   " bytes expected, at most ", most_free, " remaining on a volume)"));
}

VolumeReport StoreCore::Report() {
  VolumeReport report;
  report.volumes = static_cast<uint32_t>(paths_.size());
  const std::vector<VolumeUsage> healthy = HealthyVolumes();
  for (const VolumeUsage& u : healthy) {
    uint64_t capacity, remaining;
    if (!VolumeSpace(u.volume, u.used, u.reserved, &capacity, &remaining)) continue;
    report.capacity += capacity;
    report.used += u.used;
    report.remaining += remaining;
  }
  absl::MutexLock l(&mu_);
  for (const VolumeState& vs : volumes_) report.failed_volumes += vs.failed ? 1 : 0;
  return report;
}

bool StoreCore::VolumeSpace(int volume, uint64_t used, uint64_t reserved, uint64_t* capacity,
                            uint64_t* remaining) {
  struct statvfs st;
  if (::statvfs(paths_[volume].current.c_str(), &st) != 0) {
    int err = errno;
    std::string why = absl::StrCat("statvfs ", paths_[volume].current, ": ", ErrnoText(err));
    LOG(WARNING) << "block store: " << why;
    if (IsHardVolumeError(err)) {
      MarkVolumeFailed(volume, why);
    } else if (IsSuspectVolumeError(err)) {
      CheckVolume(volume);
    }
    return false;
  }
  const uint64_t fs_capacity = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  const uint64_t fs_free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  *capacity = options_.capacity_bytes_per_volume_for_tests != 0
                  ? options_.capacity_bytes_per_volume_for_tests
                  : fs_capacity;
  uint64_t room = std::min(*capacity > used ? *capacity - used : 0, fs_free);
  room = room > reserved ? room - reserved : 0;
  const uint64_t keep_free = options_.reserved_bytes_per_volume;
  *remaining = room > keep_free ? room - keep_free : 0;
  return true;
}

}  // namespace cairn::datanode::internal
