// POSIX semantics of the cairn-fuse mount, driven by system calls against the real binary:
// namespace operations and their errors, open flags, truncate, rename flags, links, attributes,
// visibility to other clients, write-back conflicts, statfs, signals and daemon mode.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "tests/fuse/fuse_test_util.h"

namespace cairn::testing {
namespace {

// Writes `data` with one open/write/close; returns the errno of the first failure (0 = ok).
int WriteFile(const std::string& path, const std::string& data, int flags = O_WRONLY | O_CREAT | O_TRUNC) {
  int fd = open(path.c_str(), flags, 0644);
  if (fd < 0) return errno;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      int e = errno;
      close(fd);
      return e;
    }
    done += static_cast<size_t>(n);
  }
  return close(fd) == 0 ? 0 : errno;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The file as another client of the cluster sees it.
std::string ClientRead(client::FileSystem* fs, const std::string& path) {
  auto in = fs->Open(path);
  if (!in.ok()) return absl::StrCat("<", in.status().message(), ">");
  std::string out((*in)->length(), '\0');
  auto n = (*in)->Pread(0, out.data(), out.size());
  if (!n.ok()) return absl::StrCat("<", n.status().message(), ">");
  out.resize(*n);
  return out;
}

std::set<std::string> ListDir(const std::string& path) {
  std::set<std::string> names;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) names.insert(e->d_name);
  closedir(d);
  return names;
}

// False once `pid` has exited (also when it is a zombie nobody reaped yet).
bool ProcessAlive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

int Errno(int rc) { return rc == 0 ? 0 : errno; }

int Renameat2(const std::string& from, const std::string& to, unsigned flags) {
  return Errno(static_cast<int>(
      syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags)));
}

class FuseSemanticsTest : public FuseTest {};

