// NamespaceStore: the NameNode's durable namespace in LevelDB, with group commit.
//
// Thread-safe. Reads (GetInode, ResolvePath, List) run on the caller's thread. Mutations run
// one at a time, each a function over a Txn that reads the current namespace and stages puts
// and deletes; on success the staged changes, a JournalRecord with the next transaction id go
// into the group's LevelDB WriteBatch (later mutations of the group see earlier ones). Each
// group is written, with the id counters, as ONE WriteBatch and synced once (group commit); a
// mutation is thus atomic and all-or-nothing with its group. Only then are the `done`
// callbacks run, in order, on the thread that committed the group. A mutation that arrives
// while nothing is being committed or queued is committed at once on the caller's thread,
// inside Commit() (a group of one); mutations that arrive meanwhile queue up and the store's
// commit thread commits them as the next group. The journal keeps the newest
// `journal_retain_txns` records (an audit trail and, later, what followers replay); older
// ones are deleted with later groups.
//
// Visibility: readers see a group's mutations once its batch is written, just before its sync
// completes; no caller is answered before the sync.
//
// Reads of single keys (GetInode, path walks, the mutations' own reads) go through a cache of
// committed values (kv_cache.h) filled by reads and by each written group; a path walk that
// overlapped a group's write is done again from one LevelDB snapshot.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>
#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "proto/metadata.pb.h"

namespace leveldb {
class DB;
class Env;
class Cache;
class FilterPolicy;
class WriteBatch;
}  // namespace leveldb

namespace google::protobuf {
class Message;
}

namespace cairn::namenode {

class KvCache;

struct NamespaceStoreOptions {
  std::string dir;                  // LevelDB directory; created if missing
  leveldb::Env* env = nullptr;      // nullptr = the default (POSIX) environment; tests: memenv
  bool sync = true;                 // sync LevelDB's log before answering mutations
  size_t block_cache_bytes = 64 << 20;
  size_t max_group_ops = 4096;      // mutations applied before one sync
  // Namespace keys (inodes, directory entries) whose committed values are kept in memory for
  // reads (see kv_cache.h); 0 = none.
  size_t read_cache_entries = 1 << 18;
  // Journal records kept: the newest this many transactions; older ones are deleted a few
  // thousand per written group. 0 = keep every record.
  uint64_t journal_retain_txns = 1000000;
  // LevelDB's log files are zero-filled this far ahead of the writer, so a sync rarely grows
  // the file (see preallocated_log_env.h); 0 = off. Only with the default `env`.
  size_t log_preallocate_bytes = 1 << 20;
};

class NamespaceStore;

// A mutation in progress. Only valid inside a MutationFn, on the committing thread.
// Reads see the committed namespace plus this Txn's own staged changes.
class Txn {
 public:
  // The inode at `path`. NOT_FOUND, ENOTDIR (a non-directory in the middle), INVALID_ARGUMENT.
  StatusOr<cairn::v1::InodeRecord> Resolve(absl::string_view path);
  // The inode with `id`, or nullopt.
  StatusOr<std::optional<cairn::v1::InodeRecord>> FindInode(uint64_t id);
  // The inode id of `name` in directory `parent_id`, or nullopt.
  StatusOr<std::optional<uint64_t>> FindChild(uint64_t parent_id, absl::string_view name);
  // Every (name, inode id) of a directory, in name order.
  StatusOr<std::vector<std::pair<std::string, uint64_t>>> Children(uint64_t dir_id);

  void PutInode(const cairn::v1::InodeRecord& inode);
  void DeleteInode(uint64_t id);
  // Links `child` (its id and type; the record itself is put separately) under `name`.
  void PutChild(uint64_t parent_id, absl::string_view name, const cairn::v1::InodeRecord& child);
  void DeleteChild(uint64_t parent_id, absl::string_view name);

  uint64_t NewInodeId();
  uint64_t NewBlockId();
  uint64_t NewGenerationStamp();
  // Wall-clock time of this mutation, milliseconds since the epoch.
  int64_t now_ms() const { return now_ms_; }

 private:
  friend class NamespaceStore;
  Txn(NamespaceStore* store, int64_t now_ms) : store_(store), now_ms_(now_ms) {}
  StatusOr<std::optional<std::string>> Get(const std::string& key);

  NamespaceStore* store_;
  int64_t now_ms_;
  std::map<std::string, std::optional<std::string>> staged_;  // nullopt = delete
  int64_t inode_delta_ = 0;  // inodes created minus inodes deleted by this Txn
};

class NamespaceStore {
  struct Pending;

 public:
  using Done = std::function<void(Status)>;
  using MutationFn = std::function<Status(Txn&)>;

  // Opens (creating if needed, with the root directory "/" owned by `root_owner`) the store.
  static StatusOr<std::unique_ptr<NamespaceStore>> Open(const NamespaceStoreOptions& options);
  // Stops the commit thread after running every queued mutation.
  ~NamespaceStore();
  NamespaceStore(const NamespaceStore&) = delete;
  NamespaceStore& operator=(const NamespaceStore&) = delete;

