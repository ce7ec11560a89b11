// Data path through a MiniCluster: writes and reads in every ack mode, hflush/hsync, positioned
// reads, concurrent clients and the odd corners of the stream API. Faults (dead DataNodes,
// corrupt replicas, NameNode restarts, leases, slow followers) are in data_path_fault_test.cc;
// raw-protocol abuse (second writers, unregistered DataNodes, malformed requests) in
// data_path_protocol_test.cc.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/errno_map.h"
#include "common/local_read_protocol.h"
#include "common/scoped_fd.h"
#include "datanode/block_store.h"
#include "namenode/block_manager.h"
#include "proto/datanode.grpc.pb.h"
#include "proto/namenode.grpc.pb.h"
#include "tests/testutil/fs_helpers.h"
#include "tests/testutil/mini_cluster.h"

namespace cairn::testing {
namespace {

using client::AckMode;
using client::CreateOptions;
using client::FileSystem;









class DataPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<MiniCluster>(options_);
    ASSERT_TRUE(cluster_->Start().ok());
    auto fs = cluster_->NewClient();
    ASSERT_TRUE(fs.ok()) << fs.status();
    fs_ = std::move(*fs);
  }
  std::unique_ptr<FileSystem> NewClient(std::function<void(client::ClientOptions*)> tweak = nullptr) {
    auto fs = cluster_->NewClient(std::move(tweak));
    EXPECT_TRUE(fs.ok()) << fs.status();
    return fs.ok() ? std::move(*fs) : nullptr;
  }
  // Replicas handed out by all DataNodes so far through short-circuit local reads.
  uint64_t LocalReadGrants() const {
    uint64_t n = 0;
    for (int i = 0; i < cluster_->num_datanodes(); ++i) n += cluster_->datanode(i)->local_read_grants();
    return n;
  }
  MiniClusterOptions options_;
  std::unique_ptr<MiniCluster> cluster_;
  std::unique_ptr<FileSystem> fs_;
};

TEST_F(DataPathTest, MultiBlockFilesInEveryAckMode) {
  // 3.5 blocks of 1 MiB, written in odd-sized chunks.
  const std::string data = RandomBytes((7 << 20) / 2 + 123, 1);
  for (AckMode mode : {AckMode::kSync, AckMode::kSemiSync, AckMode::kAsync}) {
    const std::string path = absl::StrCat("/f", static_cast<int>(mode));
    CreateOptions co;
    co.ack = mode;
    ASSERT_TRUE(WriteFile(fs_.get(), path, data, co, 77777).ok());
    auto st = fs_->Stat(path);
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->length, data.size());
    EXPECT_FALSE(st->under_construction);
    auto back = ReadFile(fs_.get(), path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == data) << "mode " << static_cast<int>(mode);
    EXPECT_EQ(ReplicaCounts(fs_.get(), path).size(), 4u);
    EXPECT_TRUE(WaitFor([&] { return AllBlocksHave(fs_.get(), path, 3); }, 10000))
        << "mode " << static_cast<int>(mode);
  }
}

TEST_F(DataPathTest, EmptyAndTinyFiles) {
  ASSERT_TRUE(WriteFile(fs_.get(), "/empty", "").ok());
  auto st = fs_->Stat("/empty");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->length, 0u);
  auto back = ReadFile(fs_.get(), "/empty");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "");
  ASSERT_TRUE(WriteFile(fs_.get(), "/one", "x").ok());
  EXPECT_EQ(*ReadFile(fs_.get(), "/one"), "x");
  // Exactly one block.
  const std::string block = RandomBytes(1 << 20, 2);
  ASSERT_TRUE(WriteFile(fs_.get(), "/block", block).ok());
  EXPECT_EQ(ReplicaCounts(fs_.get(), "/block").size(), 1u);
  EXPECT_TRUE(*ReadFile(fs_.get(), "/block") == block);
}