TEST_F(FuseSemanticsTest, NamespaceOperationsAndErrors) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  struct stat st;
  ASSERT_EQ(stat(mount_.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, 1u);  // FUSE_ROOT_ID = the NameNode's root inode
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  ASSERT_EQ(Errno(mkdir(M("d").c_str(), 0750)), 0);
  EXPECT_EQ(Errno(mkdir(M("d").c_str(), 0750)), EEXIST);
  ASSERT_EQ(WriteFile(M("d/f"), "hello"), 0);
  ASSERT_EQ(stat(M("d/f").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(st.st_uid, 0u);
  auto cst = client_->Stat("/d/f");
  ASSERT_TRUE(cst.ok());
  EXPECT_EQ(st.st_ino, cst->inode_id);  // inode numbers are NameNode inode ids
  ASSERT_EQ(stat(M("d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(ReadFile(M("d/f")), "hello");
  EXPECT_EQ(ListDir(M("d")), (std::set<std::string>{".", "..", "f"}));

  EXPECT_EQ(Errno(stat(M("nope").c_str(), &st)), ENOENT);
  EXPECT_EQ(Errno(mkdir(M("nope/x").c_str(), 0755)), ENOENT);
  EXPECT_EQ(WriteFile(M("d/f/x"), "x"), ENOTDIR);
  EXPECT_EQ(Errno(mkdir(M("d/f/x").c_str(), 0755)), ENOTDIR);
  EXPECT_EQ(WriteFile(M("d"), "x"), EISDIR);
  EXPECT_EQ(Errno(rmdir(M("d").c_str())), ENOTEMPTY);
  EXPECT_EQ(Errno(rmdir(M("d/f").c_str())), ENOTDIR);
  EXPECT_EQ(Errno(unlink(M("d").c_str())), EISDIR);
  EXPECT_EQ(WriteFile(M(std::string(300, 'n')), "x"), ENAMETOOLONG);

  ASSERT_EQ(Errno(rename(M("d/f").c_str(), M("g").c_str())), 0);
  EXPECT_EQ(ReadFile(M("g")), "hello");
  EXPECT_EQ(Errno(stat(M("d/f").c_str(), &st)), ENOENT);
  ASSERT_EQ(Errno(rmdir(M("d").c_str())), 0);
  ASSERT_EQ(Errno(unlink(M("g").c_str())), 0);
  EXPECT_EQ(ListDir(mount_.dir()), (std::set<std::string>{".", ".."}));
  EXPECT_FALSE(client_->Stat("/g").ok());
}

TEST_F(FuseSemanticsTest, OpenFlags) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  const std::string f = M("f");
  ASSERT_EQ(WriteFile(f, "0123456789", O_WRONLY | O_CREAT | O_EXCL), 0);
  EXPECT_EQ(WriteFile(f, "x", O_WRONLY | O_CREAT | O_EXCL), EEXIST);
  struct stat before, after;
  ASSERT_EQ(stat(f.c_str(), &before), 0);

  // O_TRUNC keeps the inode.
  ASSERT_EQ(WriteFile(f, "abc", O_WRONLY | O_TRUNC), 0);
  ASSERT_EQ(stat(f.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(ReadFile(f), "abc");
  EXPECT_EQ(client_->Stat("/f")->inode_id, before.st_ino);

  // O_APPEND.
  ASSERT_EQ(WriteFile(f, "def", O_WRONLY | O_APPEND), 0);
  EXPECT_EQ(ReadFile(f), "abcdef");

  // O_WRONLY without O_TRUNC overwrites in place.
  int fd = open(f.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "XY", 2, 2), 2);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ReadFile(f), "abXYef");

  // O_RDWR: random writes and reads of what was written, before and after close.
  fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "123", 3, 10), 3);  // past the end: a hole of zeros
  char buf[16] = {0};
  ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 13);
  EXPECT_EQ(std::string(buf, 13), std::string("abXYef") + std::string(4, '\0') + "123");
  struct stat fst;
  ASSERT_EQ(fstat(fd, &fst), 0);
  EXPECT_EQ(fst.st_size, 13);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ClientRead(client_.get(), "/f"), std::string("abXYef") + std::string(4, '\0') + "123");
  ASSERT_EQ(stat(f.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // staged write-back keeps the inode too

  // A new file opened O_RDWR, written sequentially, then read back through the same fd.
  fd = open(M("rw").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  const std::string data = RandomBytes(3 << 20, 7);
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  std::string back(data.size(), '\0');
  ASSERT_EQ(pread(fd, back.data(), back.size(), 0), static_cast<ssize_t>(back.size()));
  EXPECT_TRUE(back == data);
  ASSERT_EQ(close(fd), 0);
  EXPECT_TRUE(ReadFile(M("rw")) == data);
}

// O_TRUNC truncates whatever the access mode (Linux does so when the caller may write; the
// kernel checked that and leaves the truncation to the open, FUSE_CAP_ATOMIC_O_TRUNC). With
// O_RDONLY the file used to be left as it was.
TEST_F(FuseSemanticsTest, ReadOnlyOpenWithTruncTruncates) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  const std::string f = M("f");
  ASSERT_EQ(WriteFile(f, "some data"), 0);
  struct stat before;
  ASSERT_EQ(stat(f.c_str(), &before), 0);
  const int fd = open(f.c_str(), O_RDONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  char buf[16];
  EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
  ASSERT_EQ(Errno(close(fd)), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_ino, before.st_ino);
  EXPECT_EQ(ReadFile(f), "");
  // Complete once close() returned, like any truncation through a descriptor.
  auto cst = client_->Stat("/f");
  ASSERT_TRUE(cst.ok()) << cst.status();
  EXPECT_EQ(cst->length, 0u);
  EXPECT_FALSE(cst->under_construction);
  EXPECT_EQ(ClientRead(client_.get(), "/f"), "");
}

TEST_F(FuseSemanticsTest, TruncateUpAndDown) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  const std::string f = M("t");
  const std::string data = RandomBytes(2 << 20, 1);
  ASSERT_EQ(WriteFile(f, data), 0);
  ASSERT_EQ(Errno(truncate(f.c_str(), 1000)), 0);
  EXPECT_EQ(ReadFile(f), data.substr(0, 1000));
  EXPECT_EQ(client_->Stat("/t")->length, 1000u);
  ASSERT_EQ(Errno(truncate(f.c_str(), 5000)), 0);
  EXPECT_EQ(ReadFile(f), data.substr(0, 1000) + std::string(4000, '\0'));
  ASSERT_EQ(Errno(truncate(f.c_str(), 0)), 0);
  EXPECT_EQ(ReadFile(f), "");
  EXPECT_EQ(client_->Stat("/t")->length, 0u);

  // ftruncate on open descriptors, mixed with writes.
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "abcdef", 6), 6);
  ASSERT_EQ(ftruncate(fd, 3), 0);
  ASSERT_EQ(pwrite(fd, "Z", 1, 5), 1);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ReadFile(f), std::string("abc\0\0Z", 6));
  EXPECT_EQ(ClientRead(client_.get(), "/t"), std::string("abc\0\0Z", 6));
}

TEST_F(FuseSemanticsTest, RenameFlagsAndDirectories) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_EQ(WriteFile(M("a"), "A"), 0);
  ASSERT_EQ(WriteFile(M("b"), "B"), 0);
  EXPECT_EQ(Renameat2(M("a"), M("b"), RENAME_NOREPLACE), EEXIST);
  EXPECT_EQ(Renameat2(M("a"), M("b"), RENAME_EXCHANGE), EINVAL);
  EXPECT_EQ(ReadFile(M("a")), "A");
  ASSERT_EQ(Renameat2(M("a"), M("b"), 0), 0);  // replaces b
  EXPECT_EQ(ReadFile(M("b")), "A");
  EXPECT_EQ(Renameat2(M("b"), M("c"), RENAME_NOREPLACE), 0);
  EXPECT_EQ(ReadFile(M("c")), "A");

  // A directory tree renamed, then used through its new path (the inode table follows).
  ASSERT_EQ(Errno(mkdir(M("d1").c_str(), 0755)), 0);
  ASSERT_EQ(Errno(mkdir(M("d1/sub").c_str(), 0755)), 0);
  ASSERT_EQ(WriteFile(M("d1/sub/x"), "X"), 0);
  struct stat st;
  ASSERT_EQ(stat(M("d1/sub/x").c_str(), &st), 0);  // known to the kernel before the rename
  ASSERT_EQ(Errno(mkdir(M("d2").c_str(), 0755)), 0);
  ASSERT_EQ(Errno(rename(M("d1").c_str(), M("d2/moved").c_str())), 0);
  EXPECT_EQ(ReadFile(M("d2/moved/sub/x")), "X");
  ASSERT_EQ(WriteFile(M("d2/moved/sub/y"), "Y"), 0);
  EXPECT_EQ(ClientRead(client_.get(), "/d2/moved/sub/y"), "Y");
  int fd = open(M("d2/moved/sub/x").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "2", 1), 1);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ClientRead(client_.get(), "/d2/moved/sub/x"), "X2");
  EXPECT_EQ(Errno(stat(M("d1").c_str(), &st)), ENOENT);
  // Directory over a non-empty directory; a directory under itself.
  ASSERT_EQ(Errno(mkdir(M("e").c_str(), 0755)), 0);
  EXPECT_EQ(Errno(rename(M("e").c_str(), M("d2").c_str())), ENOTEMPTY);
  EXPECT_EQ(Errno(rename(M("d2").c_str(), M("d2/moved/in").c_str())), EINVAL);
  // An open file renamed keeps being written to, then lands under its new name.
  fd = open(M("w").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "12", 2), 2);
  ASSERT_EQ(Errno(rename(M("w").c_str(), M("e/w2").c_str())), 0);
  ASSERT_EQ(write(fd, "34", 2), 2);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ReadFile(M("e/w2")), "1234");
}

