#include "client/filesystem_impl.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "client/local_reads.h"
#include "common/datanode_channels.h"
#include "client/input_stream.h"
#include "client/output_stream.h"
#include "client/rpc_retry.h"
#include "common/logging.h"
#include "common/clock.h"

namespace cairn::client {

using cairn::v1::NameNodeService;

namespace {

std::string EffectiveUser() {
  if (struct passwd* pw = getpwuid(geteuid())) return pw->pw_name;
  return std::to_string(geteuid());
}

std::string EffectiveGroup() {
  if (struct group* gr = getgrgid(getegid())) return gr->gr_name;
  return std::to_string(getegid());
}

}  // namespace

FileStatus ToFileStatus(const cairn::v1::FileInfo& info) {
  FileStatus st;
  st.inode_id = info.inode_id();
  st.type = info.type() == cairn::v1::FILE_TYPE_DIRECTORY ? FileType::kDirectory
            : info.type() == cairn::v1::FILE_TYPE_SYMLINK ? FileType::kSymlink
                                                           : FileType::kFile;
  st.name = info.name();
  st.length = info.length_bytes();
  st.replication = info.replication();
  st.block_size = info.block_size_bytes();
  st.mode = info.mode();
  st.owner = info.owner();
  st.group = info.group();
  st.mtime_ms = info.mtime_ms();
  st.atime_ms = info.atime_ms();
  st.ctime_ms = info.ctime_ms();
  st.children = info.children_count();
  st.symlink_target = info.symlink_target();
  st.under_construction = info.under_construction();
  switch (info.ack_mode()) {
    case cairn::v1::ACK_MODE_SYNC: st.ack_mode = AckMode::kSync; break;
    case cairn::v1::ACK_MODE_SEMI_SYNC: st.ack_mode = AckMode::kSemiSync; break;
    case cairn::v1::ACK_MODE_ASYNC: st.ack_mode = AckMode::kAsync; break;
    default: st.ack_mode = AckMode::kDefault; break;
  }
  return st;
}

cairn::v1::AckMode ToProtoAckMode(AckMode mode) {
  switch (mode) {
    case AckMode::kSync: return cairn::v1::ACK_MODE_SYNC;
    case AckMode::kSemiSync: return cairn::v1::ACK_MODE_SEMI_SYNC;
    case AckMode::kAsync: return cairn::v1::ACK_MODE_ASYNC;
    default: return cairn::v1::ACK_MODE_UNSPECIFIED;
  }
}

StatusOr<std::unique_ptr<FileSystem>> FileSystem::Connect(const ClientOptions& options) {
  if (options.namenode.empty()) return absl::InvalidArgumentError("empty NameNode address");
  ClientOptions o = options;
  if (o.user.empty()) o.user = EffectiveUser();
  if (o.group.empty()) o.group = EffectiveGroup();
  if (o.client_name.empty()) {
    std::random_device rd;
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    o.client_name = absl::StrCat("cairn-client-", host, "-", getpid(), "-", absl::Hex(rd()));
  }
  if (o.rpc_timeout_ms <= 0) return absl::InvalidArgumentError("rpc timeout must be positive");
  grpc::ChannelArguments args = NameNodeChannelArgs();
  // Each FileSystem gets its own connection (benchmarks open many).
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  auto channel = grpc::CreateCustomChannel(o.namenode, grpc::InsecureChannelCredentials(), args);
  const int64_t connect_ms = std::min<int64_t>(o.rpc_timeout_ms, o.connect_timeout_ms);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(connect_ms))) {
    return absl::UnavailableError(absl::StrCat("cannot reach the NameNode at ", o.namenode));
  }
  return std::unique_ptr<FileSystem>(new FileSystemImpl(std::move(o), std::move(channel)));
}

FileSystemImpl::FileSystemImpl(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(NameNodeService::NewStub(channel_)),
      datanodes_(std::make_unique<DataNodeChannels>()) {
  if (options_.local_reads) local_replicas_ = std::make_unique<LocalReplicas>();
  if (options_.metadata_rpcs_in_flight > 0) {
    batcher_ = std::make_unique<MetaBatcher>(stub_.get(), options_.metadata_rpcs_in_flight,
                                             options_.rpc_timeout_ms);
  }
}

FileSystemImpl::~FileSystemImpl() {
  {
    absl::MutexLock l(&lease_mu_);
    stopping_ = true;
  }
  if (renewer_.joinable()) renewer_.join();
}

void FileSystemImpl::LeaseOpened() {
  absl::MutexLock l(&lease_mu_);
  if (open_writers_++ == 0 && !renewer_.joinable()) {
    renewer_ = std::thread([this] { RenewLoop(); });
  }
}

void FileSystemImpl::LeaseClosed() {
  absl::MutexLock l(&lease_mu_);
  --open_writers_;
}

void FileSystemImpl::RenewLoop() {
  absl::MutexLock l(&lease_mu_);
  while (!stopping_) {
    lease_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                               absl::Milliseconds(options_.lease_renew_interval_ms));
    if (stopping_ || open_writers_ == 0) continue;
    lease_mu_.Unlock();
    cairn::v1::RenewLeaseRequest req;
    req.set_client_name(options_.client_name);
    cairn::v1::RenewLeaseResponse resp;
    Status s = Call(&NameNodeService::Stub::RenewLease, req, &resp, true);
    if (!s.ok()) VLOG(1) << "lease renewal failed: " << s;
    lease_mu_.Lock();
  }
}