// After Hflush a reader that opens the file afterwards sees every byte written so far, Stat's
// length follows, and the file stays under construction until Close.
TEST_F(DataPathTest, HflushMakesBytesVisibleToNewReadersInEveryAckMode) {
  auto reader_fs = NewClient();
  ASSERT_NE(reader_fs, nullptr);
  const std::string data = RandomBytes(3 * kMiB + 4321, 3);
  // Cut points inside blocks (block boundaries have their own test below).
  const std::vector<size_t> cuts = {1, 100000, 700001, 1500000, 2600000, data.size()};
  for (AckMode mode : {AckMode::kSync, AckMode::kSemiSync, AckMode::kAsync}) {
    SCOPED_TRACE(ModeName(mode));
    const std::string path = absl::StrCat("/hflush-", ModeName(mode));
    CreateOptions co;
    co.ack = mode;
    auto out = fs_->Create(path, co);
    ASSERT_TRUE(out.ok()) << out.status();
    size_t done = 0;
    uint64_t last_len = 0;
    for (size_t cut : cuts) {
      SCOPED_TRACE(absl::StrCat("hflush at ", cut));
      ASSERT_OK((*out)->Write(data.data() + done, cut - done));
      done = cut;
      ASSERT_OK((*out)->Hflush());
      auto st = fs_->Stat(path);
      ASSERT_TRUE(st.ok()) << st.status();
      EXPECT_EQ(st->length, cut);
      EXPECT_GT(st->length, last_len);
      EXPECT_TRUE(st->under_construction);
      last_len = st->length;
      auto in = reader_fs->Open(path);
      ASSERT_TRUE(in.ok()) << in.status();
      EXPECT_EQ((*in)->length(), cut);
      auto back = ReadFile(reader_fs.get(), path);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_TRUE(SameBytes(*back, data.substr(0, cut)));
    }
    ASSERT_OK((*out)->Close());
    auto st = fs_->Stat(path);
    ASSERT_TRUE(st.ok());
    EXPECT_FALSE(st->under_construction);
    EXPECT_EQ(st->length, data.size());
    auto back = ReadFile(reader_fs.get(), path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(SameBytes(*back, data));
    EXPECT_TRUE(WaitFor([&] { return AllBlocksHave(fs_.get(), path, 3); }, 10000));
  }
}

// Hflush right after a block filled up exactly: the finished block is not yet committed on the
// NameNode (that happens with the next AddBlock or CompleteFile), yet its bytes were written
// and hflush promises they are visible.
// Was a BUG at commit 9408922: client/output_stream.cc Flush() returned early when
// `!block_ && buffer_.empty()`, leaving the finished block UNDER_CONSTRUCTION with the length
// of the last UpdateLength (0), so Stat and new readers missed a whole block. Passes with the
// (uncommitted) Flush() that sends UpdateLength for `previous_`.
TEST_F(DataPathTest, HflushAtAnExactBlockBoundary) {
  auto reader_fs = NewClient();
  ASSERT_NE(reader_fs, nullptr);
  const std::string data = RandomBytes(2 * kMiB + 10, 4);
  auto out = fs_->Create("/boundary", {});
  ASSERT_TRUE(out.ok()) << out.status();
  size_t done = 0;
  for (size_t cut : {kMiB, 2 * kMiB, 2 * kMiB + 10}) {
    SCOPED_TRACE(absl::StrCat("hflush at ", cut));
    ASSERT_OK((*out)->Write(data.data() + done, cut - done));
    done = cut;
    ASSERT_OK((*out)->Hflush());
    auto st = fs_->Stat("/boundary");
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->length, cut);
    auto back = ReadFile(reader_fs.get(), "/boundary");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(SameBytes(*back, data.substr(0, cut)));
  }
  ASSERT_OK((*out)->Close());
  EXPECT_TRUE(SameBytes(*ReadFile(reader_fs.get(), "/boundary"), data));
}

