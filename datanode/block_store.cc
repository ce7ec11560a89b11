#include "datanode/block_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/crc32c.h"
#include "common/logging.h"
#include "datanode/block_store_internal.h"

namespace cairn::datanode {
namespace internal {
namespace {

std::string IdName(uint64_t block_id) { return absl::StrCat("blk_", block_id); }

}  // namespace

// ---- Helpers -----------------------------------------------------------------------------------

template <typename R, typename Fn>
R StoreCore::WithReplicaLocked(uint64_t block_id, absl::string_view name, Fn&& fn) {
  for (;;) {
    std::shared_ptr<Replica> rep = Find(block_id);
    if (rep == nullptr) return absl::NotFoundError(absl::StrCat(name, ": no such replica"));
    absl::MutexLock io(&rep->io_mu);
    if (!IsCurrent(rep)) continue;  // replaced or removed meanwhile
    return fn(rep);
  }
}

std::shared_ptr<Replica> StoreCore::Find(uint64_t block_id) {
  absl::MutexLock l(&mu_);
  auto it = replicas_.find(block_id);
  return it == replicas_.end() ? nullptr : it->second;
}

bool StoreCore::IsCurrent(const std::shared_ptr<Replica>& rep) {
  absl::MutexLock l(&mu_);
  auto it = replicas_.find(rep->block_id);
  return it != replicas_.end() && it->second == rep;
}

std::string StoreCore::RbwPath(int volume, uint64_t block_id, uint64_t gs,
                               absl::string_view ext) const {
  return absl::StrCat(paths_[volume].rbw, "/", BlockName(block_id, gs), ext);
}

std::string StoreCore::FinalizedDir(int volume, uint64_t block_id) const {
  return absl::StrCat(paths_[volume].finalized, "/", absl::Hex(block_id & 0xff, absl::kZeroPad2));
}

std::string StoreCore::FinalizedPath(int volume, uint64_t block_id, uint64_t gs,
                                     absl::string_view ext) const {
  return absl::StrCat(FinalizedDir(volume, block_id), "/", BlockName(block_id, gs), ext);
}

ReplicaInfo StoreCore::InfoLocked(const Replica& rep) const {
  ReplicaInfo info;
  info.block_id = rep.block_id;
  info.generation_stamp = rep.generation_stamp;
  info.length = rep.length;
  info.state = rep.state;
  info.volume = rep.volume;
  return info;
}

void StoreCore::RemoveLocked(Replica* rep) {
  replicas_.erase(rep->block_id);
  rep->removed = true;
  ++rep->writer_epoch;
  SetDiskBytesLocked(rep, 0);
}

void StoreCore::SetDiskBytesLocked(Replica* rep, uint64_t disk_bytes) {
  VolumeState& vs = volumes_[rep->volume];
  vs.used = vs.used - std::min(vs.used, rep->disk_bytes) + disk_bytes;
  rep->disk_bytes = disk_bytes;
  const bool writing = !rep->removed && rep->state == ReplicaState::kBeingWritten;
  const uint64_t reserve = writing && rep->promised_disk_bytes > disk_bytes
                               ? rep->promised_disk_bytes - disk_bytes
                               : 0;
  vs.reserved = vs.reserved - std::min(vs.reserved, rep->reserved_bytes) + reserve;
  rep->reserved_bytes = reserve;
}

int StoreCore::RenamePair(const std::string& from_data, const std::string& from_crc,
                          const std::string& to_data, const std::string& to_crc) {
  if (::rename(from_crc.c_str(), to_crc.c_str()) != 0) {
    int err = errno;
    if (err != ENOENT) return err;
    // The destination directory (finalized/<xx>) may not exist yet.
    std::string dir = to_crc.substr(0, to_crc.rfind('/'));
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return errno;
    if (::rename(from_crc.c_str(), to_crc.c_str()) != 0) return errno;
  }
  if (::rename(from_data.c_str(), to_data.c_str()) != 0) {
    int err = errno;
    if (::rename(to_crc.c_str(), from_crc.c_str()) != 0) {
      LOG(ERROR) << "block store: cannot move " << to_crc << " back: " << ErrnoText(errno);
    }
    return err;
  }
  return 0;
}

int StoreCore::CreateFile(int volume, const std::string& path, int* fd) {
  if (file_pool_ && file_pool_->Take(volume, path) && OpenFile(path, O_RDWR | O_TRUNC, fd) == 0) {
    return 0;
  }
  return OpenFile(path, O_RDWR | O_CREAT | O_TRUNC, fd);
}

Status StoreCore::UnlinkFiles(int volume, const std::string& name, const std::string& data_path,
                              const std::string& crc_path) {
  // Data first: a .crc left alone by a crash is ignored at the next Open.
  bool missing = false;
  for (const std::string* path : {&data_path, &crc_path}) {
    if (::unlink(path->c_str()) == 0) continue;
    int err = errno;
    if (err == ENOENT) {
      missing = true;
      continue;
    }
    return IoError(volume, err, name, absl::StrCat("unlink ", *path));
  }
  if (missing) CheckVolume(volume);  // files vanishing hints at a lost volume
  return absl::OkStatus();
}

// ---- Writers and readers -----------------------------------------------------------------------

Status StoreCore::CheckWriter(const Replica& rep, uint64_t epoch, absl::string_view name) {
  absl::MutexLock l(&mu_);
  if (rep.removed || rep.writer_epoch != epoch) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, ": writer is stale: the replica was recovered, deleted or lost with its volume"));
  }
  return absl::OkStatus();
}

