#include "datanode/heartbeater.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/channel_args.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "common/logging.h"

namespace cairn::datanode {

namespace {

cairn::v1::ReplicaReport ToReport(const ReplicaInfo& r) {
  cairn::v1::ReplicaReport rep;
  rep.mutable_block()->set_block_id(r.block_id);
  rep.mutable_block()->set_generation_stamp(r.generation_stamp);
  rep.mutable_block()->set_length_bytes(r.length);
  rep.set_state(r.state == ReplicaState::kFinalized ? cairn::v1::REPLICA_STATE_FINALIZED
                                                    : cairn::v1::REPLICA_STATE_BEING_WRITTEN);
  return rep;
}

template <typename Req, typename Resp, typename Method>
Status Call(cairn::v1::NameNodeService::Stub* stub, Method method, const Req& req, Resp* resp,
            int64_t timeout_ms) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  return FromGrpcStatus((stub->*method)(&ctx, req, resp));
}

}  // namespace

Heartbeater::Heartbeater(const DataNodeOptions& options, BlockStore* store,
                         HeartbeaterIdentity identity, std::atomic<int>* active_transfers,
                         ExecuteFn execute, ClusterIdFn on_cluster_id)
    : options_(options),
      store_(store),
      active_transfers_(active_transfers),
      execute_(std::move(execute)),
      on_cluster_id_(std::move(on_cluster_id)),
      identity_(std::move(identity)) {
  // Block reports of big DataNodes are large messages.
  grpc::ChannelArguments args = NameNodeChannelArgs(256 << 20);
  stub_ = cairn::v1::NameNodeService::NewStub(
      grpc::CreateCustomChannel(options_.namenode, grpc::InsecureChannelCredentials(), args));
}

Heartbeater::~Heartbeater() { Stop(); }

void Heartbeater::Start() { thread_ = std::thread([this] { Loop(); }); }

void Heartbeater::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool Heartbeater::registered() const {
  absl::MutexLock l(&mu_);
  return registered_;
}

void Heartbeater::TriggerNow() {
  absl::MutexLock l(&mu_);
  trigger_ = true;
}

void Heartbeater::RequestFullReport() {
  absl::MutexLock l(&mu_);
  full_report_ = true;
  trigger_ = true;
}

void Heartbeater::ReplicaFinalized(const ReplicaInfo& replica) {
  absl::MutexLock l(&mu_);
  received_.push_back(ToReport(replica));
}

void Heartbeater::ReplicaDeleted(uint64_t block_id, uint64_t generation_stamp) {
  absl::MutexLock l(&mu_);
  cairn::v1::Block b;
  b.set_block_id(block_id);
  b.set_generation_stamp(generation_stamp);
  deleted_.push_back(std::move(b));
}

void Heartbeater::TransferFailed(uint64_t block_id, const std::vector<std::string>& target_uuids) {
  absl::MutexLock l(&mu_);
  cairn::v1::FailedTransfer f;
  f.set_block_id(block_id);
  for (const auto& u : target_uuids) f.add_target_uuids(u);
  failed_transfers_.push_back(std::move(f));
}

static cairn::v1::StorageReport MakeStorageReport(BlockStore* store, int active) {
  VolumeReport v = store->Report();
  cairn::v1::StorageReport r;
  r.set_capacity_bytes(v.capacity);
  r.set_used_bytes(v.used);
  r.set_remaining_bytes(v.remaining);
  r.set_volumes(v.volumes);
  r.set_failed_volumes(v.failed_volumes);
  r.set_active_transfers(static_cast<uint32_t>(std::max(0, active)));
  return r;
}

Status Heartbeater::Register() {
  cairn::v1::RegisterDataNodeRequest req;
  {
    absl::MutexLock l(&mu_);
    req.set_cluster_id(identity_.cluster_id);
    req.set_datanode_uuid(identity_.uuid);
    req.set_address(identity_.address);
  }
  *req.mutable_storage() = MakeStorageReport(store_, active_transfers_->load());
  cairn::v1::RegisterDataNodeResponse resp;
  RETURN_IF_ERROR(Call(stub_.get(), &cairn::v1::NameNodeService::Stub::RegisterDataNode, req, &resp,
                       10000));
  epoch_ = resp.epoch();
  {
    absl::MutexLock l(&mu_);
    if (identity_.cluster_id != resp.cluster_id()) {
      identity_.cluster_id = resp.cluster_id();
      mu_.Unlock();
      on_cluster_id_(resp.cluster_id());
      mu_.Lock();
    }
    registered_ = true;
    // Anything queued is covered by the full report that follows (and a NameNode that lost
    // track of this node forgot the transfers it had scheduled).
    received_.clear();
    deleted_.clear();
    failed_transfers_.clear();
  }
  LOG(INFO) << "registered with NameNode " << options_.namenode << " (cluster "
            << resp.cluster_id() << ")";
  return SendFullReport();
}