TEST_F(DataPathTest, HsyncMakesBytesVisibleAndDurable) {
  auto reader_fs = NewClient();
  ASSERT_NE(reader_fs, nullptr);
  const std::string data = RandomBytes(2 * kMiB + 999, 5);
  auto out = fs_->Create("/hsync", {});
  ASSERT_TRUE(out.ok()) << out.status();
  size_t done = 0;
  for (size_t cut : {size_t{4096}, size_t{4096}, size_t{1234567}, data.size()}) {
    SCOPED_TRACE(absl::StrCat("hsync at ", cut));
    ASSERT_OK((*out)->Write(data.data() + done, cut - done));
    done = cut;
    ASSERT_OK((*out)->Hsync());  // the second one has nothing new to sync
    auto st = fs_->Stat("/hsync");
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->length, cut);
    auto back = ReadFile(reader_fs.get(), "/hsync");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(SameBytes(*back, data.substr(0, cut)));
  }
  // Hflush and Hsync mixed, then Close.
  ASSERT_OK((*out)->Hflush());
  ASSERT_OK((*out)->Close());
  auto back = ReadFile(reader_fs.get(), "/hsync");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBytes(*back, data));
}

// A reader of a file being written sees exactly the hflushed bytes, even though more bytes
// have already reached the DataNodes in packets.
TEST_F(DataPathTest, ReaderOfAFileBeingWrittenSeesOnlyHflushedBytes) {
  auto writer_fs = NewClient([](client::ClientOptions* o) { o->packet_bytes = 64 << 10; });
  ASSERT_NE(writer_fs, nullptr);
  const std::string data = RandomBytes(2 * kMiB, 6);
  const size_t flushed = kMiB + kMiB / 2 + 3;
  auto out = writer_fs->Create("/open", {});
  ASSERT_TRUE(out.ok()) << out.status();
  {
    // Nothing hflushed yet: an empty file.
    auto in = fs_->Open("/open");
    ASSERT_TRUE(in.ok()) << in.status();
    EXPECT_EQ((*in)->length(), 0u);
    char c;
    auto n = (*in)->Read(&c, 1);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, 0u);
  }
  ASSERT_OK((*out)->Write(data.data(), flushed));
  ASSERT_OK((*out)->Hflush());
  // 300000 more bytes: four 64 KiB packets go to the DataNodes, the rest stays buffered.
  ASSERT_OK((*out)->Write(data.data() + flushed, 300000));
  auto in = fs_->Open("/open");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ((*in)->length(), flushed);
  auto back = ReadFile(fs_.get(), "/open");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBytes(*back, data.substr(0, flushed)));
  // Reads past the visible length return nothing, even though DataNodes hold more.
  std::string buf(1000, '\0');
  auto n = (*in)->Pread(flushed, buf.data(), buf.size());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0u);
  ASSERT_OK((*out)->Write(data.data() + flushed + 300000, data.size() - flushed - 300000));
  ASSERT_OK((*out)->Close());
  back = ReadFile(fs_.get(), "/open");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBytes(*back, data));
}