TEST_F(FuseSemanticsTest, LinksAndSpecialFiles) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_EQ(WriteFile(M("target"), "T"), 0);
  ASSERT_EQ(Errno(symlink("target", M("sl").c_str())), 0);
  char buf[64] = {0};
  ASSERT_EQ(readlink(M("sl").c_str(), buf, sizeof(buf)), 6);
  EXPECT_EQ(std::string(buf), "target");
  EXPECT_EQ(ReadFile(M("sl")), "T");
  struct stat st;
  ASSERT_EQ(lstat(M("sl").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(client_->Stat("/sl")->symlink_target, "target");
  EXPECT_EQ(Errno(link(M("target").c_str(), M("hard").c_str())), EPERM);
  EXPECT_EQ(Errno(mkfifo(M("fifo").c_str(), 0644)), EPERM);
  EXPECT_EQ(Errno(mknod(M("dev").c_str(), S_IFCHR | 0644, makedev(1, 3))), EPERM);
  ASSERT_EQ(Errno(mknod(M("plain").c_str(), S_IFREG | 0640, 0)), 0);
  ASSERT_EQ(stat(M("plain").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(FuseSemanticsTest, Attributes) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_EQ(WriteFile(M("f"), "data"), 0);
  ASSERT_EQ(Errno(chmod(M("f").c_str(), 0600)), 0);
  ASSERT_EQ(Errno(chown(M("f").c_str(), 65534, 65534)), 0);
  struct timespec times[2] = {{1600000000, 123000000}, {1700000000, 456000000}};
  ASSERT_EQ(Errno(utimensat(AT_FDCWD, M("f").c_str(), times, 0)), 0);
  struct stat st;
  ASSERT_EQ(stat(M("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(st.st_atim.tv_sec, 1600000000);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 456000000);  // milliseconds are kept
  auto cst = client_->Stat("/f");
  EXPECT_EQ(cst->mode, 0600u);
  EXPECT_EQ(cst->mtime_ms, 1700000000456);

  // Times set on a file still being written apply after its data (as cp -a and tar do).
  int fd = open(M("g").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "xyz", 3), 3);
  ASSERT_EQ(futimens(fd, times), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  ASSERT_EQ(close(fd), 0);
  ASSERT_EQ(stat(M("g").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(client_->Stat("/g")->mtime_ms, 1700000000456);
  // A write after utimens stamps the file anew.
  fd = open(M("g").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(futimens(fd, times), 0);
  ASSERT_EQ(write(fd, "!", 1), 1);
  ASSERT_EQ(close(fd), 0);
  EXPECT_GT(client_->Stat("/g")->mtime_ms, 1700000000456);
}

// A chmod/chown/touch/truncate right after writing a file through the mount (within the
// attribute timeout, so the mount may still hold attributes read before the data landed)
// must give the kernel the file's real size: with a stale size 0, reads returned nothing and
// `>>` wrote over the start of the file.
TEST_F(FuseSemanticsTest, SetAttrRightAfterWritingKeepsSizeAndData) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  struct timespec times[2] = {{1600000000, 0}, {1700000000, 0}};
  const std::vector<std::pair<std::string, std::function<int(const std::string&)>>> ops = {
      {"chmod", [](const std::string& p) { return Errno(chmod(p.c_str(), 0600)); }},
      {"chown", [](const std::string& p) { return Errno(chown(p.c_str(), 65534, 65534)); }},
      {"touch",
       [](const std::string& p) { return Errno(utimensat(AT_FDCWD, p.c_str(), nullptr, 0)); }},
      {"utime",
       [&](const std::string& p) { return Errno(utimensat(AT_FDCWD, p.c_str(), times, 0)); }},
      {"truncate", [](const std::string& p) { return Errno(truncate(p.c_str(), 5)); }},
  };
  for (const auto& [name, op] : ops) {
    const std::string f = M(name);
    ASSERT_EQ(WriteFile(f, "hello"), 0) << name;
    ASSERT_EQ(op(f), 0) << name;
    struct stat st;
    ASSERT_EQ(stat(f.c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_size, 5) << name;
    EXPECT_EQ(ReadFile(f), "hello") << name;
    ASSERT_EQ(WriteFile(f, "world", O_WRONLY | O_APPEND), 0) << name;
    EXPECT_EQ(ReadFile(f), "helloworld") << name;
    EXPECT_EQ(ClientRead(client_.get(), "/" + name), "helloworld") << name;
  }

  // A getattr while the new file streams (the NameNode's length is still 0), then close and
  // chmod.
  const std::string p = M("payload");
  int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "payload", 7), 7);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 7);
  ASSERT_EQ(close(fd), 0);
  ASSERT_EQ(Errno(chmod(p.c_str(), 0640)), 0);
  EXPECT_EQ(ReadFile(p), "payload");

  // O_APPEND after futimens on the descriptor appends at the real end.
  const std::string a = M("append");
  ASSERT_EQ(WriteFile(a, "hello"), 0);
  fd = open(a.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(futimens(fd, nullptr), 0);
  ASSERT_EQ(write(fd, "world", 5), 5);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ReadFile(a), "helloworld");
  EXPECT_EQ(ClientRead(client_.get(), "/append"), "helloworld");

  // futimens after fsync wrote a modification back: the times just set, not the write's.
  fd = open(a.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "H", 1, 0), 1);
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_EQ(futimens(fd, times), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(st.st_size, 10);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ReadFile(a), "Helloworld");
  EXPECT_EQ(client_->Stat("/append")->mtime_ms, 1700000000000);
}

// A write changes mtime and ctime only (POSIX): an atime set by utime/futimens before it
// stays, also while it waits for the file's data to land. It was dropped together with the
// pending mtime at the next write or truncate.
TEST_F(FuseSemanticsTest, ExplicitAtimeSurvivesLaterWrites) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  const struct timespec times[2] = {{1600000000, 0}, {1700000000, 0}};  // atime, mtime
  const int64_t start_ms = WallMillis();
  // A new file being written (streaming), then an existing one modified in place (staged).
  int fd = open(M("s").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "abc", 3), 3);
  ASSERT_EQ(futimens(fd, times), 0);
  ASSERT_EQ(write(fd, "def", 3), 3);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1600000000);
  EXPECT_GE(st.st_mtim.tv_sec, start_ms / 1000);  // the write's
  ASSERT_EQ(close(fd), 0);
  ASSERT_EQ(WriteFile(M("t"), "0123456789"), 0);
  fd = open(M("t").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "X", 1, 0), 1);
  ASSERT_EQ(futimens(fd, times), 0);
  ASSERT_EQ(pwrite(fd, "Y", 1, 1), 1);
  ASSERT_EQ(ftruncate(fd, 5), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1600000000);
  ASSERT_EQ(close(fd), 0);

  for (const std::string name : {"s", "t"}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(stat(M(name).c_str(), &st), 0);
    EXPECT_EQ(st.st_atim.tv_sec, 1600000000);
    EXPECT_GE(st.st_mtim.tv_sec, start_ms / 1000);
    auto cst = client_->Stat("/" + name);
    ASSERT_TRUE(cst.ok()) << cst.status();
    EXPECT_EQ(cst->atime_ms, 1600000000000);
    EXPECT_GE(cst->mtime_ms, start_ms);
  }
  EXPECT_EQ(ReadFile(M("s")), "abcdef");
  EXPECT_EQ(ReadFile(M("t")), "XY234");
}

// Times before 1970 (negative milliseconds) set through the mount are reported and stored
// like any other. They were left out of setattr's reply and dropped for a file still being
// written, and -1 ms meant "unchanged" in the mount.
TEST_F(FuseSemanticsTest, TimesBefore1970) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  auto ms = [](const struct timespec& ts) {
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  };
  const struct timespec old[2] = {{-50, 0}, {-100, 250000000}};  // atime, mtime
  // A file being written: the times wait for its data.
  int fd = open(M("w").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "abc", 3), 3);
  ASSERT_EQ(futimens(fd, old), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(ms(st.st_atim), -50000);
  EXPECT_EQ(ms(st.st_mtim), -99750);
  ASSERT_EQ(close(fd), 0);
  ASSERT_EQ(stat(M("w").c_str(), &st), 0);
  EXPECT_EQ(ms(st.st_atim), -50000);
  EXPECT_EQ(ms(st.st_mtim), -99750);
  auto cst = client_->Stat("/w");
  ASSERT_TRUE(cst.ok()) << cst.status();
  EXPECT_EQ(cst->atime_ms, -50000);
  EXPECT_EQ(cst->mtime_ms, -99750);
  EXPECT_EQ(ReadFile(M("w")), "abc");

  // A closed file.
  ASSERT_EQ(WriteFile(M("c"), "c"), 0);
  ASSERT_EQ(Errno(utimensat(AT_FDCWD, M("c").c_str(), old, 0)), 0);
  ASSERT_EQ(stat(M("c").c_str(), &st), 0);
  EXPECT_EQ(ms(st.st_atim), -50000);
  EXPECT_EQ(ms(st.st_mtim), -99750);
  EXPECT_EQ(client_->Stat("/c")->mtime_ms, -99750);

  // Exactly -1 ms is a time like any other, in the mount and in the NameNode.
  const struct timespec minus_1ms[2] = {{-1, 999000000}, {-1, 999000000}};
  fd = open(M("m").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "m", 1), 1);
  ASSERT_EQ(futimens(fd, minus_1ms), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(ms(st.st_atim), -1);
  EXPECT_EQ(ms(st.st_mtim), -1);
  ASSERT_EQ(close(fd), 0);
  auto stored = client_->Stat("/m");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->mtime_ms, -1);
  EXPECT_EQ(stored->atime_ms, -1);
}

