#include "namenode/namespace_store.h"

#include "namenode/kv_cache.h"

#include <google/protobuf/message.h>
#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include <future>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/path.h"
#include "namenode/key_codec.h"
#include "namenode/preallocated_log_env.h"

namespace cairn::namenode {

using cairn::v1::FileInfo;
using cairn::v1::InodeRecord;
using cairn::v1::JournalRecord;

namespace {

Status FromLevelDb(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

// An entry's value: the child's inode id, then one byte with its FileType (so that walking a
// path needs no inode read per directory). Entries without the byte (8 bytes) are accepted.
std::string EncodeEntry(const InodeRecord& child) {
  return EncodeU64(child.inode_id()) + static_cast<char>(child.type());
}
bool DecodeEntry(absl::string_view v, uint64_t* id,
                 cairn::v1::FileType* type = nullptr) {
  if (v.size() != 8 && v.size() != 9) return false;
  if (!DecodeU64(v.substr(0, 8), id)) return false;
  if (type != nullptr) {
    const int t = v.size() == 9 ? static_cast<uint8_t>(v[8]) : 0;
    *type = cairn::v1::FileType_IsValid(t) ? static_cast<cairn::v1::FileType>(t)
                                             : cairn::v1::FILE_TYPE_UNSPECIFIED;
  }
  return true;
}

StatusOr<InodeRecord> ParseInode(const std::string& value, uint64_t id) {
  InodeRecord inode;
  if (!inode.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("inode ", id, ": unparsable record"));
  }
  return inode;
}

// Walks `path` from the root with `get` (key -> optional value).
template <typename Getter>
StatusOr<InodeRecord> ResolveWith(absl::string_view path, Getter&& get) {
  ASSIGN_OR_RETURN(auto parts, SplitPath(path));
  // The inode reached so far: its id and type, its record only when it had to be read
  // (directories whose entry carries their type are passed through without a read).
  uint64_t cur_id = kRootInodeId;
  cairn::v1::FileType cur_type = cairn::v1::FILE_TYPE_DIRECTORY;
  std::optional<InodeRecord> cur;
  auto load = [&]() -> Status {
    ASSIGN_OR_RETURN(std::optional<std::string> rec, get(InodeKey(cur_id)));
    if (!rec) {
      if (cur_id == kRootInodeId) return absl::InternalError("namespace has no root inode");
      return absl::DataLossError(absl::StrCat(path, ": dangling entry"));
    }
    ASSIGN_OR_RETURN(cur, ParseInode(*rec, cur_id));
    cur_type = cur->type();
    return absl::OkStatus();
  };
  for (size_t i = 0; i < parts.size(); ++i) {
    if (cur_type != cairn::v1::FILE_TYPE_DIRECTORY) {
      return NotADirectoryError(absl::StrCat(path, ": not a directory"));
    }
    ASSIGN_OR_RETURN(std::optional<std::string> child, get(EntryKey(cur_id, parts[i])));
    uint64_t child_id = 0;
    cairn::v1::FileType child_type = cairn::v1::FILE_TYPE_UNSPECIFIED;
    if (!child || !DecodeEntry(*child, &child_id, &child_type)) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
    }
    cur_id = child_id;
    cur_type = child_type;
    cur.reset();
    // The last component is always read; others only when their type is not known.
    if (i + 1 == parts.size() || cur_type == cairn::v1::FILE_TYPE_UNSPECIFIED) {
      RETURN_IF_ERROR(load());
    }
  }
  if (!cur) RETURN_IF_ERROR(load());  // "/"
  if (path.size() > 1 && path.back() == '/' && cur_type != cairn::v1::FILE_TYPE_DIRECTORY) {
    return NotADirectoryError(absl::StrCat(path, ": not a directory"));  // "file/"
  }
  return std::move(*cur);
}

}  // namespace