// A reader keeps reopening a file while its writer appends small pieces and hflushes often
// (never on a checksum-chunk boundary): every read is a prefix of the data no shorter than the
// previous one, no read fails, and no healthy replica is reported corrupt on the way.
TEST_F(DataPathTest, TailingReaderWhileTheWriterHflushes) {
  auto reader_fs = NewClient();
  ASSERT_NE(reader_fs, nullptr);
  const std::string data = RandomBytes(2 * kMiB + 333, 13);
  std::atomic<bool> done{false};
  Status writer_status;
  auto out = fs_->Create("/tail", {});
  ASSERT_TRUE(out.ok()) << out.status();
  std::thread writer([&] {
    Status s;
    int pieces = 0;
    for (size_t off = 0; off < data.size() && s.ok(); off += 10007) {
      s = (*out)->Write(data.data() + off, std::min<size_t>(10007, data.size() - off));
      if (s.ok() && ++pieces % 5 == 0) s = (*out)->Hflush();
    }
    if (s.ok()) s = (*out)->Close();
    writer_status = s;
    done = true;
  });
  size_t last_len = 0;
  int reads = 0;
  std::string failure;
  while (failure.empty()) {
    const bool finished = done.load();
    auto back = ReadFile(reader_fs.get(), "/tail");
    if (!back.ok()) {
      failure = back.status().ToString();
    } else if (back->size() < last_len || data.compare(0, back->size(), *back) != 0) {
      failure = absl::StrCat("read ", back->size(), " bytes after ", last_len, ": ",
                             SameBytes(*back, data.substr(0, back->size())).message());
    } else {
      last_len = back->size();
      ++reads;
    }
    if (finished) break;
  }
  writer.join();
  ASSERT_OK(writer_status);
  EXPECT_EQ(failure, "");
  EXPECT_GT(reads, 1);
  EXPECT_EQ(last_len, data.size());
  auto blocks = fs_->GetBlocks("/tail");
  ASSERT_TRUE(blocks.ok());
  for (const auto& b : *blocks) {
    namenode::BlockEntry e;
    ASSERT_TRUE(cluster_->namenode()->blocks()->Get(b.block_id, &e));
    for (const auto& [uuid, r] : e.replicas) {
      EXPECT_FALSE(r.corrupt) << "blk_" << b.block_id << " on " << uuid << " was reported corrupt";
    }
  }
  EXPECT_TRUE(WaitFor([&] { return AllBlocksHave(fs_.get(), "/tail", 3); }, 10000));
}

// Pread at random offsets and lengths, across block boundaries, at and past the end; Seek.
// Readers on the DataNodes' host read finalized replicas from their files (descriptors handed
// over by the DataNode) and get the same bytes as over gRPC, for any range; replicas still
// being written are read over gRPC; a client or DataNode with local reads off uses gRPC.
TEST_F(DataPathTest, LocalReadsAgreeWithNetworkReads) {
  const std::string data = RandomBytes(3 * kMiB + 12345, 61);
  ASSERT_OK(WriteFile(fs_.get(), "/local", data));
  auto network = NewClient([](client::ClientOptions* c) { c->local_reads = false; });
  auto local = NewClient();
  const uint64_t before = LocalReadGrants();
  auto over_network = ReadFile(network.get(), "/local");
  ASSERT_TRUE(over_network.ok()) << over_network.status();
  EXPECT_EQ(LocalReadGrants(), before) << "a client with local reads off asked for replica files";
  auto from_files = ReadFile(local.get(), "/local");
  ASSERT_TRUE(from_files.ok()) << from_files.status();
  EXPECT_GT(LocalReadGrants(), before) << "no replica was read locally";
  EXPECT_TRUE(SameBytes(*over_network, data));
  EXPECT_TRUE(SameBytes(*from_files, data));
  // Unaligned ranges, across chunk and block boundaries, to the last byte.
  // Both ways: from the replica files and over gRPC.
  auto in = local->Open("/local");
  ASSERT_TRUE(in.ok()) << in.status();
  auto net_in = network->Open("/local");
  ASSERT_TRUE(net_in.ok()) << net_in.status();
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    const uint64_t off = rng() % data.size();
    const size_t len = std::min<uint64_t>(1 + rng() % (2 * kMiB), data.size() - off);
    for (auto* stream : {in->get(), net_in->get()}) {
      std::string got(len, '\0');
      auto n = stream->Pread(off, got.data(), len);
      ASSERT_TRUE(n.ok()) << n.status();
      ASSERT_EQ(*n, len);
      ASSERT_TRUE(got == data.substr(off, len))
          << "at " << off << " length " << len << (stream == in->get() ? " (local)" : " (gRPC)");
    }
  }
  // A file being written: its last block is read over gRPC (hflushed bytes only).
  auto out = fs_->Create("/local-open", {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_OK((*out)->Write(data.data(), kMiB / 2));
  ASSERT_OK((*out)->Hflush());
  const uint64_t before_open = LocalReadGrants();
  auto open_read = ReadFile(local.get(), "/local-open");
  ASSERT_TRUE(open_read.ok()) << open_read.status();
  EXPECT_TRUE(SameBytes(*open_read, data.substr(0, kMiB / 2)));
  EXPECT_EQ(LocalReadGrants(), before_open) << "a replica being written was handed out";
  ASSERT_OK((*out)->Close());
}

TEST_F(DataPathTest, SilentLocalConnectionsDoNotHoldUpLocalReads) {
  const std::string data = RandomBytes(kMiB + 99, 62);
  ASSERT_OK(WriteFile(fs_.get(), "/silent", data));
  // Clients that connect to every DataNode's local-read socket and say nothing: each used to
  // hold the server for a second, eight of them far longer than a reader waits (2 s) on any
  // DataNode it tries.
  std::vector<ScopedFd> silent;
  for (int i = 0; i < cluster_->num_datanodes(); ++i) {
    for (int k = 0; k < 8; ++k) {
      ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      ASSERT_GE(fd.get(), 0);
      sockaddr_un addr;
      const socklen_t len = local_read::SocketAddress(cluster_->datanode(i)->port(), &addr);
      ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len), 0) << strerror(errno);
      silent.push_back(std::move(fd));
    }
  }
  const uint64_t before = LocalReadGrants();
  auto got = ReadFile(NewClient().get(), "/silent");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(SameBytes(*got, data));
  EXPECT_GT(LocalReadGrants(), before) << "the read fell back to gRPC behind the silent connections";
}