// A directory's attributes through the mount right after changes made in it: the mount
// answers the kernel's getattr after a mkdir, rmdir or unlink from the NameNode's post-change
// status; whatever happens (create, chmod, utimens too), stat agrees with the NameNode's
// current record of the directory.
TEST_F(FuseSemanticsTest, DirectoryAttributesRightAfterChangesInIt) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_EQ(Errno(mkdir(M("p").c_str(), 0755)), 0);
  // (After a chmod the mount's own ctime may differ from the NameNode's by the clocks' skew:
  // ctime is compared after namespace changes only.)
  auto agrees = [&](const std::string& step, bool check_ctime = true) {
    struct stat st;
    ASSERT_EQ(stat(M("p").c_str(), &st), 0) << step;
    auto nn = client_->Stat("/p");
    ASSERT_TRUE(nn.ok()) << nn.status();
    EXPECT_EQ(st.st_mode & 07777, nn->mode) << step;
    EXPECT_EQ(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000,
              nn->mtime_ms)
        << step;
    if (check_ctime) {
      EXPECT_EQ(static_cast<int64_t>(st.st_ctim.tv_sec) * 1000 + st.st_ctim.tv_nsec / 1000000,
                nn->ctime_ms)
          << step;
    }
  };
  struct timespec old_times[2] = {{1600000000, 0}, {1600000000, 0}};
  for (int i = 0; i < 6; ++i) {
    const std::string c = absl::StrCat("p/c", i);
    ASSERT_EQ(Errno(mkdir(M(c).c_str(), 0755)), 0);
    agrees(absl::StrCat("after mkdir ", c));
    switch (i % 3) {
      case 0:
        ASSERT_EQ(Errno(rmdir(M(c).c_str())), 0);
        agrees(absl::StrCat("after rmdir ", c));
        break;
      case 1:
        ASSERT_EQ(WriteFile(M(c + "-f"), "x"), 0);
        agrees(absl::StrCat("after creating ", c, "-f"));
        ASSERT_EQ(Errno(unlink(M(c + "-f").c_str())), 0);
        agrees(absl::StrCat("after unlinking ", c, "-f"));
        break;
      case 2:
        ASSERT_EQ(Errno(chmod(M("p").c_str(), i % 2 == 0 ? 0700 : 0755)), 0);
        ASSERT_EQ(Errno(utimensat(AT_FDCWD, M("p").c_str(), old_times, 0)), 0);
        agrees("after chmod and utimens of p", /*check_ctime=*/false);
        break;
    }
    // Another client changes p: seen once the attribute timeout (1 s) has passed.
  }
}

