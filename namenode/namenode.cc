#include "namenode/namenode.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/clock.h"
#include "namenode/admin_ops.h"
#include "namenode/block_manager.h"
#include "namenode/replication_monitor.h"
#include "namenode/datanode_manager.h"
#include "namenode/datanode_protocol.h"
#include "namenode/file_ops.h"
#include "namenode/lease_manager.h"
#include "namenode/namenode_service.h"
#include "namenode/namespace_ops.h"
#include "namenode/namespace_store.h"
#include "namenode/safe_mode.h"

namespace cairn::namenode {

NameNode::NameNode(NameNodeOptions options) : options_(std::move(options)) {}

NameNode::~NameNode() { Shutdown(); }

Status NameNode::LoadClusterId() {
  const std::string path = options_.dir + "/CLUSTER_ID";
  std::ifstream in(path);
  std::string stored;
  if (in) std::getline(in, stored);
  if (!stored.empty()) {
    if (!options_.cluster_id.empty() && options_.cluster_id != stored) {
      return absl::FailedPreconditionError(absl::StrCat(
          options_.dir, " belongs to cluster ", stored, ", not ", options_.cluster_id));
    }
    cluster_id_ = stored;
    return absl::OkStatus();
  }
  cluster_id_ = options_.cluster_id;
  if (cluster_id_.empty()) {
    std::random_device rd;
    cluster_id_ = absl::StrCat("CID-", absl::Hex(rd()), absl::Hex(rd()));
  }
  std::ofstream out(path, std::ios::trunc);
  out << cluster_id_ << "\n";
  if (!out.flush()) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

Status NameNode::Start() {
  RETURN_IF_ERROR(options_.Validate());
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(options_.dir, ": ", ec.message()));
  RETURN_IF_ERROR(LoadClusterId());

  NamespaceStoreOptions so;
  so.dir = options_.dir + "/meta";
  so.sync = options_.sync_metadata;
  so.read_cache_entries = options_.read_cache_entries;
  so.journal_retain_txns = options_.journal_retain_txns;
  so.log_preallocate_bytes = options_.log_preallocate_bytes;
  ASSIGN_OR_RETURN(store_, NamespaceStore::Open(so));
  ns_ = std::make_unique<NamespaceOps>(store_.get(), options_.namespace_ops);

  DataNodeManagerOptions dmo;
  dmo.cluster_id = cluster_id_;
  dmo.stale_after_ms = options_.stale_after_ms;
  dmo.dead_after_ms = options_.dead_after_ms;
  datanodes_ = std::make_unique<DataNodeManager>(dmo, MonoMillis);
  blocks_ = std::make_unique<BlockManager>(datanodes_.get());
  leases_ = std::make_unique<LeaseManager>(MonoMillis);
  RETURN_IF_ERROR(store_->ForEachInode([this](const cairn::v1::InodeRecord& inode) {
    if (inode.type() != cairn::v1::FILE_TYPE_FILE) return;
    blocks_->LoadFile(inode);
    if (!inode.lease_holder().empty()) leases_->Add(inode.lease_holder(), inode.inode_id());
  }));
  safemode_ = std::make_unique<SafeMode>(blocks_.get(), options_.safemode_threshold,
                                         options_.safemode_extension_ms, MonoMillis);
  safemode_->Update();
  files_ = std::make_unique<FileOps>(store_.get(), blocks_.get(), datanodes_.get(), leases_.get(),
                                     safemode_.get());
  dn_protocol_ = std::make_unique<DataNodeProtocol>(datanodes_.get(), blocks_.get());
  ns_->set_read_only_gate([this] { return safemode_->InSafeMode(); });
  ns_->set_blocks_removed([this](std::vector<cairn::v1::BlockRecord> removed) {
    blocks_->Remove(removed);
  });
  ns_->set_file_opened([this](const std::string& client, uint64_t inode_id) {
    leases_->Add(client, inode_id);
  });
  ns_->set_first_block(
      [this](Txn& txn, cairn::v1::InodeRecord* file, const std::string& client_address,
             cairn::v1::LocatedBlock* out) {
        return files_->AllocateFirstBlock(txn, file, client_address, out);
      },
      [this](const cairn::v1::LocatedBlock& block, uint64_t inode_id, uint32_t replication) {
        files_->FirstBlockCommitted(block, inode_id, replication);
      });
  ns_->set_replication_changed([this](std::vector<uint64_t> ids, uint32_t replication) {
    blocks_->SetReplication(ids, replication);
  });
  replication_ = std::make_unique<ReplicationMonitor>(
      blocks_.get(), datanodes_.get(), options_.max_replication_streams_per_node,
      options_.pending_replication_timeout_ms, MonoMillis);
  admin_ = std::make_unique<AdminOps>(store_.get(), blocks_.get(), datanodes_.get(), safemode_.get());
  service_ = std::make_unique<NameNodeServer>(ns_.get(), files_.get(), dn_protocol_.get(),
                                              admin_.get());

  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(options_.bind_host, ":", options_.port),
                           grpc::InsecureServerCredentials(), &port_);
  service_->Register(&builder, options_.rpc_threads);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.bind_host, ":", options_.port));
  }
  service_->Start();
  monitor_ = std::thread([this] { MonitorLoop(); });
  LOG(INFO) << "NameNode " << cluster_id_ << " serving on " << options_.bind_host << ":" << port_
            << ", metadata in " << options_.dir << ", last txid " << store_->last_txid();
  return absl::OkStatus();
}

void NameNode::MonitorLoop() {
  absl::MutexLock l(&monitor_mu_);
  while (!stopping_) {
    monitor_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                 absl::Milliseconds(options_.replication_check_interval_ms));
    if (stopping_) break;
    monitor_mu_.Unlock();
    RunMonitorOnce();
    monitor_mu_.Lock();
  }
}

void NameNode::RunMonitorOnce() {
  for (const auto& uuid : datanodes_->CheckLiveness()) blocks_->RemoveDataNode(uuid);
  safemode_->Update();
  if (!safemode_->InSafeMode()) {
    replication_->Run();
    for (const auto& [client, inode_id] : leases_->Expired(options_.lease_hard_limit_ms)) {
      Status s = files_->RecoverLease(client, inode_id);
      if (!s.ok()) LOG(WARNING) << "lease recovery of inode " << inode_id << ": " << s;
    }
    // Every tenth round (one lookup per open file).
    if (++monitor_rounds_ % 10 == 0) files_->DropStaleLeases();
  }
}

void NameNode::Shutdown() {
  {
    absl::MutexLock l(&monitor_mu_);
    stopping_ = true;
  }
  if (monitor_.joinable()) monitor_.join();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
  }
  // Mutations still queued answer through the completion queues: let them finish first.
  if (store_) store_->Barrier();
  if (service_) service_->Stop();
  server_.reset();
  service_.reset();
  store_.reset();
  admin_.reset();
  replication_.reset();
  dn_protocol_.reset();
  files_.reset();
  safemode_.reset();
  ns_.reset();
  blocks_.reset();
  leases_.reset();
  datanodes_.reset();
}

}  // namespace cairn::namenode