TEST_F(DataPathTest, PreadAtRandomOffsetsAndSeek) {
  const std::string data = RandomBytes(3 * kMiB + kMiB / 2 + 77, 7);
  ASSERT_OK(WriteFile(fs_.get(), "/pread", data));
  auto in_or = fs_->Open("/pread");
  ASSERT_TRUE(in_or.ok()) << in_or.status();
  auto& in = *in_or;
  const uint64_t len = data.size();
  ASSERT_EQ(in->length(), len);

  auto check = [&](uint64_t offset, size_t n) {
    SCOPED_TRACE(absl::StrCat("Pread(", offset, ", ", n, ")"));
    std::string buf(n, '\xAA');
    auto got = in->Pread(offset, buf.data(), n);
    ASSERT_TRUE(got.ok()) << got.status();
    const size_t want = offset >= len ? 0 : std::min<uint64_t>(n, len - offset);
    ASSERT_EQ(*got, want);
    if (want > 0) {
      EXPECT_TRUE(SameBytes(buf.substr(0, want), data.substr(offset, want)));
    }
  };
  // Fixed cases: block boundaries, the end, past the end, empty reads.
  check(0, 1);
  check(0, len);
  check(0, len + 100);
  check(kMiB - 1, 1);
  check(kMiB - 1, 2);
  check(kMiB, 1);
  check(kMiB - 10, 2 * kMiB + 20);  // spans three blocks
  check(3 * kMiB - 4096, 8192);
  check(len - 1, 1);
  check(len - 5, 100);
  check(len, 10);
  check(len + 1, 10);
  check(len + 12345678, 1);
  check(UINT64_MAX - 5, 10);
  check(12345, 0);
  // Random ones, mostly small, some large.
  std::mt19937_64 rng(42);
  for (int i = 0; i < 120; ++i) {
    const uint64_t offset = rng() % (len + 2000);
    const size_t n = (i % 5 == 0) ? rng() % (2 * kMiB) : rng() % 20000;
    check(offset, n);
    if (HasFatalFailure()) return;
  }

  // Seek and Read.
  ASSERT_OK(in->Seek(len));
  EXPECT_EQ(in->position(), len);
  char c;
  auto n = in->Read(&c, 1);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  Status s = in->Seek(len + 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  EXPECT_FALSE(s.message().empty());
  EXPECT_EQ(in->position(), len);  // a failed Seek does not move
  s = in->Seek(UINT64_MAX);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  for (uint64_t pos : {uint64_t{2 * kMiB - 3}, uint64_t{123457}, uint64_t{0}}) {
    ASSERT_OK(in->Seek(pos));
    std::string buf(10000, '\0');
    size_t got = 0;
    while (got < buf.size()) {
      auto r = in->Read(buf.data() + got, buf.size() - got);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_GT(*r, 0u);
      got += *r;
    }
    EXPECT_TRUE(SameBytes(buf, data.substr(pos, buf.size()))) << "after Seek(" << pos << ")";
    EXPECT_EQ(in->position(), pos + buf.size());
  }
}

// Pread may be called concurrently on one stream.
TEST_F(DataPathTest, ConcurrentPreadOnOneStream) {
  const std::string data = RandomBytes(3 * kMiB + 5, 8);
  ASSERT_OK(WriteFile(fs_.get(), "/cpread", data));
  auto in = fs_->Open("/cpread");
  ASSERT_TRUE(in.ok()) << in.status();
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int i = 0; i < 30; ++i) {
        const uint64_t offset = rng() % data.size();
        const size_t n = rng() % 400000;
        std::string buf(n, '\0');
        auto got = (*in)->Pread(offset, buf.data(), n);
        const size_t want = std::min<uint64_t>(n, data.size() - offset);
        if (!got.ok() || *got != want || buf.compare(0, want, data, offset, want) != 0) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// Six threads each write and read back their own 3 MiB file (mixed ack modes, shared and own
// clients) while a seventh keeps reading a file written before.
TEST_F(DataPathTest, ConcurrentWritersAndReadersOfDifferentFiles) {
  const std::string before = RandomBytes(2 * kMiB + 1, 9);
  ASSERT_OK(WriteFile(fs_.get(), "/before", before));
  std::vector<std::unique_ptr<FileSystem>> own;
  for (int t = 0; t < 3; ++t) {
    own.push_back(NewClient());
    ASSERT_NE(own.back(), nullptr);
  }
  std::atomic<bool> writers_done{false};
  std::atomic<int> background_reads{0};
  std::vector<std::string> failures(7);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      FileSystem* fs = t % 2 == 0 ? fs_.get() : own[t / 2].get();
      const std::string path = absl::StrCat("/concurrent/", t);
      const std::string data = RandomBytes(3 * kMiB + 1000 * t, 20 + t);
      CreateOptions co;
      co.ack = std::vector<AckMode>{AckMode::kSync, AckMode::kSemiSync, AckMode::kAsync}[t % 3];
      co.create_parents = true;
      Status s = WriteFile(fs, path, data, co, 50000 + 7919 * t);
      if (!s.ok()) {
        failures[t] = absl::StrCat("write: ", s.ToString());
        return;
      }
      for (int round = 0; round < 2; ++round) {
        auto back = ReadFile(fs, path);
        if (!back.ok()) {
          failures[t] = absl::StrCat("read: ", back.status().ToString());
          return;
        }
        if (*back != data) {
          failures[t] = absl::StrCat("read back different bytes: ", SameBytes(*back, data).message());
          return;
        }
      }
    });
  }
  threads.emplace_back([&] {
    auto reader = cluster_->NewClient();
    if (!reader.ok()) {
      failures[6] = reader.status().ToString();
      return;
    }
    while (!writers_done.load() || background_reads.load() == 0) {
      auto back = ReadFile(reader->get(), "/before");
      if (!back.ok() || *back != before) {
        failures[6] = back.ok() ? "different bytes" : back.status().ToString();
        return;
      }
      ++background_reads;
    }
  });
  for (int t = 0; t < 6; ++t) threads[t].join();
  writers_done = true;
  threads[6].join();
  for (int t = 0; t < 7; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
  EXPECT_GT(background_reads.load(), 0);
  auto listing = fs_->List("/concurrent");
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_EQ(listing->size(), 6u);
  for (const auto& st : *listing) EXPECT_FALSE(st.under_construction) << st.name;
}