TEST_F(FuseSemanticsTest, VisibleToOtherClientsAfterFsyncAndClose) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  // Streaming (new file): fsync publishes the length, close completes it.
  int fd = open(M("s").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  const std::string part1 = RandomBytes(1500000, 2), part2 = RandomBytes(700000, 3);
  ASSERT_EQ(write(fd, part1.data(), part1.size()), static_cast<ssize_t>(part1.size()));
  ASSERT_EQ(fsync(fd), 0);
  EXPECT_EQ(client_->Stat("/s")->length, part1.size());
  EXPECT_TRUE(ClientRead(client_.get(), "/s") == part1);
  ASSERT_EQ(write(fd, part2.data(), part2.size()), static_cast<ssize_t>(part2.size()));
  ASSERT_EQ(close(fd), 0);
  auto st = client_->Stat("/s");
  EXPECT_FALSE(st->under_construction);
  EXPECT_TRUE(ClientRead(client_.get(), "/s") == part1 + part2);

  // Staged (overwrite in place): fsync writes the whole file back into the same inode.
  fd = open(M("s").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "HEAD", 4, 0), 4);
  ASSERT_EQ(fsync(fd), 0);
  std::string expect = part1 + part2;
  expect.replace(0, 4, "HEAD");
  EXPECT_TRUE(ClientRead(client_.get(), "/s") == expect);
  EXPECT_EQ(client_->Stat("/s")->inode_id, st->inode_id);
  ASSERT_EQ(pwrite(fd, "TAIL", 4, expect.size() - 4), 4);
  ASSERT_EQ(close(fd), 0);
  expect.replace(expect.size() - 4, 4, "TAIL");
  EXPECT_TRUE(ClientRead(client_.get(), "/s") == expect);

  // And the other way round: what another client writes is seen after the attribute timeout
  // (a new name: once the mount's listing of the directory, if it has one, is that old).
  auto out = client_->Create("/from-client", {});
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->Write("abc", 3).ok());
  ASSERT_TRUE((*out)->Close().ok());
  EXPECT_TRUE(WaitFor([&] { return ReadFile(M("from-client")) == "abc"; }, 3000));
}

