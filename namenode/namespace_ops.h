// NamespaceOps: the namespace operations of the NameNode (mkdir, create, rename, delete, ...),
// on top of a NamespaceStore. Knows nothing about gRPC: each operation takes its request
// message, fills its response and reports through `done` (on the thread that committed
// them for mutations, see namespace_store.h; inline for reads). Thread-safe.
#pragma once

#include <functional>
#include <vector>

#include "common/status.h"
#include "namenode/namespace_store.h"
#include "proto/namenode.pb.h"

namespace cairn::namenode {

struct NamespaceOpsOptions {
  uint32_t default_replication = 3;
  uint32_t max_replication = 32;
  uint64_t default_block_size_bytes = 64ull << 20;
  uint64_t min_block_size_bytes = 4096;
  uint64_t max_block_size_bytes = 1ull << 30;
};

class NamespaceOps {
 public:
  using Done = std::function<void(Status)>;
  // Called after a mutation that removed files committed, with the removed files' blocks
  // (so the block manager can delete their replicas). Runs on the committing thread.
  using BlocksRemovedFn = std::function<void(std::vector<cairn::v1::BlockRecord>)>;
  // Decides whether a file under construction may be replaced/deleted by someone else; by
  // default any lease blocks CreateFile(overwrite) from another client.
  // `store` must outlive this object.
  NamespaceOps(NamespaceStore* store, const NamespaceOpsOptions& options);
  // While `gate` says so, mutations fail with UNAVAILABLE. `gate` must outlive this.
  void set_read_only_gate(std::function<bool()> gate) { read_only_ = std::move(gate); }

  void set_blocks_removed(BlocksRemovedFn fn) { blocks_removed_ = std::move(fn); }
  // Called after CreateFile committed a file with a lease holder (client, inode id).
  void set_file_opened(std::function<void(const std::string&, uint64_t)> fn) {
    file_opened_ = std::move(fn);
  }
  // Called after SetReplication committed: the file's block ids and new replication.
  void set_replication_changed(std::function<void(std::vector<uint64_t>, uint32_t)> fn) {
    replication_changed_ = std::move(fn);
  }
  // CreateFileRequest.allocate_first_block: `allocate` adds the new file's first block inside
  // the create's transaction (to the inode, not yet put; false if it could not), `committed`
  // runs after the create committed with it (inode id, replication). Both on the committing thread.
  using FirstBlockFn = std::function<bool(Txn&, cairn::v1::InodeRecord* file,
                                          const std::string& client_address,
                                          cairn::v1::LocatedBlock* out)>;
  using FirstBlockCommittedFn =
      std::function<void(const cairn::v1::LocatedBlock&, uint64_t inode_id, uint32_t replication)>;
  void set_first_block(FirstBlockFn allocate, FirstBlockCommittedFn committed) {
    allocate_first_block_ = std::move(allocate);
    first_block_committed_ = std::move(committed);
  }
  const NamespaceOpsOptions& options() const { return options_; }

  void Mkdir(const cairn::v1::MkdirRequest& req, cairn::v1::MkdirResponse* resp, Done done);
  void CreateFile(const cairn::v1::CreateFileRequest& req, cairn::v1::CreateFileResponse* resp,
                  Done done);
  void CreateSymlink(const cairn::v1::CreateSymlinkRequest& req,
                     cairn::v1::CreateSymlinkResponse* resp, Done done);
  void GetFileInfo(const cairn::v1::GetFileInfoRequest& req,
                   cairn::v1::GetFileInfoResponse* resp, Done done);
  void ListDirectory(const cairn::v1::ListDirectoryRequest& req,
                     cairn::v1::ListDirectoryResponse* resp, Done done);
  void Rename(const cairn::v1::RenameRequest& req, cairn::v1::RenameResponse* resp, Done done);
  void Delete(const cairn::v1::DeleteRequest& req, cairn::v1::DeleteResponse* resp, Done done);
  void SetReplication(const cairn::v1::SetReplicationRequest& req,
                      cairn::v1::SetReplicationResponse* resp, Done done);
  void SetPermission(const cairn::v1::SetPermissionRequest& req,
                     cairn::v1::SetPermissionResponse* resp, Done done);
  void SetOwner(const cairn::v1::SetOwnerRequest& req, cairn::v1::SetOwnerResponse* resp,
                Done done);
  void SetTimes(const cairn::v1::SetTimesRequest& req, cairn::v1::SetTimesResponse* resp,
                Done done);

  // The store the mutations are committed to.
  NamespaceStore* store() const { return store_; }

 private:
  // Commits `fn`; on success calls blocks_removed_ with what `fn` collected, then `done`.
  void Mutate(absl::string_view op, const google::protobuf::Message& req,
              std::function<Status(Txn&, std::vector<cairn::v1::BlockRecord>*)> fn, Done done);
  // Applies `change` to the inode at `path` and bumps its ctime.
  void UpdateInode(absl::string_view op, const google::protobuf::Message& req,
                   const std::string& path,
                   std::function<Status(cairn::v1::InodeRecord&)> change, Done done);

  NamespaceStore* const store_;
  const NamespaceOpsOptions options_;
  BlocksRemovedFn blocks_removed_;
  std::function<bool()> read_only_;
  std::function<void(const std::string&, uint64_t)> file_opened_;
  std::function<void(std::vector<uint64_t>, uint32_t)> replication_changed_;
  FirstBlockFn allocate_first_block_;
  FirstBlockCommittedFn first_block_committed_;
};

}  // namespace cairn::namenode