TEST_F(DataPathTest, CloseTwiceAndUseAfterClose) {
  const std::string data = RandomBytes(kMiB + 17, 10);
  auto out = fs_->Create("/closed", {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_OK((*out)->Write(data.data(), data.size()));
  ASSERT_OK((*out)->Close());
  EXPECT_OK((*out)->Close());  // idempotent
  Status s = (*out)->Write("x", 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("closed"), std::string::npos) << s;
  s = (*out)->Hflush();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  s = (*out)->Hsync();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_OK((*out)->Close());
  out->reset();  // the destructor of a closed stream does nothing more
  auto back = ReadFile(fs_.get(), "/closed");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBytes(*back, data));
  auto st = fs_->Stat("/closed");
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->under_construction);

  // A stream closed without writing anything leaves an empty, closed file.
  auto empty = fs_->Create("/closed-empty", {});
  ASSERT_TRUE(empty.ok()) << empty.status();
  ASSERT_OK((*empty)->Close());
  st = fs_->Stat("/closed-empty");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->length, 0u);
  EXPECT_FALSE(st->under_construction);

  // A stream destroyed without Close closes the file.
  {
    auto dropped = fs_->Create("/dropped", {});
    ASSERT_TRUE(dropped.ok()) << dropped.status();
    ASSERT_OK((*dropped)->Write(data.data(), 1000));
  }
  st = fs_->Stat("/dropped");
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->under_construction);
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/dropped"), data.substr(0, 1000)));
}

