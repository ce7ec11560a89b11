#include "namenode/file_ops.h"

#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/datanode_channels.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "proto/datanode.grpc.pb.h"

namespace cairn::namenode {

using cairn::v1::BlockRecord;
using cairn::v1::InodeRecord;

namespace {

// The file a writer addresses: by inode id when given (it survives renames), else by path.
StatusOr<InodeRecord> FindFile(Txn& txn, const std::string& path, uint64_t inode_id) {
  if (inode_id != 0) {
    ASSIGN_OR_RETURN(std::optional<InodeRecord> inode, txn.FindInode(inode_id));
    if (!inode) return absl::NotFoundError(absl::StrCat(path, ": file was deleted"));
    return *inode;
  }
  return txn.Resolve(path);
}

// The file, checked to be under construction with `client` holding its lease.
StatusOr<InodeRecord> FileForWriter(Txn& txn, const std::string& path, uint64_t inode_id,
                                    const std::string& client) {
  ASSIGN_OR_RETURN(InodeRecord inode, FindFile(txn, path, inode_id));
  if (inode.type() == cairn::v1::FILE_TYPE_DIRECTORY) {
    return IsADirectoryError(absl::StrCat(path, ": is a directory"));
  }
  if (inode.type() != cairn::v1::FILE_TYPE_FILE) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  if (inode.lease_holder().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": file is not open for writing"));
  }
  if (inode.lease_holder() != client) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": lease is held by another writer (", inode.lease_holder(), ")"));
  }
  return inode;
}

uint64_t SumLengths(const InodeRecord& inode) {
  uint64_t n = 0;
  for (const auto& b : inode.blocks()) n += b.length_bytes();
  return n;
}

Status CheckLastBlock(const InodeRecord& inode, const cairn::v1::Block& b, const std::string& path) {
  if (inode.blocks_size() == 0 || inode.blocks().rbegin()->block_id() != b.block_id()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": blk_", b.block_id(), " is not the file's last block"));
  }
  if (inode.blocks().rbegin()->generation_stamp() != b.generation_stamp()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": blk_", b.block_id(), " has generation stamp ",
        inode.blocks().rbegin()->generation_stamp(), ", not ", b.generation_stamp()));
  }
  return absl::OkStatus();
}

// Whether `last` (the file's last block) may be closed with `length` bytes: not beyond the
// block size, not below what readers may have seen (hflush, never checked against the
// replicas), and exactly its length if it is complete already (a retried or repeated call).
Status CheckFinalLength(const BlockRecord& last, uint64_t length, uint64_t block_size,
                        absl::string_view path) {
  if (length > block_size) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": blk_", last.block_id(), " of ",
                                                   length, " bytes is longer than the block size ",
                                                   block_size));
  }
  if (last.state() == cairn::v1::BLOCK_STATE_COMPLETE) {
    if (length == last.length_bytes()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(path, ": blk_", last.block_id(),
                                                      " is complete with ", last.length_bytes(),
                                                      " bytes, not ", length));
  }
  if (length < last.length_bytes()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": blk_", last.block_id(), " has ", last.length_bytes(),
        " bytes visible; cannot close it with ", length));
  }
  return absl::OkStatus();
}

}  // namespace

FileOps::FileOps(NamespaceStore* store, BlockManager* blocks, DataNodeManager* datanodes,
                 LeaseManager* leases, const SafeModeGate* safemode)
    : store_(store), blocks_(blocks), datanodes_(datanodes), leases_(leases), safemode_(safemode) {}

Status FileOps::CheckWritable() const {
  if (safemode_ && safemode_->InSafeMode()) {
    return absl::UnavailableError("NameNode is in safemode (read-only); try again later");
  }
  return absl::OkStatus();
}

