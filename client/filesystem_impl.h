// FileSystemImpl: the FileSystem behind cairn::client::FileSystem::Connect. Thread-safe.
#pragma once

#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"

#include "client/cairn/client.h"
#include "client/meta_batcher.h"
#include "proto/namenode.grpc.pb.h"

namespace cairn::client {

}  // namespace cairn::client
namespace cairn {
class DataNodeChannels;
}
namespace cairn::client {

class LocalReplicas;

class FileSystemImpl final : public FileSystem {
 public:
  FileSystemImpl(ClientOptions options, std::shared_ptr<grpc::Channel> channel);
  ~FileSystemImpl() override;

  Status Mkdir(const std::string& path, bool parents, uint32_t mode) override;
  StatusOr<FileStatus> MakeDirectory(const std::string& path, uint32_t mode,
                                     const std::string& owner, const std::string& group,
                                     FileStatus* parent_after) override;
  StatusOr<FileStatus> Stat(const std::string& path) override;
  Status ListPage(const std::string& path, const std::string& start_after, uint32_t limit,
                  std::vector<FileStatus>* out, bool* has_more) override;
  StatusOr<std::vector<FileStatus>> List(const std::string& path) override;
  Status Rename(const std::string& src, const std::string& dst, bool no_replace) override;
  Status Delete(const std::string& path, bool recursive, FileStatus* parent_after) override;
  Status SetReplication(const std::string& path, uint32_t replication) override;
  Status SetPermission(const std::string& path, uint32_t mode) override;
  Status SetOwner(const std::string& path, const std::string& owner,
                  const std::string& group) override;
  Status SetTimes(const std::string& path, std::optional<int64_t> mtime_ms,
                  std::optional<int64_t> atime_ms) override;
  Status CreateSymlink(const std::string& target, const std::string& link_path) override;
  Status Touch(const std::string& path) override;
  StatusOr<std::unique_ptr<OutputStream>> Create(const std::string& path,
                                                 const CreateOptions& options) override;
  StatusOr<std::unique_ptr<InputStream>> Open(const std::string& path) override;
  StatusOr<std::vector<BlockInfo>> GetBlocks(const std::string& path) override;
  StatusOr<FsStats> GetFsStats() override;
  const ClientOptions& options() const override { return options_; }

  // Output streams call these so that leases are renewed while any file is open.
  void LeaseOpened();
  void LeaseClosed();

  // For the streams.
  cairn::v1::NameNodeService::Stub* namenode() { return stub_.get(); }
  DataNodeChannels* datanodes() { return datanodes_.get(); }
  // Null when local reads are off.
  LocalReplicas* local_replicas() { return local_replicas_.get(); }

 private:
  // "" owner / group = this client's.
  cairn::v1::MkdirRequest MkdirRequestFor(const std::string& path, bool parents, uint32_t mode,
                                          const std::string& owner,
                                          const std::string& group) const;
  template <typename Req, typename Resp>
  Status Call(grpc::Status (cairn::v1::NameNodeService::Stub::*method)(grpc::ClientContext*,
                                                                       const Req&, Resp*),
              const Req& req, Resp* resp, bool idempotent);

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<cairn::v1::NameNodeService::Stub> stub_;
  std::unique_ptr<DataNodeChannels> datanodes_;
  std::unique_ptr<LocalReplicas> local_replicas_;
  std::unique_ptr<MetaBatcher> batcher_;  // null: no batching

  void RenewLoop();
  absl::Mutex lease_mu_;
  int open_writers_ ABSL_GUARDED_BY(lease_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(lease_mu_) = false;
  std::thread renewer_;
};

FileStatus ToFileStatus(const cairn::v1::FileInfo& info);
cairn::v1::AckMode ToProtoAckMode(AckMode mode);

}  // namespace cairn::client
