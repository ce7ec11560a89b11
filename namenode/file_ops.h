// FileOps: the NameNode's data-path operations (add/abandon/complete blocks, block locations,
// leases, hflush lengths, pipeline recovery, bad replica reports, capacity). Each operation
// takes its request, fills its response and reports through `done` (mutations on the
// thread that commits them, see namespace_store.h). Knows nothing about gRPC. Thread-safe.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "namenode/block_manager.h"
#include "namenode/datanode_manager.h"
#include "namenode/lease_manager.h"
#include "namenode/namespace_store.h"
#include "proto/namenode.pb.h"

namespace cairn::namenode {

// Read-only until enough blocks are reported (see SafeMode in namenode.h). Answers
// UNAVAILABLE for mutations while on.
class SafeModeGate {
 public:
  virtual ~SafeModeGate() = default;
  virtual bool InSafeMode() const = 0;
};

class FileOps {
 public:
  using Done = std::function<void(Status)>;
  // All pointers must outlive this object.
  FileOps(NamespaceStore* store, BlockManager* blocks, DataNodeManager* datanodes,
          LeaseManager* leases, const SafeModeGate* safemode);

  void AddBlock(const cairn::v1::AddBlockRequest& req, cairn::v1::AddBlockResponse* resp,
                Done done);
  void CompleteFile(const cairn::v1::CompleteFileRequest& req,
                    cairn::v1::CompleteFileResponse* resp, Done done);
  void AbandonBlock(const cairn::v1::AbandonBlockRequest& req,
                    cairn::v1::AbandonBlockResponse* resp, Done done);
  void GetBlockLocations(const cairn::v1::GetBlockLocationsRequest& req,
                         cairn::v1::GetBlockLocationsResponse* resp, Done done);
  void RenewLease(const cairn::v1::RenewLeaseRequest& req, cairn::v1::RenewLeaseResponse* resp,
                  Done done);
  void ReportBadBlocks(const cairn::v1::ReportBadBlocksRequest& req,
                       cairn::v1::ReportBadBlocksResponse* resp, Done done);
  void UpdateLength(const cairn::v1::UpdateLengthRequest& req,
                    cairn::v1::UpdateLengthResponse* resp, Done done);
  void UpdatePipeline(const cairn::v1::UpdatePipelineRequest& req,
                      cairn::v1::UpdatePipelineResponse* resp, Done done);
  void GetFsStats(const cairn::v1::GetFsStatsRequest& req, cairn::v1::GetFsStatsResponse* resp,
                  Done done);

  // The first block of a file being created (CreateFileRequest.allocate_first_block), inside
  // the create's transaction: adds an under-construction block to `file` (not put) and
  // describes it in `out`. False, changing nothing, if no DataNodes can take it. Commit thread.
  bool AllocateFirstBlock(Txn& txn, cairn::v1::InodeRecord* file,
                          const std::string& client_address, cairn::v1::LocatedBlock* out);
  // After that create committed: the block manager learns of the block.
  void FirstBlockCommitted(const cairn::v1::LocatedBlock& block, uint64_t inode_id,
                           uint32_t replication);

  // Lease recovery of one file whose writer went away: the replicas of its last block agree
  // on the length every one of them has, under a new generation stamp, and the file is
  // closed. Blocking (talks to DataNodes); call from a background thread. OK when the file is
  // closed (or gone); UNAVAILABLE to try again later.
  Status RecoverLease(const std::string& client, uint64_t inode_id);
  // Drops the lease entries of files that are gone or no longer held by that client (deleted,
  // replaced or renamed over while open); returns how many. Their writers' clients may go on
  // renewing other leases for days, so expiry alone would keep them.
  size_t DropStaleLeases();

 private:
  Status CheckWritable() const;
  // Adds an under-construction block, with targets for it, to `inode` (not put); `out`
  // describes it.
  Status AllocateBlock(Txn& txn, cairn::v1::InodeRecord* inode,
                       const std::set<std::string>& excluded, const std::string& client_address,
                       cairn::v1::LocatedBlock* out);

  NamespaceStore* const store_;
  BlockManager* const blocks_;
  DataNodeManager* const datanodes_;
  LeaseManager* const leases_;
  const SafeModeGate* const safemode_;
};

}  // namespace cairn::namenode