void StoreCore::Publish(Replica* rep, uint64_t epoch, uint64_t length, uint32_t last_chunk_crc) {
  absl::MutexLock l(&mu_);
  if (rep->removed || rep->writer_epoch != epoch) return;
  rep->length = length;
  rep->last_chunk_crc = last_chunk_crc;
  SetDiskBytesLocked(rep, length + CrcFileBytes(length, rep->bytes_per_checksum));
}

Status StoreCore::MoveToFinalized(Replica* rep, uint64_t epoch, absl::string_view name) {
  int volume;
  int err;
  std::string dir;
  {
    absl::MutexLock l(&mu_);
    if (rep->removed || rep->writer_epoch != epoch) {
      return absl::FailedPreconditionError(absl::StrCat(
          name, ": writer is stale: the replica was recovered, deleted or lost with its volume"));
    }
    volume = rep->volume;
    dir = FinalizedDir(volume, rep->block_id);
    std::string to_data = FinalizedPath(volume, rep->block_id, rep->generation_stamp, ".data");
    std::string to_crc = FinalizedPath(volume, rep->block_id, rep->generation_stamp, ".crc");
    err = RenamePair(rep->data_path, rep->crc_path, to_data, to_crc);
    if (err == 0) {
      rep->state = ReplicaState::kFinalized;
      rep->data_path = std::move(to_data);
      rep->crc_path = std::move(to_crc);
      SetDiskBytesLocked(rep, rep->disk_bytes);  // releases its reservation
    }
  }
  if (err != 0) return IoError(volume, err, name, "move to finalized");
  if (options_.fsync_on_finalize) {
    if (int e = FsyncDir(dir)) return IoError(volume, e, name, absl::StrCat("fsync ", dir));
  }
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<ReplicaWriter>> StoreCore::OpenWriter(
    const std::shared_ptr<Replica>& rep) {
  WriterSetup s;
  std::string data_path, crc_path;
  {
    absl::MutexLock l(&mu_);
    s.epoch = rep->writer_epoch;
    s.volume = rep->volume;
    s.name = BlockName(rep->block_id, rep->generation_stamp);
    s.bytes_per_checksum = rep->bytes_per_checksum;
    s.length = rep->length;
    s.last_chunk_crc = rep->last_chunk_crc;
    data_path = rep->data_path;
    crc_path = rep->crc_path;
  }
  int fd;
  if (int err = OpenFile(data_path, O_RDWR, &fd)) return IoError(s.volume, err, s.name, "open data");
  s.data_fd = ScopedFd(fd);
  if (int err = OpenFile(crc_path, O_RDWR, &fd)) {
    return IoError(s.volume, err, s.name, "open checksums");
  }
  s.crc_fd = ScopedFd(fd);
  if (options_.direct_io) s.direct_fd = OpenDirectForWrite(data_path);
  s.core = self_.lock();
  s.rep = rep;
  s.dirty = true;
  return NewReplicaWriter(std::move(s));
}

StatusOr<std::unique_ptr<ReplicaReader>> StoreCore::OpenReader(
    const std::shared_ptr<Replica>& rep) {
  ReaderSetup s;
  std::string data_path, crc_path;
  {
    absl::MutexLock l(&mu_);
    s.volume = rep->volume;
    s.name = BlockName(rep->block_id, rep->generation_stamp);
    s.bytes_per_checksum = rep->bytes_per_checksum;
    s.length = rep->length;
    s.override_last_crc = rep->state == ReplicaState::kBeingWritten;
    s.last_chunk_crc = rep->last_chunk_crc;
    data_path = rep->data_path;
    crc_path = rep->crc_path;
  }
  int fd;
  if (int err = OpenFile(data_path, O_RDONLY, &fd)) {
    return IoError(s.volume, err, s.name, "open data");
  }
  s.data_fd = ScopedFd(fd);
  if (int err = OpenFile(crc_path, O_RDONLY, &fd)) {
    return IoError(s.volume, err, s.name, "open checksums");
  }
  s.crc_fd = ScopedFd(fd);
  char header[kCrcHeaderBytes];
  size_t got;
  if (int err = PReadFull(fd, header, sizeof(header), 0, &got)) {
    return IoError(s.volume, err, s.name, "read checksum header");
  }
  if (DecodeCrcHeader(header, got) != s.bytes_per_checksum) {
    return absl::DataLossError(absl::StrCat(s.name, ": bad checksum file header"));
  }
  s.core = self_.lock();
  return NewReplicaReader(std::move(s));
}

// ---- Operations --------------------------------------------------------------------------------

StatusOr<std::unique_ptr<ReplicaWriter>> StoreCore::CreateReplica(uint64_t block_id, uint64_t gs,
                                                                  uint64_t expected_bytes) {
  const std::string name = BlockName(block_id, gs);
  const int n = static_cast<int>(paths_.size());
  int attempts = 0;  // volumes that failed while creating the files
  for (;;) {
    if (Find(block_id) != nullptr) {
      // A replica with an older stamp is deleted first.
      Status s = WithReplicaLocked<Status>(
          block_id, name, [&](const std::shared_ptr<Replica>& old) -> Status {
            int volume;
            std::string old_name, data_path, crc_path;
            {
              absl::MutexLock l(&mu_);
              if (old->generation_stamp >= gs) {
                return absl::AlreadyExistsError(absl::StrCat(
                    name, ": replica exists with generation stamp ", old->generation_stamp));
              }
              volume = old->volume;
              old_name = BlockName(block_id, old->generation_stamp);
              data_path = old->data_path;
              crc_path = old->crc_path;
              RemoveLocked(old.get());
            }
            LOG(INFO) << "block store: " << name << " replaces " << old_name;
            Status u = UnlinkFiles(volume, old_name, data_path, crc_path);
            if (!u.ok()) LOG(WARNING) << "block store: " << u;
            return absl::OkStatus();
          });
      if (!s.ok() && !absl::IsNotFound(s)) return s;
      continue;  // look again: another replica may have appeared meanwhile
    }

    // What the replica's two files will take at the announced length (reserved below).
    const uint64_t promised =
        expected_bytes + CrcFileBytes(expected_bytes, options_.bytes_per_checksum);
    ASSIGN_OR_RETURN(const VolumeChoice choice, ChooseVolume(name, expected_bytes, promised));
    const int volume = choice.volume;

    auto rep = std::make_shared<Replica>(block_id);
    rep->generation_stamp = gs;
    rep->bytes_per_checksum = options_.bytes_per_checksum;
    rep->volume = volume;
    rep->data_path = RbwPath(volume, block_id, gs, ".data");
    rep->crc_path = RbwPath(volume, block_id, gs, ".crc");
    // Held until the files exist, so no one uses the replica before that.
    absl::MutexLock io(&rep->io_mu);
    {
      absl::MutexLock l(&mu_);
      if (replicas_.count(block_id) != 0 || volumes_[volume].failed) continue;  // raced
      // Writers admitted to the volume since the space was read took part of it: choose again
      // if what is left no longer holds this one (the check and the reservation are one step).
      const uint64_t taken = volumes_[volume].used + volumes_[volume].reserved;
      if (taken > choice.taken && taken - choice.taken > choice.remaining - promised) continue;
      replicas_.emplace(block_id, rep);
      ++next_volume_;
      rep->promised_disk_bytes = promised;
      SetDiskBytesLocked(rep.get(), 0);
    }

    // The .crc first: a .data file always has its .crc.
    WriterSetup s;
    int err = 0;
    std::string what;
    int fd;
    if ((err = CreateFile(volume, rep->crc_path, &fd)) != 0) {
      what = "create checksums";
    } else {
      s.crc_fd = ScopedFd(fd);
      char header[kCrcHeaderBytes];
      EncodeCrcHeader(options_.bytes_per_checksum, header);
      if ((err = PWriteFull(fd, header, sizeof(header), 0)) != 0) {
        what = "write checksum header";
      } else if ((err = CreateFile(volume, rep->data_path, &fd)) != 0) {
        what = "create data";
      } else {
        s.data_fd = ScopedFd(fd);
        if (options_.direct_io) s.direct_fd = OpenDirectForWrite(rep->data_path);
      }
    }
    if (err != 0) {
      {
        absl::MutexLock l(&mu_);
        if (!rep->removed) RemoveLocked(rep.get());
      }
      ::unlink(rep->data_path.c_str());
      ::unlink(rep->crc_path.c_str());
      Status st = IoError(volume, err, name, what);
      bool retry;
      {
        absl::MutexLock l(&mu_);
        retry = volumes_[volume].failed && ++attempts < n;
      }
      if (retry) {
        LOG(WARNING) << "block store: " << st << "; trying another volume";
        continue;
      }
      return st;
    }
    Publish(rep.get(), 0, 0, 0);
    s.core = self_.lock();
    s.rep = rep;
    s.epoch = 0;
    s.volume = volume;
    s.name = name;
    s.bytes_per_checksum = options_.bytes_per_checksum;
    return NewReplicaWriter(std::move(s));
  }
}

StatusOr<std::unique_ptr<ReplicaWriter>> StoreCore::RecoverReplica(uint64_t block_id,
                                                                   uint64_t new_gs,
                                                                   uint64_t expected_bytes) {
  using Result = StatusOr<std::unique_ptr<ReplicaWriter>>;
  const std::string name = BlockName(block_id, new_gs);
  return WithReplicaLocked<Result>(
      block_id, IdName(block_id), [&](const std::shared_ptr<Replica>& rep) -> Result {
        int volume;
        int err;
        {
          absl::MutexLock l(&mu_);
          const std::string old_name = BlockName(block_id, rep->generation_stamp);
          if (rep->state == ReplicaState::kFinalized) {
            return absl::FailedPreconditionError(
                absl::StrCat(old_name, ": cannot recover a finalized replica"));
          }
          if (new_gs <= rep->generation_stamp) {
            return absl::FailedPreconditionError(absl::StrCat(
                old_name, ": recovery generation stamp ", new_gs, " is not newer"));
          }
          volume = rep->volume;
          std::string to_data = RbwPath(volume, block_id, new_gs, ".data");
          std::string to_crc = RbwPath(volume, block_id, new_gs, ".crc");
          err = RenamePair(rep->data_path, rep->crc_path, to_data, to_crc);
          if (err == 0) {
            rep->generation_stamp = new_gs;
            rep->data_path = std::move(to_data);
            rep->crc_path = std::move(to_crc);
            ++rep->writer_epoch;  // the previous writer may not write any more
            rep->promised_disk_bytes = std::max(
                rep->promised_disk_bytes,
                expected_bytes + CrcFileBytes(expected_bytes, rep->bytes_per_checksum));
            SetDiskBytesLocked(rep.get(), rep->disk_bytes);
          }
        }
        if (err != 0) return IoError(volume, err, name, "rename for recovery");
        return OpenWriter(rep);
      });
}

Status StoreCore::CommitRecovery(uint64_t block_id, uint64_t new_gs, uint64_t length) {
  const std::string name = BlockName(block_id, new_gs);
  return WithReplicaLocked<Status>(
      block_id, IdName(block_id), [&](const std::shared_ptr<Replica>& rep) -> Status {
        int volume;
        uint32_t bpc;
        ReplicaState state;
        std::string data_path, crc_path;
        {
          absl::MutexLock l(&mu_);
          const std::string old_name = BlockName(block_id, rep->generation_stamp);
          if (new_gs < rep->generation_stamp) {
            return absl::FailedPreconditionError(absl::StrCat(
                old_name, ": recovery generation stamp ", new_gs, " is older"));
          }
          if (length > rep->length) {
            return absl::InvalidArgumentError(absl::StrCat(
                old_name, ": recovery length ", length, " exceeds length ", rep->length));
          }
          if (new_gs == rep->generation_stamp && length == rep->length &&
              rep->state == ReplicaState::kFinalized) {
            return absl::OkStatus();  // already committed
          }
          ++rep->writer_epoch;  // stops any writer
          volume = rep->volume;
          bpc = rep->bytes_per_checksum;
          state = rep->state;
          data_path = rep->data_path;
          crc_path = rep->crc_path;
        }
        auto io_error = [&](int err, absl::string_view what) {
          return IoError(volume, err, name, what);
        };
        int fd;
        if (int err = OpenFile(data_path, O_RDWR, &fd)) return io_error(err, "open data");
        ScopedFd data_fd(fd);
        if (int err = OpenFile(crc_path, O_RDWR, &fd)) return io_error(err, "open checksums");
        ScopedFd crc_fd(fd);
        uint32_t last_crc;
        RETURN_IF_ERROR(
            TrimReplicaFiles(data_fd.get(), crc_fd.get(), bpc, length, name, io_error, &last_crc));
        if (options_.fsync_on_finalize) {
          if (::fsync(data_fd.get()) != 0) return io_error(errno, "fsync data");
          if (::fsync(crc_fd.get()) != 0) return io_error(errno, "fsync checksums");
        }
        data_fd.Close();
        crc_fd.Close();

        int err;
        std::string dir = FinalizedDir(volume, block_id);
        {
          absl::MutexLock l(&mu_);
          if (rep->removed) {
            return absl::NotFoundError(absl::StrCat(name, ": replica lost with its volume"));
          }
          std::string to_data = FinalizedPath(volume, block_id, new_gs, ".data");
          std::string to_crc = FinalizedPath(volume, block_id, new_gs, ".crc");
          err = to_data == rep->data_path
                    ? 0
                    : RenamePair(rep->data_path, rep->crc_path, to_data, to_crc);
          if (err == 0) {
            rep->generation_stamp = new_gs;
            rep->state = ReplicaState::kFinalized;
            rep->data_path = std::move(to_data);
            rep->crc_path = std::move(to_crc);
            rep->length = length;
            rep->last_chunk_crc = last_crc;
            SetDiskBytesLocked(rep.get(), length + CrcFileBytes(length, bpc));
          }
        }
        if (err != 0) return io_error(err, "move to finalized");
        if (options_.fsync_on_finalize) {
          if (int e = FsyncDir(dir)) return io_error(e, absl::StrCat("fsync ", dir));
        }
        LOG(INFO) << "block store: committed recovery of " << name << " at length " << length
                  << (state == ReplicaState::kBeingWritten ? " (was being written)" : "");
        return absl::OkStatus();
      });
}

StatusOr<std::unique_ptr<ReplicaReader>> StoreCore::OpenReplica(uint64_t block_id, uint64_t gs) {
  using Result = StatusOr<std::unique_ptr<ReplicaReader>>;
  const std::string name = BlockName(block_id, gs);
  return WithReplicaLocked<Result>(
      block_id, name, [&](const std::shared_ptr<Replica>& rep) -> Result {
        {
          absl::MutexLock l(&mu_);
          if (rep->generation_stamp != gs) {
            return absl::FailedPreconditionError(absl::StrCat(
                name, ": stale generation stamp; the replica has ", rep->generation_stamp));
          }
        }
        return OpenReader(rep);
      });
}

StoreCore::DetachedFiles StoreCore::DetachLocked(Replica* rep) {
  DetachedFiles f{rep->volume, BlockName(rep->block_id, rep->generation_stamp), rep->data_path,
                  rep->crc_path};
  RemoveLocked(rep);
  return f;
}

Status StoreCore::UnlinkDetached(const DetachedFiles& f) {
  return UnlinkFiles(f.volume, f.name, f.data_path, f.crc_path);
}

Status StoreCore::RemoveWritten(Replica* rep, uint64_t epoch, absl::string_view name) {
  DetachedFiles files;
  {
    absl::MutexLock l(&mu_);
    if (rep->removed || rep->writer_epoch != epoch || rep->state == ReplicaState::kFinalized) {
      return absl::FailedPreconditionError(
          absl::StrCat(name, ": not this writer's replica any more; left alone"));
    }
    files = DetachLocked(rep);
  }
  return UnlinkDetached(files);
}

Status StoreCore::DeleteReplica(uint64_t block_id) {
  return WithReplicaLocked<Status>(
      block_id, IdName(block_id), [&](const std::shared_ptr<Replica>& rep) -> Status {
        DetachedFiles files;
        {
          absl::MutexLock l(&mu_);
          files = DetachLocked(rep.get());
        }
        return UnlinkDetached(files);
      });
}

StatusOr<ReplicaInfo> StoreCore::GetReplica(uint64_t block_id) {
  absl::MutexLock l(&mu_);
  auto it = replicas_.find(block_id);
  if (it == replicas_.end()) {
    return absl::NotFoundError(absl::StrCat(IdName(block_id), ": no such replica"));
  }
  return InfoLocked(*it->second);
}

Status StoreCore::VerifyReplica(uint64_t block_id, uint64_t bytes_per_sec) {
  using Result = StatusOr<std::unique_ptr<ReplicaReader>>;
  std::string name;
  Result reader = WithReplicaLocked<Result>(
      block_id, IdName(block_id), [&](const std::shared_ptr<Replica>& rep) -> Result {
        {
          absl::MutexLock l(&mu_);
          name = BlockName(block_id, rep->generation_stamp);
          if (rep->state != ReplicaState::kFinalized) {
            return absl::FailedPreconditionError(absl::StrCat(name, ": not finalized"));
          }
        }
        return OpenReader(rep);
      });
  if (!reader.ok()) return reader.status();
  ReplicaReader& r = **reader;
  const uint32_t bpc = r.bytes_per_checksum();
  const size_t batch = std::max<size_t>(bpc, (size_t{1} << 20) / bpc * bpc);
  const auto start = std::chrono::steady_clock::now();
  std::string data;
  std::vector<uint32_t> crcs;
  uint64_t offset = 0;
  while (offset < r.length()) {
    uint64_t aligned;
    RETURN_IF_ERROR(r.ReadChunks(offset, batch, &aligned, &data, &crcs));
    for (size_t i = 0; i < crcs.size(); ++i) {
      const size_t pos = i * bpc;
      const size_t k = std::min<size_t>(bpc, data.size() - pos);
      if (Crc32c(data.data() + pos, k) != crcs[i]) {
        return absl::DataLossError(absl::StrCat(name, ": checksum mismatch in chunk at offset ",
                                                aligned + pos));
      }
    }
    offset = aligned + data.size();
    if (bytes_per_sec != 0) {
      const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(offset) /
                                                                 static_cast<double>(bytes_per_sec)));
      std::this_thread::sleep_until(due);
    }
  }
  return absl::OkStatus();
}