// Lookups of new names in a directory the mount knows completely (it created it, or listed it
// less than the entry timeout ago) are answered without the NameNode: here a long timeout
// makes the mount's answer stale on purpose. Names changed through the mount are always asked.
TEST_F(FuseSemanticsTest, LookupsOfNewNamesAnsweredFromAFreshListing) {
  ASSERT_NO_FATAL_FAILURE(
      StartMount(SmallCluster(), {"attr_timeout=60", "entry_timeout=60"}));
  ASSERT_EQ(Errno(mkdir(M("d").c_str(), 0755)), 0);
  ASSERT_EQ(WriteFile(M("d/mine"), "1"), 0);
  ASSERT_TRUE(client_->Mkdir("/d/theirs").ok());  // another client, behind our back
  struct stat st;
  EXPECT_EQ(Errno(stat(M("d/theirs").c_str(), &st)), ENOENT) << "asked the NameNode";
  EXPECT_EQ(Errno(stat(M("d/mine").c_str(), &st)), 0);
  EXPECT_EQ(st.st_size, 1);
  // Creating the name through the mount is not fooled by the stale answer.
  EXPECT_EQ(Errno(mkdir(M("d/theirs").c_str(), 0755)), EEXIST);
  EXPECT_EQ(Errno(stat(M("d/theirs").c_str(), &st)), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(WriteFile(M("d/x"), "x", O_WRONLY | O_CREAT | O_EXCL), 0);
  ASSERT_EQ(Errno(unlink(M("d/mine").c_str())), 0);
  EXPECT_EQ(Errno(stat(M("d/mine").c_str(), &st)), ENOENT);
  EXPECT_EQ(ListDir(M("d")), (std::set<std::string>{".", "..", "theirs", "x"}));
  // Without the listing cache every lookup goes to the NameNode.
  mount_.Unmount();
  ASSERT_TRUE(mount_.Mount(cluster_->namenode_address(),
                           {"attr_timeout=60", "entry_timeout=60", "no_dir_cache"}).ok());
  ASSERT_EQ(Errno(mkdir(M("e").c_str(), 0755)), 0);
  ASSERT_TRUE(client_->Mkdir("/e/theirs").ok());
  EXPECT_EQ(Errno(stat(M("e/theirs").c_str(), &st)), 0);
}

// A directory handle opened before its directory was renamed lists by its old path, which now
// names another directory: that listing must not become the renamed directory's (it would
// answer its names ENOENT).
TEST_F(FuseSemanticsTest, ListingThroughAStaleHandleIsNotCachedForTheRenamedDirectory) {
  ASSERT_NO_FATAL_FAILURE(
      StartMount(SmallCluster(), {"attr_timeout=60", "entry_timeout=60"}));
  ASSERT_EQ(Errno(mkdir(M("d").c_str(), 0755)), 0);
  ASSERT_EQ(WriteFile(M("d/a"), "A"), 0);
  DIR* h = opendir(M("d").c_str());
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(Errno(rename(M("d").c_str(), M("d.old").c_str())), 0);
  ASSERT_EQ(Errno(mkdir(M("d").c_str(), 0755)), 0);
  std::set<std::string> listed;
  while (struct dirent* e = readdir(h)) listed.insert(e->d_name);  // the new, empty "d"
  closedir(h);
  EXPECT_EQ(listed.count("a"), 0u);
  // The kernel forgets its entries: "a" is looked up in d.old again.
  std::ofstream("/proc/sys/vm/drop_caches") << "2";
  struct stat st;
  EXPECT_EQ(Errno(stat(M("d.old/a").c_str(), &st)), 0);
  EXPECT_EQ(ReadFile(M("d.old/a")), "A");
}

TEST_F(FuseSemanticsTest, WriteBackConflictReturnsEstaleAndKeepsTheData) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_EQ(WriteFile(M("c"), "original"), 0);
  int fd = open(M("c").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "MINE", 4, 0), 4);  // staged now
  // Another client replaces the file meanwhile.
  ASSERT_TRUE(client_->Delete("/c").ok());
  auto out = client_->Create("/c", {});
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->Write("theirs", 6).ok());
  ASSERT_TRUE((*out)->Close().ok());
  EXPECT_EQ(Errno(close(fd)), ESTALE);
  EXPECT_EQ(ClientRead(client_.get(), "/c"), "theirs");  // not clobbered
  // The staged copy is kept and its place logged.
  bool found = false;
  for (const auto& e : std::filesystem::recursive_directory_iterator(staging_)) {
    if (e.is_regular_file() && ReadFile(e.path()) == "MINEinal") found = true;
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(WaitFor([&] { return mount_.log().find("the data is kept in") != std::string::npos; },
                      5000))
      << mount_.log();
}

TEST_F(FuseSemanticsTest, UnlinkedOpenFileStaysUsable) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_EQ(WriteFile(M("u"), "still here"), 0);
  int fd = open(M("u").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(Errno(unlink(M("u").c_str())), 0);
  char buf[32] = {0};
  ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 10);
  EXPECT_EQ(std::string(buf, 10), "still here");
  ASSERT_EQ(pwrite(fd, "S", 1, 0), 1);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 10);
  EXPECT_EQ(Errno(close(fd)), 0);  // nothing to write back: the file is gone
  EXPECT_FALSE(client_->Stat("/u").ok());
}