StatusOr<std::unique_ptr<OutputStream>> FileSystemImpl::Create(const std::string& path,
                                                               const CreateOptions& options) {
  cairn::v1::CreateFileRequest req;
  req.set_path(path);
  req.set_replication(options.replication);
  req.set_block_size_bytes(options.block_size);
  req.set_mode(options.mode);
  req.set_owner(options_.user);
  req.set_group(options_.group);
  req.set_overwrite(options.overwrite);
  req.set_create_parents(options.create_parents);
  req.set_truncate_existing(options.truncate_existing);
  req.set_expected_inode_id(options.expected_inode_id);
  req.set_ack_mode(ToProtoAckMode(options.ack == AckMode::kDefault ? options_.default_ack
                                                                    : options.ack));
  req.set_client_name(options_.client_name);
  req.set_allocate_first_block(options.allocate_first_block);
  cairn::v1::CreateFileResponse resp;
  RETURN_IF_ERROR(Call(&NameNodeService::Stub::CreateFile, req, &resp, false));
  if (options.parent_after && resp.has_parent()) {
    *options.parent_after = ToFileStatus(resp.parent());
  }
  return std::unique_ptr<OutputStream>(new OutputStreamImpl(
      this, path, resp.info(), resp.has_first_block() ? &resp.first_block() : nullptr));
}

StatusOr<std::unique_ptr<InputStream>> FileSystemImpl::Open(const std::string& path) {
  return InputStreamImpl::Open(this, path);
}