Status FileOps::AllocateBlock(Txn& txn, InodeRecord* inode, const std::set<std::string>& excluded,
                              const std::string& client_address, cairn::v1::LocatedBlock* out) {
  ASSIGN_OR_RETURN(auto targets, datanodes_->ChooseTargets(inode->replication(), excluded,
                                                           client_address,
                                                           inode->block_size_bytes()));
  BlockRecord* b = inode->add_blocks();
  b->set_block_id(txn.NewBlockId());
  b->set_generation_stamp(txn.NewGenerationStamp());
  b->set_length_bytes(0);
  b->set_state(cairn::v1::BLOCK_STATE_UNDER_CONSTRUCTION);
  inode->set_length_bytes(SumLengths(*inode));
  inode->set_mtime_ms(txn.now_ms());
  out->mutable_block()->set_block_id(b->block_id());
  out->mutable_block()->set_generation_stamp(b->generation_stamp());
  out->set_offset_bytes(inode->length_bytes());
  out->set_under_construction(true);
  for (auto& t : targets) *out->add_locations() = std::move(t);
  return absl::OkStatus();
}

bool FileOps::AllocateFirstBlock(Txn& txn, InodeRecord* file, const std::string& client_address,
                                 cairn::v1::LocatedBlock* out) {
  // (The create itself was refused already in safemode.)
  if (file->blocks_size() == 0 && AllocateBlock(txn, file, {}, client_address, out).ok()) {
    return true;
  }
  out->Clear();
  return false;
}

void FileOps::FirstBlockCommitted(const cairn::v1::LocatedBlock& block, uint64_t inode_id,
                                  uint32_t replication) {
  std::vector<std::string> pipeline;
  for (const auto& t : block.locations()) pipeline.push_back(t.datanode_uuid());
  blocks_->AddUnderConstruction(block.block().block_id(), inode_id,
                                block.block().generation_stamp(), replication, pipeline);
}

void FileOps::AddBlock(const cairn::v1::AddBlockRequest& req, cairn::v1::AddBlockResponse* resp,
                       Done done) {
  if (Status s = CheckWritable(); !s.ok()) return done(s);
  struct Result {
    bool has_previous = false;
    BlockRecord previous;
    uint64_t inode_id = 0;
    uint32_t replication = 0;
    std::vector<std::string> pipeline;
  };
  auto result = std::make_shared<Result>();
  store_->Commit(
      "AddBlock", req,
      [this, &req, resp, result](Txn& txn) -> Status {
        ASSIGN_OR_RETURN(InodeRecord inode,
                         FileForWriter(txn, req.path(), req.inode_id(), req.client_name()));
        result->has_previous = false;
        if (req.has_previous()) {
          RETURN_IF_ERROR(CheckLastBlock(inode, req.previous(), req.path()));
          BlockRecord* last = inode.mutable_blocks(inode.blocks_size() - 1);
          RETURN_IF_ERROR(CheckFinalLength(*last, req.previous().length_bytes(),
                                           inode.block_size_bytes(), req.path()));
          if (last->state() != cairn::v1::BLOCK_STATE_COMPLETE) {
            last->set_length_bytes(req.previous().length_bytes());
            last->set_state(cairn::v1::BLOCK_STATE_COMPLETE);
            result->has_previous = true;
            result->previous = *last;
          }
        } else if (inode.blocks_size() > 0 &&
                   inode.blocks().rbegin()->state() != cairn::v1::BLOCK_STATE_COMPLETE) {
          return absl::InvalidArgumentError(
              absl::StrCat(req.path(), ": the last block is still being written; pass it as previous"));
        }
        std::set<std::string> excluded(req.excluded_datanodes().begin(),
                                       req.excluded_datanodes().end());
        resp->clear_block();
        RETURN_IF_ERROR(
            AllocateBlock(txn, &inode, excluded, req.client_address(), resp->mutable_block()));
        txn.PutInode(inode);
        result->pipeline.clear();
        for (const auto& t : resp->block().locations()) result->pipeline.push_back(t.datanode_uuid());
        result->inode_id = inode.inode_id();
        result->replication = inode.replication();
        return absl::OkStatus();
      },
      [this, resp, result, done = std::move(done)](Status s) {
        if (s.ok()) {
          if (result->has_previous) {
            blocks_->Commit(result->previous.block_id(), result->previous.generation_stamp(),
                            result->previous.length_bytes());
          }
          const auto& b = resp->block().block();
          blocks_->AddUnderConstruction(b.block_id(), result->inode_id, b.generation_stamp(),
                                        result->replication, result->pipeline);
        }
        done(std::move(s));
      });
}