// A file unlinked or renamed over while open has no name left: fstat says st_nlink 0 (it
// said 1), also in the attributes of a setattr on it.
TEST_F(FuseSemanticsTest, RemovedOpenFileHasNoLinks) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_EQ(WriteFile(M("u"), "unlinked"), 0);
  ASSERT_EQ(WriteFile(M("r"), "renamed over"), 0);
  ASSERT_EQ(WriteFile(M("new"), "new"), 0);
  const int unlinked = open(M("u").c_str(), O_RDONLY);
  ASSERT_GE(unlinked, 0);
  const int renamed_over = open(M("r").c_str(), O_RDONLY);
  ASSERT_GE(renamed_over, 0);
  struct stat st;
  ASSERT_EQ(fstat(unlinked, &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
  ASSERT_EQ(Errno(unlink(M("u").c_str())), 0);
  ASSERT_EQ(Errno(rename(M("new").c_str(), M("r").c_str())), 0);
  for (int fd : {unlinked, renamed_over}) {
    SCOPED_TRACE(fd == unlinked ? "unlinked" : "renamed over");
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_nlink, 0u);
    ASSERT_EQ(Errno(fchmod(fd, 0600)), 0);
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_nlink, 0u);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(Errno(close(fd)), 0);
  }
  ASSERT_EQ(stat(M("r").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
}

// ftruncate, fchmod, fchown and futimens on a descriptor of a file unlinked or renamed over
// through the mount work on what is left of it, as on a local file system (were ESTALE).
TEST_F(FuseSemanticsTest, SetAttrOnARemovedOpenFile) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  struct timespec times[2] = {{1600000000, 0}, {1700000000, 0}};
  ASSERT_EQ(WriteFile(M("u"), "data1234"), 0);
  ASSERT_EQ(WriteFile(M("r"), "replaced"), 0);
  ASSERT_EQ(WriteFile(M("new"), "new"), 0);
  const int unlinked = open(M("u").c_str(), O_RDWR);
  ASSERT_GE(unlinked, 0);
  const int renamed_over = open(M("r").c_str(), O_RDWR);
  ASSERT_GE(renamed_over, 0);
  ASSERT_EQ(Errno(unlink(M("u").c_str())), 0);
  ASSERT_EQ(Errno(rename(M("new").c_str(), M("r").c_str())), 0);
  for (int fd : {unlinked, renamed_over}) {
    SCOPED_TRACE(fd == unlinked ? "unlinked" : "renamed over");
    ASSERT_EQ(Errno(ftruncate(fd, 3)), 0);
    char buf[16] = {0};
    ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 3);
    EXPECT_EQ(std::string(buf, 3), fd == unlinked ? "dat" : "rep");
    ASSERT_EQ(Errno(fchmod(fd, 0600)), 0);
    ASSERT_EQ(Errno(fchown(fd, 65534, 65534)), 0);
    ASSERT_EQ(Errno(futimens(fd, times)), 0);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_size, 3);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, 65534u);
    EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
    EXPECT_EQ(st.st_atim.tv_sec, 1600000000);
    ASSERT_EQ(pwrite(fd, "XY", 2, 3), 2);
    ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 5);
    EXPECT_EQ(std::string(buf, 5), fd == unlinked ? "datXY" : "repXY");
    ASSERT_EQ(fstat(fd, &st), 0);  // (the write dropped the kernel's attributes: a getattr)
    EXPECT_EQ(st.st_size, 5);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(Errno(close(fd)), 0);
  }
  EXPECT_FALSE(client_->Stat("/u").ok());
  EXPECT_EQ(ReadFile(M("r")), "new");
  EXPECT_EQ(ClientRead(client_.get(), "/r"), "new");
}

TEST_F(FuseSemanticsTest, LostConnectivityIsEio) {
  ASSERT_NO_FATAL_FAILURE(StartMount(SmallCluster(), {"rpc_timeout_ms=1500"}));
  ASSERT_EQ(WriteFile(M("before"), "x"), 0);
  cluster_->StopNameNode();
  const int64_t start = MonoMillis();
  struct stat st;
  EXPECT_EQ(Errno(stat(M("new-name").c_str(), &st)), EIO);
  EXPECT_EQ(Errno(mkdir(M("new-dir").c_str(), 0755)), EIO);
  EXPECT_EQ(WriteFile(M("new-file"), "z"), EIO);
  EXPECT_LT(MonoMillis() - start, 20000);
  ASSERT_TRUE(cluster_->RestartNameNode().ok());
  // The mount recovers once the client library reconnects (gRPC's reconnect back-off).
  EXPECT_TRUE(WaitFor([&] { return WriteFile(M("after"), "y") == 0; }, 30000));
  EXPECT_EQ(ReadFile(M("after")), "y");
  EXPECT_EQ(ReadFile(M("before")), "x");
}

TEST_F(FuseSemanticsTest, StatfsReportsClusterCapacity) {
  MiniClusterOptions o = SmallCluster();
  o.num_datanodes = 2;
  o.capacity_bytes_per_volume = 64 << 20;
  ASSERT_NO_FATAL_FAILURE(StartMount(o));
  struct statvfs sv;
  ASSERT_EQ(statvfs(mount_.dir().c_str(), &sv), 0);
  EXPECT_EQ(sv.f_blocks * sv.f_frsize, 2ull * (64 << 20));
  EXPECT_LE(sv.f_bavail * sv.f_frsize, 2ull * (64 << 20));
  EXPECT_GT(sv.f_bavail, 0u);
  EXPECT_EQ(sv.f_namemax, 255u);
  std::string df = Sh("df -B1 " + Quote(mount_.dir()));
  EXPECT_NE(df.find(std::to_string(2ull * (64 << 20))), std::string::npos) << df;
}

