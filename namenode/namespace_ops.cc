#include "namenode/namespace_ops.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/path.h"
#include "namenode/key_codec.h"

namespace cairn::namenode {

using cairn::v1::BlockRecord;
using cairn::v1::InodeRecord;

namespace {

constexpr size_t kMaxOwnerBytes = 255;  // owner and group names

struct ParentAndName {
  InodeRecord parent;
  std::string name;
};

bool IsDir(const InodeRecord& inode) { return inode.type() == cairn::v1::FILE_TYPE_DIRECTORY; }

// The same error about `path`: "<path>: <reason>", code and POSIX payload kept.
Status Reword(const Status& s, absl::string_view path) {
  absl::string_view msg = s.message();
  size_t colon = msg.rfind(": ");
  Status out(s.code(), absl::StrCat(path, ": ", colon == msg.npos ? msg : msg.substr(colon + 2)));
  s.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

// Resolves the parent directory of `path` (which must not be "/").
StatusOr<ParentAndName> ResolveParent(Txn& txn, absl::string_view path) {
  ASSIGN_OR_RETURN(auto parts, SplitPath(path));
  if (parts.empty()) return absl::InvalidArgumentError("/: not allowed on the root directory");
  auto parent = txn.Resolve(ParentPath(path));
  if (!parent.ok()) return Reword(parent.status(), path);
  if (!IsDir(*parent)) return NotADirectoryError(absl::StrCat(path, ": not a directory"));
  return ParentAndName{std::move(*parent), std::string(parts.back())};
}

// Adds `delta` to a directory's child count and stamps its mtime/ctime.
// `*after` (if set) receives the directory's new record.
Status TouchDir(Txn& txn, uint64_t dir_id, int64_t delta, InodeRecord* after = nullptr) {
  ASSIGN_OR_RETURN(std::optional<InodeRecord> dir, txn.FindInode(dir_id));
  if (!dir) return absl::DataLossError(absl::StrCat("directory inode ", dir_id, " missing"));
  dir->set_children_count(static_cast<uint64_t>(static_cast<int64_t>(dir->children_count()) + delta));
  dir->set_mtime_ms(txn.now_ms());
  dir->set_ctime_ms(txn.now_ms());
  txn.PutInode(*dir);
  if (after) *after = std::move(*dir);
  return absl::OkStatus();
}

// Deletes `top` and, for a directory, everything below it. Collects file blocks. Iterative:
// renames can nest directories far deeper than one path can name, so no recursion.
Status RemoveSubtree(Txn& txn, const InodeRecord& top, std::vector<BlockRecord>* blocks) {
  std::vector<InodeRecord> pending = {top};
  while (!pending.empty()) {
    const InodeRecord inode = std::move(pending.back());
    pending.pop_back();
    if (IsDir(inode)) {
      ASSIGN_OR_RETURN(auto children, txn.Children(inode.inode_id()));
      for (const auto& [name, id] : children) {
        ASSIGN_OR_RETURN(std::optional<InodeRecord> child, txn.FindInode(id));
        if (child) pending.push_back(std::move(*child));
        txn.DeleteChild(inode.inode_id(), name);
      }
    }
    for (const auto& b : inode.blocks()) blocks->push_back(b);
    txn.DeleteInode(inode.inode_id());
  }
  return absl::OkStatus();
}

// The attributes a new inode is created with: a mode of permission bits (file-type bits, as
// in st_mode, are accepted and dropped), owner and group names of at most 255 bytes (as
// SetOwner requires).
Status CheckNewInodeAttributes(absl::string_view path, uint32_t mode, const std::string& owner,
                               const std::string& group) {
  constexpr uint32_t kTypeBits = 0170000;  // S_IFMT
  if ((mode & ~(07777u | kTypeBits)) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: invalid mode 0%o", path, mode));
  }
  if (owner.size() > kMaxOwnerBytes || group.size() > kMaxOwnerBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": owner or group too long"));
  }
  return absl::OkStatus();
}

// A path written with a trailing slash names a directory.
bool NamesDirectory(absl::string_view path) { return path.size() > 1 && path.back() == '/'; }

InodeRecord NewInode(Txn& txn, const InodeRecord& parent, absl::string_view name,
                     cairn::v1::FileType type, uint32_t mode, const std::string& owner,
                     const std::string& group) {
  InodeRecord inode;
  inode.set_inode_id(txn.NewInodeId());
  inode.set_parent_id(parent.inode_id());
  inode.set_name(std::string(name));
  inode.set_type(type);
  inode.set_mode(mode & 07777);
  inode.set_owner(owner.empty() ? parent.owner() : owner);
  inode.set_group(group.empty() ? parent.group() : group);
  inode.set_mtime_ms(txn.now_ms());
  inode.set_atime_ms(txn.now_ms());
  inode.set_ctime_ms(txn.now_ms());
  return inode;
}

// mkdir -p of every component of `parts` that is missing; returns the last directory.
StatusOr<InodeRecord> MakeDirs(Txn& txn, absl::string_view path,
                               const std::vector<absl::string_view>& parts, uint32_t mode,
                               const std::string& owner, const std::string& group,
                               bool* created_last, bool last_is_target = true) {
  ASSIGN_OR_RETURN(std::optional<InodeRecord> cur, txn.FindInode(kRootInodeId));
  if (!cur) return absl::InternalError("namespace has no root inode");
  *created_last = false;
  for (size_t i = 0; i < parts.size(); ++i) {
    ASSIGN_OR_RETURN(std::optional<uint64_t> child, txn.FindChild(cur->inode_id(), parts[i]));
    if (child) {
      ASSIGN_OR_RETURN(cur, txn.FindInode(*child));
      if (!cur) return absl::DataLossError(absl::StrCat(path, ": dangling entry"));
      if (!IsDir(*cur)) {
        if (last_is_target && i + 1 == parts.size()) {
          return absl::AlreadyExistsError(absl::StrCat(path, ": file exists"));
        }
        return NotADirectoryError(absl::StrCat(path, ": not a directory"));
      }
      *created_last = false;
      continue;
    }
    InodeRecord dir = NewInode(txn, *cur, parts[i], cairn::v1::FILE_TYPE_DIRECTORY, mode, owner, group);
    txn.PutInode(dir);
    txn.PutChild(cur->inode_id(), parts[i], dir);
    RETURN_IF_ERROR(TouchDir(txn, cur->inode_id(), +1));
    cur = std::move(dir);
    *created_last = true;
  }
  return *cur;
}

bool IsUnder(const std::vector<absl::string_view>& ancestor,
             const std::vector<absl::string_view>& path) {
  if (path.size() <= ancestor.size()) return false;
  for (size_t i = 0; i < ancestor.size(); ++i) {
    if (ancestor[i] != path[i]) return false;
  }
  return true;
}

}  // namespace