void FileOps::CompleteFile(const cairn::v1::CompleteFileRequest& req,
                           cairn::v1::CompleteFileResponse* resp, Done done) {
  if (Status s = CheckWritable(); !s.ok()) return done(s);
  // A file deleted while open: its writer is done with it; its lease entry goes now rather
  // than at the next sweep (DropStaleLeases).
  done = [this, &req, done = std::move(done)](Status s) {
    if (s.code() == absl::StatusCode::kNotFound && req.inode_id() != 0) {
      leases_->Remove(req.client_name(), req.inode_id());
    }
    done(std::move(s));
  };
  bool already_closed = false;  // a retried call: the mutation answers it without waiting
  {
    // Only the lease holder may complete (checked again in the mutation).
    auto inode = req.inode_id() != 0 ? store_->GetInode(req.inode_id()) : store_->ResolvePath(req.path());
    if (!inode.ok()) return done(inode.status());
    already_closed = inode->lease_holder().empty();
    if (!inode->lease_holder().empty() && inode->lease_holder() != req.client_name()) {
      return done(absl::FailedPreconditionError(absl::StrCat(
          req.path(), ": lease is held by another writer (", inode->lease_holder(), ")")));
    }
    if (req.has_last() && req.last().length_bytes() > inode->block_size_bytes()) {
      return done(absl::InvalidArgumentError(absl::StrCat(
          req.path(), ": a last block of ", req.last().length_bytes(),
          " bytes is longer than the block size ", inode->block_size_bytes())));
    }
  }
  if (!already_closed && req.has_last() && req.last().length_bytes() > 0) {
    // The last block needs one finalized replica of the declared length first (an empty one
    // is dropped below).
    BlockEntry entry;
    if (blocks_->Get(req.last().block_id(), &entry)) {
      int finalized = 0;
      for (const auto& [uuid, r] : entry.replicas) {
        if (r.finalized && !r.corrupt && r.generation_stamp == req.last().generation_stamp() &&
            r.length == req.last().length_bytes() && datanodes_->IsUsableSource(uuid)) {
          ++finalized;
        }
      }
      if (finalized == 0) {
        resp->set_complete(false);
        return done(absl::OkStatus());
      }
    }
  }
  struct Result {
    uint64_t inode_id = 0;
    bool closed = false;
    BlockRecord last;
    bool has_last = false;
    bool dropped_last = false;  // `last` was allocated, never written, and is gone
  };
  auto result = std::make_shared<Result>();
  store_->Commit(
      "CompleteFile", req,
      [&req, resp, result](Txn& txn) -> Status {
        ASSIGN_OR_RETURN(InodeRecord inode, FindFile(txn, req.path(), req.inode_id()));
        if (inode.lease_holder().empty() && inode.type() == cairn::v1::FILE_TYPE_FILE) {
          // Already closed (a retried call, or lease recovery closed it): fine if the file
          // ends as the caller wrote it -- the same last block with the same length (lease
          // recovery may have given it a new generation stamp) -- or the empty last block was
          // dropped. A file that ends elsewhere lacks bytes the caller wrote: saying OK would
          // lose them silently.
          auto has_block = [&inode](uint64_t id) {
            for (const auto& b : inode.blocks()) {
              if (b.block_id() == id) return true;
            }
            return false;
          };
          if (!req.has_last() ||
              (req.last().length_bytes() == 0 && !has_block(req.last().block_id()))) {
            resp->set_complete(true);
            return absl::OkStatus();
          }
          if (inode.blocks_size() > 0 &&
              inode.blocks().rbegin()->block_id() == req.last().block_id()) {
            const uint64_t kept = inode.blocks().rbegin()->length_bytes();
            if (kept == req.last().length_bytes()) {
              resp->set_complete(true);
              return absl::OkStatus();
            }
            return absl::FailedPreconditionError(absl::StrCat(
                req.path(), ": the file was closed without this writer (lease recovery) with ",
                kept, " bytes in its last block, not ", req.last().length_bytes()));
          }
        }
        ASSIGN_OR_RETURN(inode, FileForWriter(txn, req.path(), req.inode_id(), req.client_name()));
        result->has_last = false;
        result->dropped_last = false;
        if (req.has_last()) {
          RETURN_IF_ERROR(CheckLastBlock(inode, req.last(), req.path()));
          BlockRecord* last = inode.mutable_blocks(inode.blocks_size() - 1);
          result->last = *last;
          if (req.last().length_bytes() == 0 &&
              last->state() != cairn::v1::BLOCK_STATE_COMPLETE && last->length_bytes() == 0) {
            // Allocated (e.g. with the create) and never written: no replica to wait for.
            inode.mutable_blocks()->RemoveLast();
            result->dropped_last = true;
          } else {
            RETURN_IF_ERROR(CheckFinalLength(*last, req.last().length_bytes(),
                                             inode.block_size_bytes(), req.path()));
            if (last->state() != cairn::v1::BLOCK_STATE_COMPLETE) {
              last->set_length_bytes(req.last().length_bytes());
              last->set_state(cairn::v1::BLOCK_STATE_COMPLETE);
              result->last = *last;
              result->has_last = true;
            }
          }
        } else if (inode.blocks_size() > 0 &&
                   inode.blocks().rbegin()->state() != cairn::v1::BLOCK_STATE_COMPLETE) {
          return absl::InvalidArgumentError(
              absl::StrCat(req.path(), ": the last block is still being written; pass it as last"));
        }
        inode.set_length_bytes(SumLengths(inode));
        inode.clear_lease_holder();
        inode.set_mtime_ms(txn.now_ms());
        txn.PutInode(inode);
        result->inode_id = inode.inode_id();
        result->closed = true;
        resp->set_complete(true);
        return absl::OkStatus();
      },
      [this, &req, result, done = std::move(done)](Status s) {
        if (s.ok() && result->closed) {
          if (result->has_last) {
            blocks_->Commit(result->last.block_id(), result->last.generation_stamp(),
                            result->last.length_bytes());
          }
          if (result->dropped_last) blocks_->Remove({result->last});
          leases_->Remove(req.client_name(), result->inode_id);
        }
        done(std::move(s));
      });
}