void ToFileInfo(const InodeRecord& inode, FileInfo* info) {
  info->set_inode_id(inode.inode_id());
  info->set_type(inode.type());
  info->set_name(inode.name());
  info->set_length_bytes(inode.length_bytes());
  info->set_replication(inode.replication());
  info->set_block_size_bytes(inode.block_size_bytes());
  info->set_mode(inode.mode());
  info->set_owner(inode.owner());
  info->set_group(inode.group());
  info->set_mtime_ms(inode.mtime_ms());
  info->set_atime_ms(inode.atime_ms());
  info->set_ctime_ms(inode.ctime_ms());
  info->set_children_count(inode.children_count());
  info->set_symlink_target(inode.symlink_target());
  info->set_under_construction(!inode.lease_holder().empty());
  info->set_ack_mode(inode.ack_mode());
}

// ---- Txn ----

StatusOr<std::optional<std::string>> Txn::Get(const std::string& key) {
  auto it = staged_.find(key);
  if (it != staged_.end()) return it->second;
  // Earlier mutations of this group, not yet written.
  auto g = store_->group_staged_.find(key);
  if (g != store_->group_staged_.end()) return g->second;
  return store_->GetRaw(key);
}

StatusOr<InodeRecord> Txn::Resolve(absl::string_view path) {
  return ResolveWith(path, [this](const std::string& k) { return Get(k); });
}

StatusOr<std::optional<InodeRecord>> Txn::FindInode(uint64_t id) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, Get(InodeKey(id)));
  if (!v) return std::optional<InodeRecord>();
  ASSIGN_OR_RETURN(InodeRecord inode, ParseInode(*v, id));
  return std::optional<InodeRecord>(std::move(inode));
}

StatusOr<std::optional<uint64_t>> Txn::FindChild(uint64_t parent_id, absl::string_view name) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, Get(EntryKey(parent_id, name)));
  uint64_t id = 0;
  if (!v || !DecodeEntry(*v, &id)) return std::optional<uint64_t>();
  return std::optional<uint64_t>(id);
}

StatusOr<std::vector<std::pair<std::string, uint64_t>>> Txn::Children(uint64_t dir_id) {
  const std::string prefix = EntryPrefix(dir_id);
  std::map<std::string, uint64_t> merged;
  {
    std::unique_ptr<leveldb::Iterator> it(store_->db_->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      uint64_t id = 0;
      if (DecodeEntry(absl::string_view(it->value().data(), it->value().size()), &id)) {
        merged[it->key().ToString()] = id;
      }
    }
    RETURN_IF_ERROR(FromLevelDb(it->status(), "list"));
  }
  // Then the group's earlier mutations, then this one's.
  for (const auto* layer : {&store_->group_staged_, &staged_}) {
    for (auto it = layer->lower_bound(prefix);
         it != layer->end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      uint64_t id = 0;
      if (!it->second) {
        merged.erase(it->first);
      } else if (DecodeEntry(*it->second, &id)) {
        merged[it->first] = id;
      }
    }
  }
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(merged.size());
  for (auto& [k, id] : merged) out.emplace_back(std::string(EntryName(k)), id);
  return out;
}

void Txn::PutInode(const InodeRecord& inode) {
  staged_[InodeKey(inode.inode_id())] = inode.SerializeAsString();
}
void Txn::DeleteInode(uint64_t id) {
  auto [it, inserted] = staged_.try_emplace(InodeKey(id), std::nullopt);
  if (!inserted && !it->second) return;  // deleted twice by this mutation: counted once
  it->second = std::nullopt;
  --inode_delta_;
}
void Txn::PutChild(uint64_t parent_id, absl::string_view name, const InodeRecord& child) {
  staged_[EntryKey(parent_id, name)] = EncodeEntry(child);
}
void Txn::DeleteChild(uint64_t parent_id, absl::string_view name) {
  staged_[EntryKey(parent_id, name)] = std::nullopt;
}
uint64_t Txn::NewInodeId() {
  ++inode_delta_;  // every new id names an inode this mutation creates
  return store_->next_inode_id_++;
}
uint64_t Txn::NewBlockId() { return store_->next_block_id_++; }
uint64_t Txn::NewGenerationStamp() { return store_->next_gen_stamp_++; }