  // Commits a mutation. `op` and `request` go into the journal record. `done` runs with `fn`'s
  // status once the mutation is durable (or failed): either before Commit returns, on this
  // thread, or later on the commit thread. So the caller must hold no lock that `fn` or
  // `done` takes; `fn` must not block on anything but the store, and `done` must not wait
  // for another mutation.
  void Commit(absl::string_view op, const google::protobuf::Message& request, MutationFn fn,
              Done done);
  // While a GroupScope is alive, Commit() calls that the same thread makes on this store are
  // held back, and committed as ONE group when the scope ends (at once on this thread if
  // nothing is being committed, else queued together): a caller starting several mutations
  // in a row (a Batch RPC) gets one log sync for all of them. Scopes do not nest.
  class GroupScope {
   public:
    explicit GroupScope(NamespaceStore* store);
    ~GroupScope();
    GroupScope(const GroupScope&) = delete;
    GroupScope& operator=(const GroupScope&) = delete;

   private:
    NamespaceStore* const store_;
    std::vector<Pending> held_;
    friend class NamespaceStore;
  };

  // Commit and wait for the outcome (tests, tools).
  Status CommitAndWait(absl::string_view op, const google::protobuf::Message& request,
                       MutationFn fn);

  // Waits until every mutation queued before this call has finished.
  void Barrier();

  // ---- Reads ----
  StatusOr<cairn::v1::InodeRecord> ResolvePath(absl::string_view path) const;
  // NOT_FOUND if no inode has `id`.
  StatusOr<cairn::v1::InodeRecord> GetInode(uint64_t id) const;
  // Up to `limit` children of `dir_id` with names after `start_after`, in name order.
  Status List(uint64_t dir_id, absl::string_view start_after, size_t limit,
              std::vector<cairn::v1::InodeRecord>* out, bool* has_more) const;
  // Calls `fn` for every inode (NameNode start-up: building the block map).
  Status ForEachInode(const std::function<void(const cairn::v1::InodeRecord&)>& fn) const;
  // Journal records with txid >= from_txid, at most `max` (from_txid 0: from the oldest kept).
  // OUT_OF_RANGE if records from `from_txid` on were deleted (see journal_retain_txns).
  StatusOr<std::vector<cairn::v1::JournalRecord>> ReadJournal(uint64_t from_txid,
                                                               size_t max) const;
  // The highest transaction id that is durable.
  uint64_t last_txid() const;
  // Inodes in the namespace (files, directories, symlinks; the root included), as of the
  // newest committed mutation.
  uint64_t inode_count() const { return inode_count_.load(std::memory_order_relaxed); }
  // The oldest transaction id whose journal record is kept (last_txid() + 1 if none is).
  uint64_t first_journal_txid() const;

 private:
  friend class Txn;
  struct Pending {
    std::string op;
    std::string request;
    MutationFn fn;
    Done done;
  };
  explicit NamespaceStore(const NamespaceStoreOptions& options);
  Status Init();
  // Commits `group` at once on this thread if nothing is being committed or queued, else
  // queues it whole (or refuses it when stopping).
  void CommitGroup(std::vector<Pending> group);
  void CommitLoop();
  // Applies, writes, syncs one group and runs its callbacks. Only by the holder of
  // committing_ (the commit thread or an inline committer).
  void RunGroup(std::vector<Pending>& group);
  // Runs one mutation, adding its writes to `batch` (and group_staged_); returns its status.
  // Committer only.
  Status Apply(Pending& p, leveldb::WriteBatch* batch);
  // Adds deletions of journal records beyond the retention to `batch`; returns the first
  // txid kept once it is written. Committer only.
  uint64_t TrimJournal(leveldb::WriteBatch* batch);
  // The committed value of an inode or directory-entry key, through the read cache (which
  // mutations keep current for exactly these keys: other keys must use GetUncached).
  StatusOr<std::optional<std::string>> GetRaw(const std::string& key) const;
  StatusOr<std::optional<std::string>> GetUncached(const std::string& key) const;

  const NamespaceStoreOptions options_;
  std::unique_ptr<leveldb::Env> log_env_;  // outlives db_
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
  std::unique_ptr<KvCache> kv_cache_;

  // Writes of the group being applied, not yet in LevelDB (nullopt = delete). Committer only.
  std::map<std::string, std::optional<std::string>> group_staged_;

  // Counters: touched only by the committer (and Init), published through last_txid_.
  uint64_t next_txid_ = 1;
  uint64_t next_inode_id_ = 2;
  uint64_t next_block_id_ = 1;
  uint64_t next_gen_stamp_ = 1;
  std::atomic<uint64_t> inode_count_{0};  // written by the committer (and Init)
  std::atomic<uint64_t> durable_txid_{0};
  std::atomic<uint64_t> first_journal_txid_{1};  // written by the committer (and Init)
  Status fatal_;  // set when a write or sync failed: all later mutations fail

  absl::Mutex mu_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool committing_ ABSL_GUARDED_BY(mu_) = false;  // a group is being committed
  std::thread commit_thread_;
};

// FileInfo as clients see it.
void ToFileInfo(const cairn::v1::InodeRecord& inode, cairn::v1::FileInfo* info);

}  // namespace cairn::namenode