void FileOps::AbandonBlock(const cairn::v1::AbandonBlockRequest& req,
                           cairn::v1::AbandonBlockResponse*, Done done) {
  if (Status s = CheckWritable(); !s.ok()) return done(s);
  auto removed = std::make_shared<BlockRecord>();
  store_->Commit(
      "AbandonBlock", req,
      [&req, removed](Txn& txn) -> Status {
        ASSIGN_OR_RETURN(InodeRecord inode,
                         FileForWriter(txn, req.path(), req.inode_id(), req.client_name()));
        RETURN_IF_ERROR(CheckLastBlock(inode, req.block(), req.path()));
        if (inode.blocks().rbegin()->state() == cairn::v1::BLOCK_STATE_COMPLETE) {
          return absl::FailedPreconditionError(
              absl::StrCat(req.path(), ": cannot abandon a complete block"));
        }
        *removed = *inode.blocks().rbegin();
        inode.mutable_blocks()->RemoveLast();
        inode.set_length_bytes(SumLengths(inode));
        txn.PutInode(inode);
        return absl::OkStatus();
      },
      [this, removed, done = std::move(done)](Status s) {
        if (s.ok()) blocks_->Remove({*removed});
        done(std::move(s));
      });
}

void FileOps::GetBlockLocations(const cairn::v1::GetBlockLocationsRequest& req,
                                cairn::v1::GetBlockLocationsResponse* resp, Done done) {
  auto inode = store_->ResolvePath(req.path());
  if (!inode.ok()) return done(inode.status());
  if (inode->type() == cairn::v1::FILE_TYPE_DIRECTORY) {
    return done(IsADirectoryError(absl::StrCat(req.path(), ": is a directory")));
  }
  ToFileInfo(*inode, resp->mutable_info());
  const uint64_t end = req.length_bytes() == 0 || req.length_bytes() > UINT64_MAX - req.offset_bytes()
                           ? UINT64_MAX
                           : req.offset_bytes() + req.length_bytes();
  uint64_t offset = 0;
  for (const auto& rec : inode->blocks()) {
    const uint64_t block_end = offset + rec.length_bytes();
    const bool uc = rec.state() != cairn::v1::BLOCK_STATE_COMPLETE;
    if ((block_end > req.offset_bytes() || (uc && block_end >= req.offset_bytes())) && offset < end) {
      auto* lb = resp->add_blocks();
      if (!blocks_->Locate(rec.block_id(), lb).ok()) {
        lb->mutable_block()->set_block_id(rec.block_id());
        lb->mutable_block()->set_generation_stamp(rec.generation_stamp());
        lb->set_under_construction(uc);
      }
      // The namespace's length is what readers may see (hflush'ed length while writing).
      lb->mutable_block()->set_length_bytes(rec.length_bytes());
      lb->set_offset_bytes(offset);
    }
    offset = block_end;
  }
  done(absl::OkStatus());
}