// The file is deleted while being written: the writer gets a clear error and the file does not
// come back.
TEST_F(DataPathTest, WritingToADeletedFileFails) {
  const std::string data = RandomBytes(3 * kMiB, 11);
  auto out = fs_->Create("/doomed", {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_OK((*out)->Write(data.data(), kMiB + 100));
  ASSERT_OK((*out)->Hflush());
  auto other = NewClient();
  ASSERT_NE(other, nullptr);
  ASSERT_OK(other->Delete("/doomed"));
  Status s = (*out)->Write(data.data() + kMiB + 100, data.size() - kMiB - 100);
  if (s.ok()) s = (*out)->Close();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsNotFound(s) || absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("/doomed"), std::string::npos) << s;
  // The error sticks.
  EXPECT_FALSE((*out)->Close().ok());
  EXPECT_TRUE(absl::IsNotFound(fs_->Stat("/doomed").status()));
  // The cluster still works.
  ASSERT_OK(WriteFile(fs_.get(), "/after", data));
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/after"), data));
}

// The stream addresses its file by inode id: a rename while writing does not break it.
TEST_F(DataPathTest, RenameWhileWriting) {
  const std::string data = RandomBytes(2 * kMiB + 5000, 12);
  auto out = fs_->Create("/moving", {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_OK((*out)->Write(data.data(), kMiB + 5));
  ASSERT_OK((*out)->Hflush());
  ASSERT_OK(fs_->Mkdir("/dir"));
  ASSERT_OK(fs_->Rename("/moving", "/dir/moved"));
  ASSERT_OK((*out)->Write(data.data() + kMiB + 5, data.size() - kMiB - 5));
  ASSERT_OK((*out)->Close());
  EXPECT_TRUE(absl::IsNotFound(fs_->Stat("/moving").status()));
  auto st = fs_->Stat("/dir/moved");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_FALSE(st->under_construction);
  EXPECT_EQ(st->length, data.size());
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/dir/moved"), data));
}

}  // namespace
}  // namespace cairn::testing