// ---- NamespaceStore ----

NamespaceStore::NamespaceStore(const NamespaceStoreOptions& options) : options_(options) {}

StatusOr<std::unique_ptr<NamespaceStore>> NamespaceStore::Open(
    const NamespaceStoreOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("namespace store: empty directory");
  std::unique_ptr<NamespaceStore> store(new NamespaceStore(options));
  RETURN_IF_ERROR(store->Init());
  return store;
}

Status NamespaceStore::Init() {
  leveldb::Options opts;
  opts.create_if_missing = true;
  opts.paranoid_checks = true;
  if (options_.env) {
    opts.env = options_.env;
  } else if (options_.log_preallocate_bytes > 0) {
    log_env_ = NewPreallocatedLogEnv(leveldb::Env::Default(), options_.log_preallocate_bytes);
    opts.env = log_env_.get();
  }
  cache_.reset(leveldb::NewLRUCache(options_.block_cache_bytes));
  kv_cache_ = std::make_unique<KvCache>(options_.read_cache_entries);
  opts.block_cache = cache_.get();
  filter_.reset(leveldb::NewBloomFilterPolicy(10));  // creates look up names that do not exist
  opts.filter_policy = filter_.get();
  opts.write_buffer_size = 32 << 20;
  opts.max_file_size = 8 << 20;
  leveldb::DB* db = nullptr;
  // Logs an earlier run preallocated (with or without preallocation now): see the function.
  if (!options_.env) RETURN_IF_ERROR(TrimPreallocatedLogs(options_.dir));
  RETURN_IF_ERROR(FromLevelDb(leveldb::DB::Open(opts, options_.dir, &db), options_.dir));
  db_.reset(db);

  uint64_t last_txid = 0;
  ASSIGN_OR_RETURN(std::optional<std::string> counters, GetUncached(MetaKey("counters")));
  // 40 bytes: last txid, next inode id, next block id, next generation stamp, inode count.
  // 32 bytes (written before the inode count was kept): the inodes are counted below.
  bool count_known = !counters;  // a new namespace: 0 until the root is made
  if (counters) {
    uint64_t count = 0;
    if ((counters->size() != 32 && counters->size() != 40) ||
        !DecodeU64(counters->substr(0, 8), &last_txid) ||
        !DecodeU64(counters->substr(8, 8), &next_inode_id_) ||
        !DecodeU64(counters->substr(16, 8), &next_block_id_) ||
        !DecodeU64(counters->substr(24, 8), &next_gen_stamp_) ||
        (counters->size() == 40 && !DecodeU64(counters->substr(32, 8), &count))) {
      return absl::DataLossError("namespace counters are unreadable");
    }
    count_known = counters->size() == 40;
    inode_count_ = count;
  }
  if (!count_known) {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    uint64_t count = 0;
    for (it->Seek("I"); it->Valid() && it->key().starts_with("I"); it->Next()) ++count;
    RETURN_IF_ERROR(FromLevelDb(it->status(), "inode count"));
    inode_count_ = count;
  }
  next_txid_ = last_txid + 1;
  durable_txid_ = last_txid;
  {
    // Transaction ids are contiguous: the journal is [first record, last_txid].
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    it->Seek(JournalKey(0));
    uint64_t first = next_txid_;
    if (it->Valid() && it->key().starts_with("J")) {
      JournalRecord rec;
      if (!rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("unparsable journal record");
      }
      first = rec.txid();
    }
    RETURN_IF_ERROR(FromLevelDb(it->status(), "journal"));
    first_journal_txid_ = first;
  }

  commit_thread_ = std::thread([this] { CommitLoop(); });

  ASSIGN_OR_RETURN(std::optional<std::string> root, GetRaw(InodeKey(kRootInodeId)));
  if (!root) {
    cairn::v1::InodeRecord req;  // journal payload: the root inode itself
    return CommitAndWait("Format", req, [](Txn& txn) -> Status {
      txn.inode_delta_ = 1;  // the root (its id is fixed, not taken from NewInodeId)
      InodeRecord inode;
      inode.set_inode_id(kRootInodeId);
      inode.set_parent_id(kRootInodeId);
      inode.set_type(cairn::v1::FILE_TYPE_DIRECTORY);
      inode.set_mode(0755);
      inode.set_owner("root");
      inode.set_group("root");
      inode.set_mtime_ms(txn.now_ms());
      inode.set_atime_ms(txn.now_ms());
      inode.set_ctime_ms(txn.now_ms());
      txn.PutInode(inode);
      return absl::OkStatus();
    });
  }
  return absl::OkStatus();
}