void FileOps::RenewLease(const cairn::v1::RenewLeaseRequest& req, cairn::v1::RenewLeaseResponse*,
                         Done done) {
  leases_->Renew(req.client_name());
  done(absl::OkStatus());
}

void FileOps::ReportBadBlocks(const cairn::v1::ReportBadBlocksRequest& req,
                              cairn::v1::ReportBadBlocksResponse*, Done done) {
  for (const auto& r : req.replicas()) {
    blocks_->MarkCorrupt(r.block().block_id(), r.block().generation_stamp(), r.datanode_uuid());
  }
  done(absl::OkStatus());
}

void FileOps::UpdateLength(const cairn::v1::UpdateLengthRequest& req,
                           cairn::v1::UpdateLengthResponse*, Done done) {
  if (Status s = CheckWritable(); !s.ok()) return done(s);
  store_->Commit(
      "UpdateLength", req,
      [&req](Txn& txn) -> Status {
        ASSIGN_OR_RETURN(InodeRecord inode,
                         FileForWriter(txn, req.path(), req.inode_id(), req.client_name()));
        RETURN_IF_ERROR(CheckLastBlock(inode, req.last(), req.path()));
        BlockRecord* last = inode.mutable_blocks(inode.blocks_size() - 1);
        if (last->state() == cairn::v1::BLOCK_STATE_COMPLETE) {
          if (req.last().length_bytes() == last->length_bytes()) return absl::OkStatus();
          return absl::FailedPreconditionError(absl::StrCat(
              req.path(), ": blk_", last->block_id(), " is complete with ", last->length_bytes(),
              " bytes"));
        }
        if (req.last().length_bytes() > inode.block_size_bytes()) {
          return absl::InvalidArgumentError(absl::StrCat(req.path(), ": length beyond block size"));
        }
        if (req.last().length_bytes() <= last->length_bytes()) return absl::OkStatus();
        last->set_length_bytes(req.last().length_bytes());
        inode.set_length_bytes(SumLengths(inode));
        inode.set_mtime_ms(txn.now_ms());
        txn.PutInode(inode);
        return absl::OkStatus();
      },
      [this, &req, done = std::move(done)](Status s) {
        if (s.ok()) blocks_->UpdateLength(req.last().block_id(), req.last().length_bytes());
        done(std::move(s));
      });
}

void FileOps::UpdatePipeline(const cairn::v1::UpdatePipelineRequest& req,
                             cairn::v1::UpdatePipelineResponse* resp, Done done) {
  if (Status s = CheckWritable(); !s.ok()) return done(s);
  std::vector<std::string> survivors(req.survivor_uuids().begin(), req.survivor_uuids().end());
  if (survivors.empty()) {
    return done(absl::InvalidArgumentError("pipeline recovery needs at least one DataNode"));
  }
  for (const auto& u : survivors) {
    if (!datanodes_->IsRegistered(u)) {
      return done(absl::InvalidArgumentError(absl::StrCat("unknown DataNode ", u)));
    }
  }
  store_->Commit(
      "UpdatePipeline", req,
      [this, &req, resp, survivors](Txn& txn) -> Status {
        ASSIGN_OR_RETURN(InodeRecord inode,
                         FileForWriter(txn, req.path(), req.inode_id(), req.client_name()));
        RETURN_IF_ERROR(CheckLastBlock(inode, req.block(), req.path()));
        BlockRecord* last = inode.mutable_blocks(inode.blocks_size() - 1);
        if (last->state() == cairn::v1::BLOCK_STATE_COMPLETE) {
          return absl::FailedPreconditionError(absl::StrCat(req.path(), ": block is complete"));
        }
        last->set_generation_stamp(txn.NewGenerationStamp());
        txn.PutInode(inode);
        resp->set_new_generation_stamp(last->generation_stamp());
        resp->clear_pipeline();
        for (const auto& u : survivors) {
          auto* id = resp->add_pipeline();
          id->set_datanode_uuid(u);
          id->set_address(datanodes_->AddressOf(u));
        }
        return absl::OkStatus();
      },
      [this, &req, resp, survivors, done = std::move(done)](Status s) {
        if (s.ok()) {
          blocks_->UpdatePipeline(req.block().block_id(), resp->new_generation_stamp(), survivors);
        }
        done(std::move(s));
      });
}

