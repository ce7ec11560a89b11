#include "datanode/datanode.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/datanode_channels.h"
#include "common/info_file.h"
#include "common/logging.h"
#include "datanode/background_tasks.h"
#include "datanode/block_store.h"
#include "datanode/data_service.h"
#include "datanode/heartbeater.h"
#include "datanode/local_read_server.h"
#include "datanode/replicator.h"
#include "proto/namenode.grpc.pb.h"

namespace cairn::datanode {

DataNode::DataNode(DataNodeOptions options) : options_(std::move(options)) {}

DataNode::~DataNode() { Shutdown(); }

Status DataNode::LoadIdentity() {
  const std::string dir = options_.volumes[0];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = dir + "/VERSION";
  auto values = ReadInfoFile(path);
  if (values.ok()) {
    uuid_ = (*values)["datanode_uuid"];
    cluster_id_ = (*values)["cluster_id"];
  }
  if (uuid_.empty()) {
    std::random_device rd;
    uuid_ = absl::StrCat("DN-", absl::Hex(rd(), absl::kZeroPad8), absl::Hex(rd(), absl::kZeroPad8));
    RETURN_IF_ERROR(WriteInfoFile(path, {{"datanode_uuid", uuid_}, {"cluster_id", cluster_id_}}));
  }
  return absl::OkStatus();
}

void DataNode::SaveClusterId(const std::string& cluster_id) {
  cluster_id_ = cluster_id;
  Status s = WriteInfoFile(options_.volumes[0] + "/VERSION",
                           {{"datanode_uuid", uuid_}, {"cluster_id", cluster_id_}});
  if (!s.ok()) LOG(WARNING) << "cannot persist the cluster id: " << s;
}

std::string DataNode::address() const { return absl::StrCat(options_.bind_host, ":", port_); }

bool DataNode::registered() const { return heartbeater_ && heartbeater_->registered(); }

Status DataNode::Start() {
  RETURN_IF_ERROR(options_.Validate());
  RETURN_IF_ERROR(LoadIdentity());
  BlockStoreOptions bso;
  bso.volumes = options_.volumes;
  bso.bytes_per_checksum = options_.bytes_per_checksum;
  bso.fsync_on_finalize = options_.fsync_on_finalize;
  bso.direct_io = options_.direct_io;
  bso.file_pool_size = options_.file_pool_size;
  bso.reserved_bytes_per_volume = options_.reserved_bytes_per_volume;
  bso.capacity_bytes_per_volume_for_tests = options_.capacity_bytes_per_volume_for_tests;
  ASSIGN_OR_RETURN(store_, BlockStore::Open(bso));
  channels_ = std::make_unique<DataNodeChannels>(options_.peer_keepalive_ms);
  background_ = std::make_unique<BackgroundTasks>();

  heartbeater_ = std::make_unique<Heartbeater>(
      options_, store_.get(), HeartbeaterIdentity{uuid_, "", cluster_id_}, &active_transfers_,
      [this](const cairn::v1::DataNodeCommand& c) { Execute(c); },
      [this](const std::string& cid) { SaveClusterId(cid); });
  PipelineEnv env;
  env.store = store_.get();
  env.listener = heartbeater_.get();
  env.channels = channels_.get();
  env.background = background_.get();
  env.options = &options_;
  env.self_uuid = uuid_;
  env.active_transfers = &active_transfers_;
  Heartbeater* hb = heartbeater_.get();
  service_ = std::make_unique<DataServiceImpl>(env, [hb] { return hb->epoch(); });

  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(options_.bind_host, ":", options_.port),
                           grpc::InsecureServerCredentials(), &port_);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  builder.RegisterService(service_.get());
  AllowDataKeepalive(&builder);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.bind_host, ":", options_.port));
  }
  if (options_.local_reads) {
    local_reads_ = std::make_unique<LocalReadServer>(store_.get(), uuid_);
    if (Status s = local_reads_->Start(port_); !s.ok()) {
      LOG(WARNING) << "no short-circuit local reads: " << s;
      local_reads_.reset();
    }
  }
  heartbeater_->set_address(address());
  heartbeater_->Start();
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
  LOG(INFO) << "DataNode " << uuid_ << " serving on " << address() << ", volumes "
            << options_.volumes.size() << ", NameNode " << options_.namenode;
  return absl::OkStatus();
}

void DataNode::Shutdown() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (maintenance_.joinable()) maintenance_.join();
  if (local_reads_) local_reads_->Stop();
  if (heartbeater_) heartbeater_->Stop();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
  if (background_) background_->WaitAll();
  server_.reset();
  service_.reset();
  heartbeater_.reset();
  background_.reset();
  channels_.reset();
  store_.reset();
}

uint64_t DataNode::local_read_grants() const {
  return local_reads_ ? local_reads_->grants() : 0;
}