NamespaceStore::~NamespaceStore() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (commit_thread_.joinable()) commit_thread_.join();
}

namespace {
// The scope holding back this thread's Commit() calls, if any (see GroupScope).
thread_local NamespaceStore::GroupScope* t_group_scope = nullptr;
}  // namespace

NamespaceStore::GroupScope::GroupScope(NamespaceStore* store) : store_(store) {
  CHECK(t_group_scope == nullptr) << "GroupScopes do not nest";
  t_group_scope = this;
}

NamespaceStore::GroupScope::~GroupScope() {
  t_group_scope = nullptr;
  if (!held_.empty()) store_->CommitGroup(std::move(held_));
}

void NamespaceStore::Commit(absl::string_view op, const google::protobuf::Message& request,
                            MutationFn fn, Done done) {
  Pending p{std::string(op), request.SerializeAsString(), std::move(fn), std::move(done)};
  if (t_group_scope != nullptr && t_group_scope->store_ == this) {
    t_group_scope->held_.push_back(std::move(p));
    return;
  }
  std::vector<Pending> group;
  group.push_back(std::move(p));
  CommitGroup(std::move(group));
}

void NamespaceStore::CommitGroup(std::vector<Pending> group) {
  bool refused = false;
  {
    absl::MutexLock l(&mu_);
    if (stopping_) {
      refused = true;
    } else if (committing_ || !queue_.empty()) {
      for (Pending& p : group) queue_.push_back(std::move(p));
      return;
    } else {
      // Nothing in progress: this thread commits the group itself, which spares a lone
      // caller the hand-off to the commit thread and back (a wake-up each way).
      committing_ = true;
    }
  }
  if (refused) {
    for (Pending& p : group) p.done(absl::UnavailableError("namenode is shutting down"));
    return;
  }
  RunGroup(group);
  absl::MutexLock l(&mu_);
  committing_ = false;
}

Status NamespaceStore::CommitAndWait(absl::string_view op, const google::protobuf::Message& request,
                                     MutationFn fn) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  Commit(op, request, std::move(fn), [&promise](Status s) { promise.set_value(std::move(s)); });
  return future.get();
}

void NamespaceStore::Barrier() {
  std::promise<void> promise;
  auto future = promise.get_future();
  Pending p{"", "", nullptr, [&promise](Status) { promise.set_value(); }};
  {
    absl::MutexLock l(&mu_);
    if (!commit_thread_.joinable() || (stopping_ && queue_.empty())) {
      return;
    }
    queue_.push_back(std::move(p));
  }
  future.wait();
}

Status NamespaceStore::Apply(Pending& p, leveldb::WriteBatch* batch) {
  if (!p.fn) return absl::CancelledError("barrier");  // nothing to write
  if (!fatal_.ok()) return fatal_;
  Txn txn(this, WallMillis());
  RETURN_IF_ERROR(p.fn(txn));
  const uint64_t txid = next_txid_;
  for (auto& [key, value] : txn.staged_) {
    if (value) {
      batch->Put(key, *value);
    } else {
      batch->Delete(key);
    }
    group_staged_[key] = std::move(value);
  }
  JournalRecord rec;
  rec.set_txid(txid);
  rec.set_time_ms(txn.now_ms());
  rec.set_op(p.op);
  rec.set_request(std::move(p.request));
  batch->Put(JournalKey(txid), rec.SerializeAsString());
  next_txid_ = txid + 1;
  inode_count_.store(inode_count_.load(std::memory_order_relaxed) + txn.inode_delta_,
                     std::memory_order_relaxed);
  return absl::OkStatus();
}