// `df -i` counts the namespace's inodes: the root, then every file, directory and symlink.
TEST_F(FuseSemanticsTest, StatfsCountsUsedInodes) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  auto used = [&] {
    struct statvfs sv;
    if (statvfs(mount_.dir().c_str(), &sv) != 0) return uint64_t{0};
    return static_cast<uint64_t>(sv.f_files - sv.f_ffree);
  };
  const uint64_t before = used();
  EXPECT_GE(before, 1u) << "the root at least";
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(WriteFile(M("d/f" + std::to_string(i)), "x"), 0);
  ASSERT_EQ(symlink("d/f0", M("link").c_str()), 0);
  // (statfs answers may be cached for a moment)
  EXPECT_TRUE(WaitFor([&] { return used() == before + 7; }, 10000)) << used() << " vs " << before;
  ASSERT_EQ(unlink(M("d/f0").c_str()), 0);
  EXPECT_TRUE(WaitFor([&] { return used() == before + 6; }, 10000)) << used() << " vs " << before;
  std::string df = Sh("df -i " + Quote(mount_.dir()));
  EXPECT_NE(df.find(absl::StrCat(" ", before + 6, " ")), std::string::npos) << df;
}

TEST_F(FuseSemanticsTest, SigtermWritesBackOpenFilesAndUnmounts) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_EQ(WriteFile(M("staged"), "0000000000"), 0);
  int staged = open(M("staged").c_str(), O_RDWR);
  ASSERT_GE(staged, 0);
  ASSERT_EQ(pwrite(staged, "1111", 4, 3), 4);
  int streamed = open(M("streamed").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(streamed, 0);
  ASSERT_EQ(write(streamed, "streamed data", 13), 13);
  ASSERT_EQ(kill(mount_.pid(), SIGTERM), 0);
  EXPECT_EQ(mount_.WaitForExit(30000), 0) << mount_.log();
  EXPECT_FALSE(IsFuseMounted(mount_.dir()));
  close(staged);  // the connection is gone: errors do not matter
  close(streamed);
  EXPECT_EQ(ClientRead(client_.get(), "/staged"), "0001111000");
  EXPECT_EQ(ClientRead(client_.get(), "/streamed"), "streamed data");
  EXPECT_FALSE(client_->Stat("/streamed")->under_construction);
}

TEST_F(FuseSemanticsTest, FusermountUnmountsCleanly) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_EQ(WriteFile(M("x"), "x"), 0);
  Sh("fusermount3 -u " + Quote(mount_.dir()));
  EXPECT_EQ(mount_.WaitForExit(20000), 0) << mount_.log();
  EXPECT_FALSE(IsFuseMounted(mount_.dir()));
  EXPECT_EQ(ClientRead(client_.get(), "/x"), "x");
}

TEST_F(FuseSemanticsTest, DaemonModeDetachesAfterMountingAndReportsErrorsFirst) {
  cluster_ = std::make_unique<MiniCluster>(SmallCluster());
  ASSERT_TRUE(cluster_->Start().ok());
  auto c = cluster_->NewClient();
  ASSERT_TRUE(c.ok());
  client_ = std::move(*c);
  const std::string mnt = S("daemon-mnt");
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  const std::string bin = Quote(FuseBinary());
  const std::string pid_file = S("fuse.pid");
  struct Cleanup {  // whatever happens below: no daemon and no mount survive the test
    std::string mnt, pid_file;
    ~Cleanup() {
      if (IsFuseMounted(mnt)) Shell("fusermount3 -u " + Quote(mnt) + " || umount -l " + Quote(mnt));
      pid_t pid = 0;
      std::ifstream(pid_file) >> pid;
      if (pid > 0 && WaitFor([&] { return !ProcessAlive(pid); }, 10000) == false) kill(pid, SIGKILL);
    }
  } cleanup{mnt, pid_file};

  // An unreachable NameNode: the error is printed and nothing is mounted.
  ShellResult bad = Shell(bin + " " + Quote(mnt) + " --namenode 127.0.0.1:1 -o rpc_timeout_ms=1000", 30000);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("127.0.0.1:1"), std::string::npos) << bad.output;
  EXPECT_FALSE(IsFuseMounted(mnt));

  // The address from $CAIRN_NAMENODE; the command returns once mounted.
  ShellResult ok = Shell("CAIRN_NAMENODE=" + cluster_->namenode_address() + " " + bin + " " +
                             Quote(mnt) + " -o pid_file=" + Quote(pid_file) + ",staging_dir=" +
                             Quote(staging_),
                         30000);
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(IsFuseMounted(mnt));
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  std::ofstream(mnt + "/hello") << "daemon";
  EXPECT_EQ(ClientRead(client_.get(), "/hello"), "daemon");
  Sh("fusermount3 -u " + Quote(mnt));
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 20000));  // the daemon exits
  EXPECT_FALSE(IsFuseMounted(mnt));
}

}  // namespace
}  // namespace cairn::testing