void FileOps::GetFsStats(const cairn::v1::GetFsStatsRequest&, cairn::v1::GetFsStatsResponse* resp,
                         Done done) {
  for (const auto& n : datanodes_->Snapshot()) {
    if (n.liveness == Liveness::kDead) {
      resp->set_dead_datanodes(resp->dead_datanodes() + 1);
      continue;
    }
    resp->set_live_datanodes(resp->live_datanodes() + 1);
    resp->set_capacity_bytes(resp->capacity_bytes() + n.storage.capacity_bytes());
    resp->set_used_bytes(resp->used_bytes() + n.storage.used_bytes());
    resp->set_remaining_bytes(resp->remaining_bytes() + n.storage.remaining_bytes());
  }
  const BlockCounts c = blocks_->Counts();
  resp->set_blocks(c.total + c.under_construction);
  resp->set_files(store_->inode_count());
  done(absl::OkStatus());
}

size_t FileOps::DropStaleLeases() {
  size_t dropped = 0;
  for (const LeaseManager::Entry& e : leases_->All()) {
    auto inode = store_->GetInode(e.inode_id);
    if (inode.ok() ? inode->lease_holder() == e.client : !absl::IsNotFound(inode.status())) {
      continue;  // held, or unknown (a read error): kept
    }
    // (Unless the writer closed and took it again meanwhile: that entry is live.)
    leases_->RemoveIfUnchanged(e);
    ++dropped;
  }
  return dropped;
}