void NamespaceStore::CommitLoop() {
  std::vector<Pending> group;
  while (true) {
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](NamespaceStore* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return !s->committing_ && (!s->queue_.empty() || s->stopping_);
          },
          this));
      if (queue_.empty() && stopping_) return;
      size_t n = std::min(queue_.size(), options_.max_group_ops);
      group.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
      committing_ = true;
    }
    RunGroup(group);
    group.clear();
    absl::MutexLock l(&mu_);
    committing_ = false;
  }
}

void NamespaceStore::RunGroup(std::vector<Pending>& group) {
  std::vector<Status> results;
  results.reserve(group.size());
  leveldb::WriteBatch batch;
  bool wrote = false;
  for (Pending& p : group) {
    results.push_back(Apply(p, &batch));
    wrote |= results.back().ok();
  }
  // The group's namespace changes, for the read cache once they are written.
  std::map<std::string, std::optional<std::string>> changes;
  changes.swap(group_staged_);
  if (wrote && fatal_.ok()) {
    // The whole group: one log record, one write, one sync.
    // last txid, next inode id, next block id, next generation stamp, inode count.
    batch.Put(MetaKey("counters"), EncodeU64(next_txid_ - 1) + EncodeU64(next_inode_id_) +
                                       EncodeU64(next_block_id_) + EncodeU64(next_gen_stamp_) +
                                       EncodeU64(inode_count()));
    const uint64_t trimmed_to = TrimJournal(&batch);
    leveldb::WriteOptions wo;
    wo.sync = options_.sync;
    kv_cache_->BeginWrite();
    Status s = FromLevelDb(db_->Write(wo, &batch), "namespace write");
    if (s.ok()) {
      kv_cache_->EndWrite(changes);
      first_journal_txid_.store(trimmed_to, std::memory_order_release);
    } else {
      kv_cache_->EndFailedWrite();
    }
    if (!s.ok()) {
      LOG(ERROR) << "namespace store write failed, refusing further mutations: " << s;
      fatal_ = absl::UnavailableError(absl::StrCat("namespace store failed: ", s.message()));
      for (Status& r : results) {
        if (r.ok()) r = fatal_;
      }
    }
  }
  if (fatal_.ok()) durable_txid_.store(next_txid_ - 1, std::memory_order_release);
  for (size_t i = 0; i < group.size(); ++i) group[i].done(std::move(results[i]));
}

uint64_t NamespaceStore::TrimJournal(leveldb::WriteBatch* batch) {
  constexpr uint64_t kMaxTrimPerGroup = 4096;  // bounds the extra work of one group
  const uint64_t first = first_journal_txid_.load(std::memory_order_relaxed);
  const uint64_t last = next_txid_ - 1;
  const uint64_t retain = options_.journal_retain_txns;
  if (retain == 0 || last < first || last - first + 1 <= retain) return first;
  const uint64_t to = std::min(last - retain + 1, first + kMaxTrimPerGroup);
  for (uint64_t txid = first; txid < to; ++txid) batch->Delete(JournalKey(txid));
  return to;
}

uint64_t NamespaceStore::first_journal_txid() const {
  return first_journal_txid_.load(std::memory_order_acquire);
}

StatusOr<std::optional<std::string>> NamespaceStore::GetUncached(const std::string& key) const {
  std::string value;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromLevelDb(s, "namespace read"));
  return std::optional<std::string>(std::move(value));
}

StatusOr<std::optional<std::string>> NamespaceStore::GetRaw(const std::string& key) const {
  const uint64_t generation = kv_cache_->generation();
  if (auto hit = kv_cache_->Get(key)) return std::move(*hit);
  ASSIGN_OR_RETURN(std::optional<std::string> value, GetUncached(key));
  kv_cache_->Fill(generation, key, value);
  return value;
}