void DataNode::TriggerHeartbeatForTests() {
  if (heartbeater_) heartbeater_->TriggerNow();
}

void DataNode::Execute(const cairn::v1::DataNodeCommand& cmd) {
  switch (cmd.kind()) {
    case cairn::v1::DataNodeCommand::KIND_DELETE:
      for (const auto& b : cmd.blocks()) {
        auto info = store_->GetReplica(b.block_id());
        if (!info.ok() || info->generation_stamp > b.generation_stamp()) continue;
        Status s = store_->DeleteReplica(b.block_id());
        if (s.ok()) {
          heartbeater_->ReplicaDeleted(b.block_id(), info->generation_stamp);
        } else {
          LOG(WARNING) << "cannot delete blk_" << b.block_id() << ": " << s;
        }
      }
      break;
    case cairn::v1::DataNodeCommand::KIND_REPLICATE: {
      if (cmd.blocks_size() != 1 || cmd.targets_size() == 0) break;
      if (replications_.load() >= options_.max_replication_streams) {
        heartbeater_->TransferFailed(cmd.blocks(0).block_id(), {});
        break;
      }
      ++replications_;
      cairn::v1::Block block = cmd.blocks(0);
      std::vector<cairn::v1::DataNodeId> targets(cmd.targets().begin(), cmd.targets().end());
      background_->Run([this, block, targets] {
        PipelineEnv env;
        env.store = store_.get();
        env.channels = channels_.get();
        env.options = &options_;
        env.self_uuid = uuid_;
        ++active_transfers_;
        Status s = TransferReplica(env, block, targets, 10 * 60 * 1000);
        --active_transfers_;
        --replications_;
        if (s.code() == absl::StatusCode::kDataLoss) {
          ReportCorrupt(block.block_id(), block.generation_stamp());
        }
        if (!s.ok()) {
          LOG(WARNING) << "replication of blk_" << block.block_id() << " failed: " << s;
          std::vector<std::string> uuids;
          for (const auto& t : targets) uuids.push_back(t.datanode_uuid());
          heartbeater_->TransferFailed(block.block_id(), uuids);
        } else {
          VLOG(1) << "replicated blk_" << block.block_id() << " to " << targets[0].address();
        }
      });
      break;
    }
    default:
      break;
  }
}

void DataNode::ReportCorrupt(uint64_t block_id, uint64_t gs) {
  auto stub = cairn::v1::NameNodeService::NewStub(
      grpc::CreateChannel(options_.namenode, grpc::InsecureChannelCredentials()));
  cairn::v1::ReportBadBlocksRequest req;
  auto* r = req.add_replicas();
  r->mutable_block()->set_block_id(block_id);
  r->mutable_block()->set_generation_stamp(gs);
  r->set_datanode_uuid(uuid_);
  cairn::v1::ReportBadBlocksResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = stub->ReportBadBlocks(&ctx, req, &resp);
  if (!s.ok()) LOG(WARNING) << "cannot report corrupt blk_" << block_id << ": " << s.error_message();
}

void DataNode::ScanOnce(uint64_t bytes_per_sec) {
  absl::MutexLock scan(&scan_mu_);
  for (const auto& r : store_->AllReplicas()) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
    }
    if (r.state != ReplicaState::kFinalized) continue;
    Status s = store_->VerifyReplica(r.block_id, bytes_per_sec);
    if (s.code() == absl::StatusCode::kDataLoss) {
      LOG(WARNING) << "block scanner: " << s;
      ReportCorrupt(r.block_id, r.generation_stamp);
    }
  }
}

void DataNode::ScanNowForTests() { ScanOnce(0); }

void DataNode::MaintenanceLoop() {
  int64_t next_scan = MonoMillis() + std::min<int64_t>(options_.scan_period_ms, 60000);
  int64_t next_volume_check = MonoMillis() + options_.volume_check_interval_ms;
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    const int64_t wake = std::min(next_scan, next_volume_check);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                         absl::Milliseconds(std::max<int64_t>(1, wake - MonoMillis())));
    if (stopping_) break;
    const int64_t now = MonoMillis();
    mu_.Unlock();
    if (now >= next_volume_check) {
      store_->CheckVolumes();
      const uint32_t failed = store_->Report().failed_volumes;
      if (failed > failed_volumes_seen_) {
        LOG(WARNING) << failed << " volume(s) failed: sending a full block report";
        heartbeater_->RequestFullReport();
      }
      failed_volumes_seen_ = failed;
      next_volume_check = now + options_.volume_check_interval_ms;
    }
    if (now >= next_scan) {
      ScanOnce(options_.scan_bytes_per_sec);
      next_scan = MonoMillis() + options_.scan_period_ms;
    }
    mu_.Lock();
  }
}

}  // namespace cairn::datanode
