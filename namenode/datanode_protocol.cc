#include "namenode/datanode_protocol.h"

#include "absl/strings/str_cat.h"

namespace cairn::namenode {
namespace {

Status NotRegistered(const std::string& uuid) {
  return absl::FailedPreconditionError(
      absl::StrCat("DataNode '", uuid, "' is not registered; register first"));
}

}  // namespace

void DataNodeProtocol::RegisterDataNode(const cairn::v1::RegisterDataNodeRequest& req,
                                        cairn::v1::RegisterDataNodeResponse* resp, Done done) {
  done(datanodes_->Register(req, resp));
}

void DataNodeProtocol::Heartbeat(const cairn::v1::HeartbeatRequest& req,
                                 cairn::v1::HeartbeatResponse* resp, Done done) {
  datanodes_->Heartbeat(req, resp);
  done(absl::OkStatus());
}

void DataNodeProtocol::ReportBlocks(const cairn::v1::ReportBlocksRequest& req,
                                    cairn::v1::ReportBlocksResponse*, Done done) {
  if (!datanodes_->IsRegistered(req.datanode_uuid())) return done(NotRegistered(req.datanode_uuid()));
  blocks_->ProcessFullReport(req.datanode_uuid(), req.replicas());
  done(absl::OkStatus());
}

void DataNodeProtocol::ReportIncrementalBlocks(
    const cairn::v1::ReportIncrementalBlocksRequest& req,
    cairn::v1::ReportIncrementalBlocksResponse*, Done done) {
  if (!datanodes_->IsRegistered(req.datanode_uuid())) return done(NotRegistered(req.datanode_uuid()));
  blocks_->ProcessIncremental(req);
  if (req.failed_transfers_size() > 0) {
    datanodes_->AddFailedTransfers(req.datanode_uuid(), req.failed_transfers());
  }
  done(absl::OkStatus());
}

}  // namespace cairn::namenode
