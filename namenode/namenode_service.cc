#include "namenode/namenode_service.h"

#include "common/grpc_status.h"

namespace cairn::namenode {

grpc::Status NameNodeServiceImpl::ToGrpc(const Status& s) { return ToGrpcStatus(s); }

}  // namespace cairn::namenode