Status Heartbeater::SendFullReport() {
  cairn::v1::ReportBlocksRequest req;
  req.set_datanode_uuid(identity_.uuid);
  for (const auto& r : store_->AllReplicas()) *req.add_replicas() = ToReport(r);
  cairn::v1::ReportBlocksResponse resp;
  return Call(stub_.get(), &cairn::v1::NameNodeService::Stub::ReportBlocks, req, &resp, 60000);
}

Status Heartbeater::SendIncremental() {
  cairn::v1::ReportIncrementalBlocksRequest req;
  {
    absl::MutexLock l(&mu_);
    if (received_.empty() && deleted_.empty() && failed_transfers_.empty()) {
      return absl::OkStatus();
    }
    req.set_datanode_uuid(identity_.uuid);
    for (auto& r : received_) *req.add_received() = std::move(r);
    for (auto& d : deleted_) *req.add_deleted() = std::move(d);
    for (auto& f : failed_transfers_) *req.add_failed_transfers() = std::move(f);
    received_.clear();
    deleted_.clear();
    failed_transfers_.clear();
  }
  cairn::v1::ReportIncrementalBlocksResponse resp;
  Status s = Call(stub_.get(), &cairn::v1::NameNodeService::Stub::ReportIncrementalBlocks, req,
                  &resp, 10000);
  if (!s.ok()) {
    // Keep them for the next try (a full report after re-registration covers them too).
    absl::MutexLock l(&mu_);
    for (auto& r : *req.mutable_received()) received_.push_back(std::move(r));
    for (auto& d : *req.mutable_deleted()) deleted_.push_back(std::move(d));
    for (auto& f : *req.mutable_failed_transfers()) failed_transfers_.push_back(std::move(f));
  }
  return s;
}

Status Heartbeater::SendHeartbeat() {
  cairn::v1::HeartbeatRequest req;
  req.set_datanode_uuid(identity_.uuid);
  *req.mutable_storage() = MakeStorageReport(store_, active_transfers_->load());
  cairn::v1::HeartbeatResponse resp;
  RETURN_IF_ERROR(Call(stub_.get(), &cairn::v1::NameNodeService::Stub::Heartbeat, req, &resp,
                       std::max<int64_t>(2000, options_.heartbeat_interval_ms * 2)));
  for (const auto& cmd : resp.commands()) {
    if (cmd.kind() == cairn::v1::DataNodeCommand::KIND_REREGISTER) {
      absl::MutexLock l(&mu_);
      registered_ = false;
      continue;
    }
    if (cmd.epoch() < epoch_.load()) {
      LOG(WARNING) << "ignoring a command from old NameNode epoch " << cmd.epoch();
      continue;
    }
    execute_(cmd);
  }
  return absl::OkStatus();
}

void Heartbeater::Loop() {
  int64_t next_heartbeat = 0;
  int64_t next_full_report = MonoMillis() + options_.block_report_interval_ms;
  while (true) {
    {
      absl::MutexLock l(&mu_);
      const int64_t wait_ms = std::max<int64_t>(0, next_heartbeat - MonoMillis());
      auto wake = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stop_ || trigger_ ||
               (registered_ &&
                (!received_.empty() || !deleted_.empty() || !failed_transfers_.empty()));
      };
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Milliseconds(wait_ms));
      if (stop_) return;
      if (trigger_) next_heartbeat = 0;
      trigger_ = false;
      if (full_report_) next_full_report = 0;
      full_report_ = false;
    }
    if (!registered()) {
      Status s = Register();
      if (!s.ok()) {
        LOG_EVERY_N(WARNING, 10) << "cannot register with NameNode " << options_.namenode << ": "
                                 << s;
        absl::MutexLock l(&mu_);
        registered_ = false;
        next_heartbeat = MonoMillis() + options_.heartbeat_interval_ms;
        continue;
      }
      next_full_report = MonoMillis() + options_.block_report_interval_ms;
    }
    SendIncremental().IgnoreError();
    const int64_t now = MonoMillis();
    if (now >= next_heartbeat) {
      Status s = SendHeartbeat();
      if (!s.ok()) {
        LOG_EVERY_N(WARNING, 10) << "heartbeat failed: " << s;
      }
      next_heartbeat = now + options_.heartbeat_interval_ms;
    }
    if (now >= next_full_report) {
      Status s = SendFullReport();
      if (!s.ok()) LOG(WARNING) << "block report failed: " << s;
      next_full_report = now + options_.block_report_interval_ms;
    }
  }
}

}  // namespace cairn::datanode
