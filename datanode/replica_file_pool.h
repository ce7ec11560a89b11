// ReplicaFilePool: empty files made ahead of need, in one pool directory per volume, so that
// creating a replica's two files takes two renames on the writer's path instead of two inode
// allocations. (On this project's reference VM, ext4 without a journal takes 0.3-1 ms to
// allocate an inode while many were deleted recently -- it skips those -- and ~40 us to
// rename; a small file's replica pays that twice per close.) A background thread keeps each
// pool at its target size. Files found in a pool directory at start are adopted only if the
// previous run stopped cleanly (a marker it leaves); after a crash the old directory is set
// aside (VOLUME/current/pool.crashed-TIME) and nothing in it is used or removed.
//
// Invariant: a pool file is empty and has no other name. Nothing writes to a file before it
// has left the pool; at start, only such files are adopted (a crash can leave a pool name on
// a replica's file: it is left alone); and the caller opens what it takes with O_TRUNC anyway.
// Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace cairn::datanode {

class ReplicaFilePool {
 public:
  // `dirs[v]` is volume v's pool directory (created if missing; "" = no pool for volume v).
  // `target` > 0 files per volume.
  ReplicaFilePool(std::vector<std::string> dirs, size_t target);
  ~ReplicaFilePool();  // stops the background thread; the files stay for the next start
  ReplicaFilePool(const ReplicaFilePool&) = delete;
  ReplicaFilePool& operator=(const ReplicaFilePool&) = delete;

  // Moves one of `volume`'s pooled files to `dest` (replacing whatever is there, as
  // rename(2) does). False if the pool is empty or the move failed: the caller then creates
  // the file itself.
  bool Take(int volume, const std::string& dest);
  // Files ready in `volume`'s pool.
  size_t available(int volume) const;

  // Removes what pools set aside after crashes left in `current` (its pool.crashed-*
  // directories): each empty file with one link whose inode no file below `replica_dirs`
  // has, then each directory left empty. Anything else stays (a crash can leave a pool name on
  // a replica's file, and without fsck its link count may say 1). Call at start, before
  // replicas are written and before a pool's filler runs in `current`. Returns the number of
  // files left in such directories.
  static size_t SweepCrashedPools(const std::string& current,
                                  const std::vector<std::string>& replica_dirs);

 private:
  struct Pool {
    std::string dir;
    // Files ready, in the order they were made (adopted ones first); taken from the front:
    // the oldest have had the longest to reach the disk.
    std::deque<std::string> names ABSL_GUARDED_BY(mu);
    int64_t retry_at_ms = 0;  // after a failure to create: not before (filler only)
    mutable absl::Mutex mu;
  };
  void Fill();
  // Creates one empty file in `pool`; its name, or "" (errno in *err).
  std::string CreateOne(Pool* pool, int* err);

  const size_t target_;
  std::vector<Pool> pools_;  // size fixed at construction
  uint64_t next_name_ = 0;   // filler only
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wanted_ ABSL_GUARDED_BY(mu_) = true;  // a pool ran low since the filler last looked
  std::thread filler_;
};

}  // namespace cairn::datanode
