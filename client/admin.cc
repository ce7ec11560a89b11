#include "client/cairn/admin.h"

#include <grpcpp/grpcpp.h>

#include "client/rpc_retry.h"
#include "proto/namenode.grpc.pb.h"

namespace cairn::client {
namespace {

using cairn::v1::NameNodeService;

class AdminImpl final : public Admin {
 public:
  AdminImpl(ClientOptions o, std::shared_ptr<grpc::Channel> ch)
      : options_(std::move(o)), stub_(NameNodeService::NewStub(ch)) {}

  StatusOr<std::vector<DataNodeStatus>> DataNodeReport() override {
    cairn::v1::GetDataNodeReportRequest req;
    cairn::v1::GetDataNodeReportResponse resp;
    RETURN_IF_ERROR(CallNameNode(stub_.get(), &NameNodeService::Stub::GetDataNodeReport, req, &resp,
                                 options_.rpc_timeout_ms, Idempotent::kYes));
    std::vector<DataNodeStatus> out;
    for (const auto& d : resp.datanodes()) {
      DataNodeStatus s;
      s.uuid = d.datanode_uuid();
      s.address = d.address();
      s.state = d.state();
      s.admin_state = d.admin_state();
      s.capacity = d.storage().capacity_bytes();
      s.used = d.storage().used_bytes();
      s.remaining = d.storage().remaining_bytes();
      s.failed_volumes = d.storage().failed_volumes();
      s.active_transfers = d.storage().active_transfers();
      s.blocks = d.blocks();
      s.last_heartbeat_age_ms = d.last_heartbeat_age_ms();
      out.push_back(std::move(s));
    }
    return out;
  }

  StatusOr<std::pair<bool, std::string>> SafeMode(SafeModeAction action) override {
    cairn::v1::SetSafeModeRequest req;
    req.set_action(action == SafeModeAction::kEnter   ? cairn::v1::SetSafeModeRequest::ACTION_ENTER
                   : action == SafeModeAction::kLeave ? cairn::v1::SetSafeModeRequest::ACTION_LEAVE
                                                      : cairn::v1::SetSafeModeRequest::ACTION_GET);
    cairn::v1::SetSafeModeResponse resp;
    RETURN_IF_ERROR(CallNameNode(stub_.get(), &NameNodeService::Stub::SetSafeMode, req, &resp,
                                 options_.rpc_timeout_ms, Idempotent::kYes));
    return std::make_pair(resp.on(), resp.description());
  }

  Status Decommission(const std::string& datanode) override {
    cairn::v1::DecommissionRequest req;
    req.set_datanode(datanode);
    cairn::v1::DecommissionResponse resp;
    return CallNameNode(stub_.get(), &NameNodeService::Stub::Decommission, req, &resp,
                        options_.rpc_timeout_ms, Idempotent::kYes);
  }

  StatusOr<FsckReport> Fsck(const std::string& path) override {
    cairn::v1::FsckRequest req;
    req.set_path(path);
    cairn::v1::FsckResponse resp;
    RETURN_IF_ERROR(CallNameNode(stub_.get(), &NameNodeService::Stub::Fsck, req, &resp,
                                 options_.rpc_timeout_ms, Idempotent::kYes));
    FsckReport r;
    r.files = resp.files();
    r.directories = resp.directories();
    r.blocks = resp.blocks();
    r.total_bytes = resp.total_bytes();
    r.under_replicated = resp.under_replicated_blocks();
    r.missing = resp.missing_blocks();
    r.corrupt = resp.corrupt_blocks();
    r.healthy = resp.healthy();
    for (const auto& f : resp.unhealthy_files()) {
      FsckFileReport ff;
      ff.path = f.path();
      ff.length = f.length_bytes();
      ff.replication = f.replication();
      ff.blocks = f.blocks();
      ff.problems.assign(f.problems().begin(), f.problems().end());
      r.unhealthy_files.push_back(std::move(ff));
    }
    return r;
  }

 private:
  ClientOptions options_;
  std::unique_ptr<NameNodeService::Stub> stub_;
};

}  // namespace

StatusOr<std::unique_ptr<Admin>> Admin::Connect(const ClientOptions& options) {
  auto ch = grpc::CreateCustomChannel(options.namenode, grpc::InsecureChannelCredentials(),
                                      NameNodeChannelArgs());
  if (!ch->WaitForConnected(std::chrono::system_clock::now() +
                            std::chrono::milliseconds(std::min<int64_t>(
                                options.rpc_timeout_ms, options.connect_timeout_ms)))) {
    return absl::UnavailableError("cannot reach the NameNode at " + options.namenode);
  }
  return std::unique_ptr<Admin>(new AdminImpl(options, std::move(ch)));
}

}  // namespace cairn::client
