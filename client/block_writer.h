// BlockWriter: the client end of one block's write pipeline. Sends packets, keeps every
// packet until it is acknowledged, and recovers from DataNode failures by asking the NameNode
// for a new generation stamp for the surviving DataNodes and resending what was not
// acknowledged. Not thread-safe (one writer thread), apart from its internal ack reader.
#pragma once

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "client/cairn/client.h"
#include "proto/datanode.grpc.pb.h"
#include "proto/namenode.grpc.pb.h"

namespace cairn::client {

class FileSystemImpl;

struct BlockWriterTarget {
  std::string path;
  uint64_t inode_id = 0;
  cairn::v1::AckMode ack_mode = cairn::v1::ACK_MODE_SYNC;
  uint64_t block_size = 0;
};

class BlockWriter {
 public:
  // `fs` must outlive this. `block` comes from AddBlock (block id, stamp and pipeline).
  BlockWriter(FileSystemImpl* fs, BlockWriterTarget target, const cairn::v1::LocatedBlock& block);
  ~BlockWriter();

  // Sends `data` as the packet at the block's current end; `last` finalizes the block;
  // `sync` asks every DataNode to fsync. Returns once the packet is sent (not acknowledged),
  // unless the pipeline failed beyond repair.
  Status Send(std::string data, bool last, bool sync);
  // Waits until every packet sent so far is acknowledged per the ack mode (recovering from
  // failures on the way).
  Status WaitAll();
  // After the last packet was acknowledged: ends the stream gracefully.
  void Finish();
  // The block with its current generation stamp and the bytes acknowledged so far.
  cairn::v1::Block block() const;
  // Bytes sent (acknowledged or not).
  uint64_t bytes_sent() const { return sent_bytes_; }
  // DataNodes that failed during this block (to exclude from the next AddBlock).
  const std::set<std::string>& failed_nodes() const { return failed_; }
  // True if nothing was acknowledged and every DataNode failed (the caller may abandon the
  // block and ask for another).
  bool failed_before_any_ack() const;
  struct Packet {
    std::string data;
    bool last = false;
    bool sync = false;
  };
  // The packets not acknowledged (to send them again through another pipeline).
  std::vector<Packet> TakeUnacked();

 private:
  struct Pending {
    uint64_t seqno;
    uint64_t offset;
    std::string data;
    bool last;
    bool sync;
  };
  // Starts a stream through pipeline_. With `only_packet`, the block's one and only packet goes
  // with the header as the stream's last message and no ack thread is started: WaitAll reads
  // the acknowledgement itself (a small file's block: one message each way, no thread).
  Status OpenStream(bool recovery, const Pending* only_packet = nullptr);
  void CloseStream();
  void AckLoop();
  Status Recover();
  bool WriteOne(const Pending& p);
  static void FillPacket(const Pending& p, cairn::v1::Packet* pk);
  uint32_t Needed() const;

  FileSystemImpl* const fs_;
  const BlockWriterTarget target_;
  cairn::v1::Block block_;
  std::vector<cairn::v1::DataNodeId> pipeline_;
  std::set<std::string> failed_;
  uint64_t next_seqno_ = 0;
  uint64_t sent_bytes_ = 0;
  int recoveries_ = 0;

  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<cairn::v1::WriteBlockRequest,
                                           cairn::v1::WriteBlockResponse>> stream_;
  std::thread acker_;
  bool one_shot_ = false;  // the stream was opened with its only packet (see OpenStream)

  mutable absl::Mutex mu_;
  std::deque<Pending> unacked_ ABSL_GUARDED_BY(mu_);
  uint64_t acked_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_done_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> reported_failed_ ABSL_GUARDED_BY(mu_);
  Status last_error_ ABSL_GUARDED_BY(mu_);  // the last error a DataNode reported
  bool broken_for_good_ = false;
};

}  // namespace cairn::client