template <typename Req, typename Resp>
Status FileSystemImpl::Call(
    grpc::Status (NameNodeService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
    const Req& req, Resp* resp, bool idempotent) {
  if constexpr (BatchSlot<Req>::kBatchable) {
    if (batcher_) {
      cairn::v1::BatchOp op;
      *BatchSlot<Req>::In(&op) = req;
      cairn::v1::BatchResult result;
      RETURN_IF_ERROR(batcher_->Run(std::move(op), idempotent, &result));
      resp->Swap(BatchSlot<Req>::Out(&result));
      return absl::OkStatus();
    }
  }
  return CallNameNode(stub_.get(), method, req, resp, options_.rpc_timeout_ms,
                      idempotent ? Idempotent::kYes : Idempotent::kNo);
}

Status FileSystemImpl::Mkdir(const std::string& path, bool parents, uint32_t mode) {
  cairn::v1::MkdirResponse resp;
  return Call(&NameNodeService::Stub::Mkdir, MkdirRequestFor(path, parents, mode, "", ""), &resp,
              parents);
}

StatusOr<FileStatus> FileSystemImpl::MakeDirectory(const std::string& path, uint32_t mode,
                                                   const std::string& owner,
                                                   const std::string& group,
                                                   FileStatus* parent_after) {
  cairn::v1::MkdirResponse resp;
  RETURN_IF_ERROR(Call(&NameNodeService::Stub::Mkdir,
                       MkdirRequestFor(path, false, mode, owner, group), &resp, false));
  if (parent_after && resp.has_parent()) *parent_after = ToFileStatus(resp.parent());
  return ToFileStatus(resp.info());
}

cairn::v1::MkdirRequest FileSystemImpl::MkdirRequestFor(const std::string& path, bool parents,
                                                        uint32_t mode, const std::string& owner,
                                                        const std::string& group) const {
  cairn::v1::MkdirRequest req;
  req.set_path(path);
  req.set_parents(parents);
  req.set_mode(mode);
  req.set_owner(owner.empty() ? options_.user : owner);
  req.set_group(group.empty() ? options_.group : group);
  return req;
}

StatusOr<FileStatus> FileSystemImpl::Stat(const std::string& path) {
  cairn::v1::GetFileInfoRequest req;
  req.set_path(path);
  cairn::v1::GetFileInfoResponse resp;
  RETURN_IF_ERROR(Call(&NameNodeService::Stub::GetFileInfo, req, &resp, true));
  return ToFileStatus(resp.info());
}

Status FileSystemImpl::ListPage(const std::string& path, const std::string& start_after,
                                uint32_t limit, std::vector<FileStatus>* out, bool* has_more) {
  cairn::v1::ListDirectoryRequest req;
  req.set_path(path);
  req.set_start_after(start_after);
  req.set_limit(limit);
  cairn::v1::ListDirectoryResponse resp;
  RETURN_IF_ERROR(Call(&NameNodeService::Stub::ListDirectory, req, &resp, true));
  for (const auto& e : resp.entries()) out->push_back(ToFileStatus(e));
  *has_more = resp.has_more();
  return absl::OkStatus();
}

StatusOr<std::vector<FileStatus>> FileSystemImpl::List(const std::string& path) {
  std::vector<FileStatus> all;
  bool more = true;
  while (more) {
    const std::string after = all.empty() ? std::string() : all.back().name;
    RETURN_IF_ERROR(ListPage(path, after, 5000, &all, &more));
  }
  return all;
}

Status FileSystemImpl::Rename(const std::string& src, const std::string& dst, bool no_replace) {
  cairn::v1::RenameRequest req;
  req.set_src(src);
  req.set_dst(dst);
  req.set_no_replace(no_replace);
  cairn::v1::RenameResponse resp;
  return Call(&NameNodeService::Stub::Rename, req, &resp, false);
}

Status FileSystemImpl::Delete(const std::string& path, bool recursive, FileStatus* parent_after) {
  cairn::v1::DeleteRequest req;
  req.set_path(path);
  req.set_recursive(recursive);
  cairn::v1::DeleteResponse resp;
  RETURN_IF_ERROR(Call(&NameNodeService::Stub::Delete, req, &resp, false));
  if (parent_after && resp.has_parent()) *parent_after = ToFileStatus(resp.parent());
  return absl::OkStatus();
}

Status FileSystemImpl::SetReplication(const std::string& path, uint32_t replication) {
  cairn::v1::SetReplicationRequest req;
  req.set_path(path);
  req.set_replication(replication);
  cairn::v1::SetReplicationResponse resp;
  return Call(&NameNodeService::Stub::SetReplication, req, &resp, true);
}

Status FileSystemImpl::SetPermission(const std::string& path, uint32_t mode) {
  cairn::v1::SetPermissionRequest req;
  req.set_path(path);
  req.set_mode(mode);
  cairn::v1::SetPermissionResponse resp;
  return Call(&NameNodeService::Stub::SetPermission, req, &resp, true);
}

Status FileSystemImpl::SetOwner(const std::string& path, const std::string& owner,
                                const std::string& group) {
  cairn::v1::SetOwnerRequest req;
  req.set_path(path);
  req.set_owner(owner);
  req.set_group(group);
  cairn::v1::SetOwnerResponse resp;
  return Call(&NameNodeService::Stub::SetOwner, req, &resp, true);
}

Status FileSystemImpl::SetTimes(const std::string& path, std::optional<int64_t> mtime_ms,
                                std::optional<int64_t> atime_ms) {
  cairn::v1::SetTimesRequest req;
  req.set_path(path);
  if (mtime_ms) req.set_mtime_ms(*mtime_ms);
  if (atime_ms) req.set_atime_ms(*atime_ms);
  cairn::v1::SetTimesResponse resp;
  return Call(&NameNodeService::Stub::SetTimes, req, &resp, true);
}

Status FileSystemImpl::CreateSymlink(const std::string& target, const std::string& link_path) {
  cairn::v1::CreateSymlinkRequest req;
  req.set_path(link_path);
  req.set_target(target);
  req.set_owner(options_.user);
  req.set_group(options_.group);
  cairn::v1::CreateSymlinkResponse resp;
  return Call(&NameNodeService::Stub::CreateSymlink, req, &resp, false);
}

Status FileSystemImpl::Touch(const std::string& path) {
  cairn::v1::CreateFileRequest req;
  req.set_path(path);
  req.set_owner(options_.user);
  req.set_group(options_.group);
  cairn::v1::CreateFileResponse resp;
  Status s = Call(&NameNodeService::Stub::CreateFile, req, &resp, false);
  // Something is there already (a file, a symlink or a directory): touch its times.
  if (s.code() != absl::StatusCode::kAlreadyExists && PosixName(s) != "EISDIR") return s;
  const int64_t now = WallMillis();
  return SetTimes(path, now, now);
}

StatusOr<FsStats> FileSystemImpl::GetFsStats() {
  cairn::v1::GetFsStatsRequest req;
  cairn::v1::GetFsStatsResponse resp;
  RETURN_IF_ERROR(Call(&NameNodeService::Stub::GetFsStats, req, &resp, true));
  FsStats st;
  st.capacity = resp.capacity_bytes();
  st.used = resp.used_bytes();
  st.remaining = resp.remaining_bytes();
  st.live_datanodes = resp.live_datanodes();
  st.dead_datanodes = resp.dead_datanodes();
  st.files = resp.files();
  st.blocks = resp.blocks();
  return st;
}

StatusOr<std::vector<BlockInfo>> FileSystemImpl::GetBlocks(const std::string& path) {
  cairn::v1::GetBlockLocationsRequest req;
  req.set_path(path);
  cairn::v1::GetBlockLocationsResponse resp;
  RETURN_IF_ERROR(Call(&NameNodeService::Stub::GetBlockLocations, req, &resp, true));
  std::vector<BlockInfo> out;
  for (const auto& lb : resp.blocks()) {
    BlockInfo b;
    b.block_id = lb.block().block_id();
    b.generation_stamp = lb.block().generation_stamp();
    b.offset = lb.offset_bytes();
    b.length = lb.block().length_bytes();
    b.corrupt = lb.corrupt();
    for (const auto& dn : lb.locations()) b.datanodes.push_back(dn.address());
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace cairn::client