Status FileOps::RecoverLease(const std::string& client, uint64_t inode_id) {
  auto inode = store_->GetInode(inode_id);
  if (!inode.ok() || inode->lease_holder() != client) {
    leases_->Remove(client, inode_id);
    return absl::OkStatus();
  }
  // The last block, if it is under construction, needs its replicas to agree.
  bool has_uc = inode->blocks_size() > 0 &&
                inode->blocks().rbegin()->state() != cairn::v1::BLOCK_STATE_COMPLETE;
  BlockRecord last;
  std::vector<std::string> holders;
  uint64_t agreed = UINT64_MAX;
  if (has_uc) {
    last = *inode->blocks().rbegin();
    BlockEntry entry;
    if (blocks_->Get(last.block_id(), &entry)) {
      holders = entry.pipeline;
      for (const auto& [uuid, r] : entry.replicas) {
        if (std::find(holders.begin(), holders.end(), uuid) == holders.end()) holders.push_back(uuid);
      }
    }
    DataNodeChannels channels;
    std::vector<std::string> responders;
    std::vector<std::pair<std::string, uint64_t>> replies;
    for (const auto& uuid : holders) {
      const std::string addr = datanodes_->AddressOf(uuid);
      if (addr.empty() || !datanodes_->IsUsableSource(uuid)) continue;
      cairn::v1::GetReplicaInfoRequest rq;
      rq.mutable_block()->set_block_id(last.block_id());
      cairn::v1::GetReplicaInfoResponse rs;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      grpc::Status gs = channels.Get(addr)->GetReplicaInfo(&ctx, rq, &rs);
      if (!gs.ok() || rs.block().generation_stamp() < last.generation_stamp()) continue;
      replies.emplace_back(uuid, rs.block().length_bytes());
    }
    // Bytes readers may already have seen (hflush) must survive: replicas shorter than the
    // visible length (an async follower lagging behind) are left out, unless all are.
    bool any_long = false;
    for (const auto& [uuid, len] : replies) any_long |= len >= last.length_bytes();
    for (const auto& [uuid, len] : replies) {
      if (any_long && len < last.length_bytes()) continue;
      agreed = std::min(agreed, len);
      responders.push_back(uuid);
    }
    if (responders.empty()) {
      if (last.length_bytes() > 0) {
        return absl::UnavailableError(absl::StrCat("lease recovery of inode ", inode_id,
                                                   ": no replica of blk_", last.block_id(),
                                                   " reachable"));
      }
      agreed = 0;  // nothing was ever visible: drop the empty block
    }
    // A new generation stamp first, so that late writes of the old writer are refused.
    cairn::v1::UpdatePipelineRequest journal;
    journal.set_inode_id(inode_id);
    uint64_t new_gs = 0;
    RETURN_IF_ERROR(store_->CommitAndWait("RecoverLeaseStamp", journal, [&](Txn& txn) -> Status {
      ASSIGN_OR_RETURN(std::optional<InodeRecord> cur, txn.FindInode(inode_id));
      if (!cur || cur->blocks_size() == 0 ||
          cur->blocks().rbegin()->block_id() != last.block_id()) {
        return absl::AbortedError("file changed during lease recovery");
      }
      new_gs = txn.NewGenerationStamp();
      cur->mutable_blocks(cur->blocks_size() - 1)->set_generation_stamp(new_gs);
      txn.PutInode(*cur);
      return absl::OkStatus();
    }));
    blocks_->UpdatePipeline(last.block_id(), new_gs, responders);
    int committed = 0;
    for (const auto& uuid : responders) {
      cairn::v1::RecoverReplicaRequest rq;
      rq.mutable_block()->set_block_id(last.block_id());
      rq.mutable_block()->set_generation_stamp(new_gs);
      rq.mutable_block()->set_length_bytes(agreed);
      rq.set_epoch(datanodes_->epoch());
      cairn::v1::RecoverReplicaResponse rs;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      grpc::Status gs = channels.Get(datanodes_->AddressOf(uuid))->RecoverReplica(&ctx, rq, &rs);
      if (gs.ok()) {
        ++committed;
      } else {
        LOG(WARNING) << "lease recovery: " << uuid << " refused blk_" << last.block_id() << ": "
                     << gs.error_message();
      }
    }
    if (committed == 0 && agreed > 0) {
      return absl::UnavailableError("lease recovery: no DataNode committed the recovered block");
    }
    last.set_generation_stamp(new_gs);
    last.set_length_bytes(agreed);
  }
  cairn::v1::CompleteFileRequest journal;
  journal.set_inode_id(inode_id);
  journal.set_client_name(client);
  bool drop_last = has_uc && agreed == 0;
  RETURN_IF_ERROR(store_->CommitAndWait("RecoverLease", journal, [&](Txn& txn) -> Status {
    ASSIGN_OR_RETURN(std::optional<InodeRecord> cur, txn.FindInode(inode_id));
    if (!cur || cur->lease_holder() != client) return absl::OkStatus();
    if (has_uc) {
      if (drop_last) {
        cur->mutable_blocks()->RemoveLast();
      } else {
        BlockRecord* b = cur->mutable_blocks(cur->blocks_size() - 1);
        b->set_generation_stamp(last.generation_stamp());
        b->set_length_bytes(last.length_bytes());
        b->set_state(cairn::v1::BLOCK_STATE_COMPLETE);
      }
    }
    cur->set_length_bytes(SumLengths(*cur));
    cur->clear_lease_holder();
    cur->set_mtime_ms(txn.now_ms());
    txn.PutInode(*cur);
    return absl::OkStatus();
  }));
  if (has_uc) {
    if (drop_last) {
      blocks_->Remove({last});
    } else {
      blocks_->Commit(last.block_id(), last.generation_stamp(), last.length_bytes());
    }
  }
  leases_->Remove(client, inode_id);
  LOG(INFO) << "lease recovery closed inode " << inode_id << " of " << client
            << (has_uc ? absl::StrCat(", last block length ", agreed) : std::string());
  return absl::OkStatus();
}

}  // namespace cairn::namenode