std::vector<ReplicaInfo> StoreCore::AllReplicas() {
  absl::MutexLock l(&mu_);
  std::vector<ReplicaInfo> out;
  out.reserve(replicas_.size());
  for (const auto& [id, rep] : replicas_) out.push_back(InfoLocked(*rep));
  return out;
}


void StoreCore::CheckVolumes() {
  for (int v = 0; v < static_cast<int>(paths_.size()); ++v) CheckVolume(v);
}

StatusOr<std::string> StoreCore::DataPathForTests(uint64_t block_id) {
  absl::MutexLock l(&mu_);
  auto it = replicas_.find(block_id);
  if (it == replicas_.end()) {
    return absl::NotFoundError(absl::StrCat(IdName(block_id), ": no such replica"));
  }
  return it->second->data_path;
}

}  // namespace internal

namespace {

// The public face: forwards to a StoreCore, which its writers and readers co-own.
class BlockStoreImpl final : public BlockStore {
 public:
  explicit BlockStoreImpl(std::shared_ptr<internal::StoreCore> core) : core_(std::move(core)) {}

  StatusOr<std::unique_ptr<ReplicaWriter>> CreateReplica(uint64_t block_id,
                                                         uint64_t generation_stamp,
                                                         uint64_t expected_bytes) override {
    return core_->CreateReplica(block_id, generation_stamp, expected_bytes);
  }
  StatusOr<std::unique_ptr<ReplicaWriter>> RecoverReplica(uint64_t block_id,
                                                          uint64_t new_generation_stamp,
                                                          uint64_t expected_bytes) override {
    return core_->RecoverReplica(block_id, new_generation_stamp, expected_bytes);
  }
  Status CommitRecovery(uint64_t block_id, uint64_t new_generation_stamp,
                        uint64_t length) override {
    return core_->CommitRecovery(block_id, new_generation_stamp, length);
  }
  StatusOr<std::unique_ptr<ReplicaReader>> OpenReplica(uint64_t block_id,
                                                       uint64_t generation_stamp) override {
    return core_->OpenReplica(block_id, generation_stamp);
  }
  Status DeleteReplica(uint64_t block_id) override { return core_->DeleteReplica(block_id); }
  StatusOr<ReplicaInfo> GetReplica(uint64_t block_id) override {
    return core_->GetReplica(block_id);
  }
  Status VerifyReplica(uint64_t block_id, uint64_t bytes_per_sec) override {
    return core_->VerifyReplica(block_id, bytes_per_sec);
  }
  std::vector<ReplicaInfo> AllReplicas() override { return core_->AllReplicas(); }
  VolumeReport Report() override { return core_->Report(); }
  void CheckVolumes() override { core_->CheckVolumes(); }
  StatusOr<std::string> DataPathForTests(uint64_t block_id) override {
    return core_->DataPathForTests(block_id);
  }

 private:
  const std::shared_ptr<internal::StoreCore> core_;
};

}  // namespace

StatusOr<std::unique_ptr<BlockStore>> BlockStore::Open(const BlockStoreOptions& options) {
  auto core = std::make_shared<internal::StoreCore>(options);
  RETURN_IF_ERROR(core->Init(core));
  return std::unique_ptr<BlockStore>(std::make_unique<BlockStoreImpl>(std::move(core)));
}

}  // namespace cairn::datanode