StatusOr<InodeRecord> NamespaceStore::ResolvePath(absl::string_view path) const {
  // From the cache and LevelDB's current state: consistent if no write began meanwhile.
  const uint64_t generation = kv_cache_->generation();
  if (generation % 2 == 0) {
    auto result = ResolveWith(path, [this](const std::string& key) { return GetRaw(key); });
    if (kv_cache_->generation() == generation) return result;
  }
  // A group was written meanwhile: again, from one LevelDB snapshot.
  leveldb::ReadOptions ro;
  ro.snapshot = db_->GetSnapshot();
  auto result = ResolveWith(path, [&](const std::string& key) -> StatusOr<std::optional<std::string>> {
    std::string value;
    leveldb::Status s = db_->Get(ro, key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    RETURN_IF_ERROR(FromLevelDb(s, "namespace read"));
    return std::optional<std::string>(std::move(value));
  });
  db_->ReleaseSnapshot(ro.snapshot);
  return result;
}

StatusOr<InodeRecord> NamespaceStore::GetInode(uint64_t id) const {
  ASSIGN_OR_RETURN(std::optional<std::string> v, GetRaw(InodeKey(id)));
  if (!v) return absl::NotFoundError(absl::StrCat("inode ", id, ": no such inode"));
  return ParseInode(*v, id);
}

Status NamespaceStore::List(uint64_t dir_id, absl::string_view start_after, size_t limit,
                            std::vector<InodeRecord>* out, bool* has_more) const {
  *has_more = false;
  leveldb::ReadOptions ro;
  ro.snapshot = db_->GetSnapshot();
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
  const std::string prefix = EntryPrefix(dir_id);
  Status status;
  it->Seek(start_after.empty() ? prefix : EntryKey(dir_id, start_after));
  for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
    absl::string_view name = EntryName(absl::string_view(it->key().data(), it->key().size()));
    if (!start_after.empty() && name == start_after) continue;
    if (out->size() >= limit) {
      *has_more = true;
      break;
    }
    uint64_t id = 0;
    if (!DecodeEntry(absl::string_view(it->value().data(), it->value().size()), &id)) continue;
    std::string value;
    leveldb::Status s = db_->Get(ro, InodeKey(id), &value);
    if (!s.ok()) {
      status = FromLevelDb(s, "list");
      break;
    }
    auto inode = ParseInode(value, id);
    if (!inode.ok()) {
      status = inode.status();
      break;
    }
    out->push_back(std::move(*inode));
  }
  if (status.ok()) status = FromLevelDb(it->status(), "list");
  it.reset();
  db_->ReleaseSnapshot(ro.snapshot);
  return status;
}

Status NamespaceStore::ForEachInode(const std::function<void(const InodeRecord&)>& fn) const {
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek("I"); it->Valid() && it->key().starts_with("I"); it->Next()) {
    InodeRecord inode;
    if (!inode.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("unparsable inode record");
    }
    fn(inode);
  }
  return FromLevelDb(it->status(), "scan");
}

StatusOr<std::vector<JournalRecord>> NamespaceStore::ReadJournal(uint64_t from_txid,
                                                                 size_t max) const {
  const uint64_t first = first_journal_txid();
  if (from_txid != 0 && from_txid < first) {
    return absl::OutOfRangeError(absl::StrCat("journal records before txid ", first,
                                              " were deleted (asked from ", from_txid, ")"));
  }
  std::vector<JournalRecord> out;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(JournalKey(from_txid)); it->Valid() && it->key().starts_with("J") &&
                                        out.size() < max;
       it->Next()) {
    JournalRecord rec;
    if (!rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("unparsable journal record");
    }
    out.push_back(std::move(rec));
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "journal"));
  return out;
}

uint64_t NamespaceStore::last_txid() const {
  return durable_txid_.load(std::memory_order_acquire);
}

}  // namespace cairn::namenode