NamespaceOps::NamespaceOps(NamespaceStore* store, const NamespaceOpsOptions& options)
    : store_(store), options_(options) {}

void NamespaceOps::Mutate(absl::string_view op, const google::protobuf::Message& req,
                          std::function<Status(Txn&, std::vector<BlockRecord>*)> fn, Done done) {
  if (read_only_ && read_only_()) {
    return done(absl::UnavailableError("NameNode is in safemode (read-only); try again later"));
  }
  auto removed = std::make_shared<std::vector<BlockRecord>>();
  store_->Commit(
      op, req,
      [fn = std::move(fn), removed](Txn& txn) {
        removed->clear();
        return fn(txn, removed.get());
      },
      [this, removed, done = std::move(done)](Status s) {
        if (s.ok() && !removed->empty() && blocks_removed_) blocks_removed_(std::move(*removed));
        done(std::move(s));
      });
}

void NamespaceOps::Mkdir(const cairn::v1::MkdirRequest& req, cairn::v1::MkdirResponse* resp,
                         Done done) {
  if (Status s = CheckNewInodeAttributes(req.path(), req.mode(), req.owner(), req.group());
      !s.ok()) {
    return done(s);
  }
  Mutate("Mkdir", req, [&req, resp](Txn& txn, std::vector<BlockRecord>*) -> Status {
    ASSIGN_OR_RETURN(auto parts, SplitPath(req.path()));
    const uint32_t mode = req.mode() == 0 ? 0755 : req.mode();
    if (parts.empty()) {
      if (!req.parents()) return absl::AlreadyExistsError("/: file exists");
      ASSIGN_OR_RETURN(InodeRecord root, txn.Resolve("/"));
      ToFileInfo(root, resp->mutable_info());
      return absl::OkStatus();
    }
    if (req.parents()) {
      bool created = false;
      ASSIGN_OR_RETURN(InodeRecord dir, MakeDirs(txn, req.path(), parts, mode, req.owner(),
                                                 req.group(), &created));
      ToFileInfo(dir, resp->mutable_info());
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(ParentAndName pn, ResolveParent(txn, req.path()));
    ASSIGN_OR_RETURN(std::optional<uint64_t> existing, txn.FindChild(pn.parent.inode_id(), pn.name));
    if (existing) return absl::AlreadyExistsError(absl::StrCat(req.path(), ": file exists"));
    InodeRecord dir = NewInode(txn, pn.parent, pn.name, cairn::v1::FILE_TYPE_DIRECTORY, mode,
                               req.owner(), req.group());
    txn.PutInode(dir);
    txn.PutChild(pn.parent.inode_id(), pn.name, dir);
    InodeRecord parent_after;
    RETURN_IF_ERROR(TouchDir(txn, pn.parent.inode_id(), +1, &parent_after));
    ToFileInfo(dir, resp->mutable_info());
    ToFileInfo(parent_after, resp->mutable_parent());
    return absl::OkStatus();
  }, std::move(done));
}

void NamespaceOps::CreateFile(const cairn::v1::CreateFileRequest& req,
                              cairn::v1::CreateFileResponse* resp, Done done) {
  const uint32_t replication = req.replication() == 0 ? options_.default_replication
                                                      : req.replication();
  const uint64_t block_size = req.block_size_bytes() == 0 ? options_.default_block_size_bytes
                                                          : req.block_size_bytes();
  if (replication > options_.max_replication) {
    return done(absl::InvalidArgumentError(absl::StrCat(
        req.path(), ": replication ", replication, " out of range 1..", options_.max_replication)));
  }
  if (Status s = CheckNewInodeAttributes(req.path(), req.mode(), req.owner(), req.group());
      !s.ok()) {
    return done(s);
  }
  if (block_size < options_.min_block_size_bytes || block_size > options_.max_block_size_bytes ||
      block_size % 512 != 0) {
    return done(absl::InvalidArgumentError(
        absl::StrCat(req.path(), ": block size ", block_size, " must be a multiple of 512 in ",
                     options_.min_block_size_bytes, "..", options_.max_block_size_bytes)));
  }
  Mutate("CreateFile", req, [this, &req, resp, replication, block_size](
                                Txn& txn, std::vector<BlockRecord>* removed) -> Status {
    resp->clear_first_block();
    // With a lease holder and asked for: the first block too, in this transaction.
    auto first_block = [&](InodeRecord* file) {
      if (req.allocate_first_block() && !req.client_name().empty() && allocate_first_block_) {
        if (!allocate_first_block_(txn, file, req.client_address(), resp->mutable_first_block())) {
          resp->clear_first_block();
        }
      }
    };
    ASSIGN_OR_RETURN(auto parts, SplitPath(req.path()));
    if (parts.empty()) return IsADirectoryError("/: is a directory");
    if (NamesDirectory(req.path())) {
      return IsADirectoryError(absl::StrCat(req.path(), ": is a directory"));
    }
    if (req.create_parents()) {
      std::vector<absl::string_view> dirs(parts.begin(), parts.end() - 1);
      bool created = false;
      RETURN_IF_ERROR(MakeDirs(txn, req.path(), dirs, 0755, req.owner(), req.group(), &created,
                               /*last_is_target=*/false)
                          .status());
    }
    ASSIGN_OR_RETURN(ParentAndName pn, ResolveParent(txn, req.path()));
    ASSIGN_OR_RETURN(std::optional<uint64_t> existing_id,
                     txn.FindChild(pn.parent.inode_id(), pn.name));
    int64_t delta = +1;
    if (existing_id) {
      ASSIGN_OR_RETURN(std::optional<InodeRecord> existing, txn.FindInode(*existing_id));
      if (!existing) return absl::DataLossError(absl::StrCat(req.path(), ": dangling entry"));
      if (IsDir(*existing)) return IsADirectoryError(absl::StrCat(req.path(), ": is a directory"));
      if (!req.overwrite()) return absl::AlreadyExistsError(absl::StrCat(req.path(), ": file exists"));
      if (!existing->lease_holder().empty() && existing->lease_holder() != req.client_name()) {
        return WithPosix(absl::FailedPreconditionError(absl::StrCat(
                             req.path(), ": is being written by ", existing->lease_holder())),
                         "ETXTBSY");
      }
      if (req.expected_inode_id() != 0 && existing->inode_id() != req.expected_inode_id()) {
        return WithPosix(absl::FailedPreconditionError(absl::StrCat(
                             req.path(), ": was replaced (inode ", existing->inode_id(),
                             ", expected ", req.expected_inode_id(), ")")),
                         "ESTALE");
      }
      if (req.truncate_existing() && existing->type() == cairn::v1::FILE_TYPE_FILE) {
        // Same inode, no content: like open(O_TRUNC). (Anything else is replaced below.)
        for (const auto& b : existing->blocks()) removed->push_back(b);
        existing->clear_blocks();
        existing->set_length_bytes(0);
        existing->set_lease_holder(req.client_name());
        existing->set_ack_mode(req.ack_mode() == cairn::v1::ACK_MODE_UNSPECIFIED
                                   ? cairn::v1::ACK_MODE_SYNC : req.ack_mode());
        existing->set_mtime_ms(txn.now_ms());
        existing->set_ctime_ms(txn.now_ms());
        first_block(&*existing);
        txn.PutInode(*existing);
        ToFileInfo(*existing, resp->mutable_info());
        return absl::OkStatus();
      }
      RETURN_IF_ERROR(RemoveSubtree(txn, *existing, removed));
      delta = 0;
    } else if (req.expected_inode_id() != 0) {
      return WithPosix(absl::NotFoundError(absl::StrCat(req.path(), ": no longer exists")),
                       "ESTALE");
    }
    InodeRecord file = NewInode(txn, pn.parent, pn.name, cairn::v1::FILE_TYPE_FILE,
                                req.mode() == 0 ? 0644 : req.mode(), req.owner(), req.group());
    file.set_replication(replication);
    file.set_block_size_bytes(block_size);
    file.set_ack_mode(req.ack_mode() == cairn::v1::ACK_MODE_UNSPECIFIED ? cairn::v1::ACK_MODE_SYNC
                                                                        : req.ack_mode());
    file.set_lease_holder(req.client_name());
    first_block(&file);
    txn.PutInode(file);
    txn.PutChild(pn.parent.inode_id(), pn.name, file);
    InodeRecord parent_after;
    RETURN_IF_ERROR(TouchDir(txn, pn.parent.inode_id(), delta, &parent_after));
    ToFileInfo(parent_after, resp->mutable_parent());
    ToFileInfo(file, resp->mutable_info());
    return absl::OkStatus();
  }, [this, &req, resp, done = std::move(done)](Status s) {
    if (s.ok() && !req.client_name().empty() && file_opened_) {
      file_opened_(req.client_name(), resp->info().inode_id());
    }
    if (s.ok() && resp->has_first_block() && first_block_committed_) {
      first_block_committed_(resp->first_block(), resp->info().inode_id(),
                             resp->info().replication());
    }
    done(std::move(s));
  });
}

void NamespaceOps::CreateSymlink(const cairn::v1::CreateSymlinkRequest& req,
                                 cairn::v1::CreateSymlinkResponse* resp, Done done) {
  if (req.target().empty() || req.target().size() > kMaxPathBytes ||
      req.target().find('\0') != std::string::npos) {
    return done(absl::InvalidArgumentError(absl::StrCat(req.path(), ": invalid symlink target")));
  }
  if (Status s = CheckNewInodeAttributes(req.path(), 0777, req.owner(), req.group()); !s.ok()) {
    return done(s);
  }
  Mutate("CreateSymlink", req, [&req, resp](Txn& txn, std::vector<BlockRecord>*) -> Status {
    ASSIGN_OR_RETURN(ParentAndName pn, ResolveParent(txn, req.path()));
    ASSIGN_OR_RETURN(std::optional<uint64_t> existing, txn.FindChild(pn.parent.inode_id(), pn.name));
    if (existing) return absl::AlreadyExistsError(absl::StrCat(req.path(), ": file exists"));
    InodeRecord link = NewInode(txn, pn.parent, pn.name, cairn::v1::FILE_TYPE_SYMLINK, 0777,
                                req.owner(), req.group());
    link.set_symlink_target(req.target());
    link.set_length_bytes(req.target().size());
    txn.PutInode(link);
    txn.PutChild(pn.parent.inode_id(), pn.name, link);
    RETURN_IF_ERROR(TouchDir(txn, pn.parent.inode_id(), +1));
    ToFileInfo(link, resp->mutable_info());
    return absl::OkStatus();
  }, std::move(done));
}

void NamespaceOps::GetFileInfo(const cairn::v1::GetFileInfoRequest& req,
                               cairn::v1::GetFileInfoResponse* resp, Done done) {
  auto inode = store_->ResolvePath(req.path());
  if (!inode.ok()) return done(inode.status());
  ToFileInfo(*inode, resp->mutable_info());
  done(absl::OkStatus());
}

void NamespaceOps::ListDirectory(const cairn::v1::ListDirectoryRequest& req,
                                 cairn::v1::ListDirectoryResponse* resp, Done done) {
  auto dir = store_->ResolvePath(req.path());
  if (!dir.ok()) return done(dir.status());
  if (!IsDir(*dir)) return done(NotADirectoryError(absl::StrCat(req.path(), ": not a directory")));
  const size_t limit = req.limit() == 0 ? 1000 : std::min<uint32_t>(req.limit(), 10000);
  std::vector<InodeRecord> entries;
  bool has_more = false;
  Status s = store_->List(dir->inode_id(), req.start_after(), limit, &entries, &has_more);
  if (!s.ok()) return done(s);
  for (const auto& e : entries) ToFileInfo(e, resp->add_entries());
  resp->set_has_more(has_more);
  done(absl::OkStatus());
}

void NamespaceOps::Rename(const cairn::v1::RenameRequest& req, cairn::v1::RenameResponse*,
                          Done done) {
  Mutate("Rename", req, [&req](Txn& txn, std::vector<BlockRecord>* removed) -> Status {
    ASSIGN_OR_RETURN(auto sparts, SplitPath(req.src()));
    ASSIGN_OR_RETURN(auto dparts, SplitPath(req.dst()));
    if (sparts.empty()) return absl::InvalidArgumentError("/: cannot rename the root directory");
    if (dparts.empty()) return absl::InvalidArgumentError(absl::StrCat(req.src(), ": cannot replace the root directory"));
    ASSIGN_OR_RETURN(InodeRecord src, txn.Resolve(req.src()));
    if (sparts == dparts) {
      // Onto itself: nothing to do, unless told not to replace what exists (it does).
      if (req.no_replace()) {
        return absl::AlreadyExistsError(absl::StrCat(req.dst(), ": file exists"));
      }
      return absl::OkStatus();
    }
    if (IsUnder(sparts, dparts)) {
      if (!IsDir(src)) return NotADirectoryError(absl::StrCat(req.dst(), ": not a directory"));
      return absl::InvalidArgumentError(
          absl::StrCat(req.src(), ": cannot move a directory under itself (", req.dst(), ")"));
    }
    ASSIGN_OR_RETURN(ParentAndName dst_pn, ResolveParent(txn, req.dst()));
    ASSIGN_OR_RETURN(std::optional<uint64_t> dst_id, txn.FindChild(dst_pn.parent.inode_id(), dst_pn.name));
    int64_t dst_delta = 1;
    if (dst_id) {
      if (req.no_replace()) return absl::AlreadyExistsError(absl::StrCat(req.dst(), ": file exists"));
      ASSIGN_OR_RETURN(std::optional<InodeRecord> dst, txn.FindInode(*dst_id));
      if (!dst) return absl::DataLossError(absl::StrCat(req.dst(), ": dangling entry"));
      if (IsDir(*dst)) {
        if (!IsDir(src)) return IsADirectoryError(absl::StrCat(req.dst(), ": is a directory"));
        if (dst->children_count() > 0) {
          return NotEmptyError(absl::StrCat(req.dst(), ": directory not empty"));
        }
      } else if (IsDir(src)) {
        return NotADirectoryError(absl::StrCat(req.dst(), ": not a directory"));
      }
      RETURN_IF_ERROR(RemoveSubtree(txn, *dst, removed));
      dst_delta = 0;
    }
    txn.DeleteChild(src.parent_id(), src.name());
    RETURN_IF_ERROR(TouchDir(txn, src.parent_id(), -1));
    txn.PutChild(dst_pn.parent.inode_id(), dst_pn.name, src);
    RETURN_IF_ERROR(TouchDir(txn, dst_pn.parent.inode_id(), dst_delta));
    src.set_parent_id(dst_pn.parent.inode_id());
    src.set_name(dst_pn.name);
    src.set_ctime_ms(txn.now_ms());
    txn.PutInode(src);
    return absl::OkStatus();
  }, std::move(done));
}

void NamespaceOps::Delete(const cairn::v1::DeleteRequest& req, cairn::v1::DeleteResponse* resp,
                          Done done) {
  Mutate("Delete", req, [&req, resp](Txn& txn, std::vector<BlockRecord>* removed) -> Status {
    ASSIGN_OR_RETURN(auto parts, SplitPath(req.path()));
    if (parts.empty()) return absl::InvalidArgumentError("/: cannot delete the root directory");
    ASSIGN_OR_RETURN(InodeRecord inode, txn.Resolve(req.path()));
    if (IsDir(inode) && inode.children_count() > 0 && !req.recursive()) {
      return NotEmptyError(absl::StrCat(req.path(), ": directory not empty"));
    }
    RETURN_IF_ERROR(RemoveSubtree(txn, inode, removed));
    txn.DeleteChild(inode.parent_id(), inode.name());
    InodeRecord parent_after;
    RETURN_IF_ERROR(TouchDir(txn, inode.parent_id(), -1, &parent_after));
    ToFileInfo(parent_after, resp->mutable_parent());
    return absl::OkStatus();
  }, std::move(done));
}

void NamespaceOps::UpdateInode(absl::string_view op, const google::protobuf::Message& req,
                               const std::string& path,
                               std::function<Status(InodeRecord&)> change, Done done) {
  Mutate(op, req, [path, change = std::move(change)](Txn& txn, std::vector<BlockRecord>*) -> Status {
    ASSIGN_OR_RETURN(InodeRecord inode, txn.Resolve(path));
    RETURN_IF_ERROR(change(inode));
    inode.set_ctime_ms(txn.now_ms());
    txn.PutInode(inode);
    return absl::OkStatus();
  }, std::move(done));
}

void NamespaceOps::SetReplication(const cairn::v1::SetReplicationRequest& req,
                                  cairn::v1::SetReplicationResponse*, Done done) {
  if (req.replication() < 1 || req.replication() > options_.max_replication) {
    return done(absl::InvalidArgumentError(absl::StrCat(
        req.path(), ": replication ", req.replication(), " out of range 1..",
        options_.max_replication)));
  }
  auto block_ids = std::make_shared<std::vector<uint64_t>>();
  UpdateInode("SetReplication", req, req.path(), [&req, block_ids](InodeRecord& inode) -> Status {
    if (IsDir(inode)) return IsADirectoryError(absl::StrCat(req.path(), ": is a directory"));
    if (inode.type() != cairn::v1::FILE_TYPE_FILE) {
      return absl::InvalidArgumentError(absl::StrCat(req.path(), ": not a regular file"));
    }
    inode.set_replication(req.replication());
    block_ids->clear();
    for (const auto& b : inode.blocks()) block_ids->push_back(b.block_id());
    return absl::OkStatus();
  }, [this, &req, block_ids, done = std::move(done)](Status s) {
    if (s.ok() && replication_changed_) replication_changed_(*block_ids, req.replication());
    done(std::move(s));
  });
}

void NamespaceOps::SetPermission(const cairn::v1::SetPermissionRequest& req,
                                 cairn::v1::SetPermissionResponse*, Done done) {
  if (req.mode() > 07777) {
    return done(absl::InvalidArgumentError(absl::StrCat(req.path(), ": invalid mode")));
  }
  UpdateInode("SetPermission", req, req.path(), [&req](InodeRecord& inode) -> Status {
    inode.set_mode(req.mode());
    return absl::OkStatus();
  }, std::move(done));
}

void NamespaceOps::SetOwner(const cairn::v1::SetOwnerRequest& req, cairn::v1::SetOwnerResponse*,
                            Done done) {
  if (req.owner().size() > kMaxOwnerBytes || req.group().size() > kMaxOwnerBytes) {
    return done(absl::InvalidArgumentError(absl::StrCat(req.path(), ": owner or group too long")));
  }
  UpdateInode("SetOwner", req, req.path(), [&req](InodeRecord& inode) -> Status {
    if (!req.owner().empty()) inode.set_owner(req.owner());
    if (!req.group().empty()) inode.set_group(req.group());
    return absl::OkStatus();
  }, std::move(done));
}

void NamespaceOps::SetTimes(const cairn::v1::SetTimesRequest& req, cairn::v1::SetTimesResponse*,
                            Done done) {
  UpdateInode("SetTimes", req, req.path(), [&req](InodeRecord& inode) -> Status {
    if (req.has_mtime_ms()) inode.set_mtime_ms(req.mtime_ms());
    if (req.has_atime_ms()) inode.set_atime_ms(req.atime_ms());
    return absl::OkStatus();
  }, std::move(done));
}

}  // namespace cairn::namenode
