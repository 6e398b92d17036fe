#include "engine/image/snapshots.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "tests/engine/image/test_layers.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

using testing::Compression;
using testing::Dir;
using testing::File;
using testing::TarEntry;

class SnapshotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("snapshots");
    root_ = dir_ + "/snapshots";
    auto store = SnapshotStore::Open(root_);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }

  // Writes a gzip layer blob; returns its diff_id (the sha256 of the tar).
  Digest WriteLayer(const std::string& name, const std::vector<TarEntry>& entries) {
    std::string tar = testing::MakeTar(entries);
    testing::WriteTestFile(dir_ + "/" + name, testing::Compress(tar, Compression::kGzip));
    return Digest::Of(tar);
  }
  std::string Blob(const std::string& name) const { return dir_ + "/" + name; }

  // The names in the store's root.
  std::vector<std::string> RootNames() const {
    std::vector<std::string> out;
    for (const std::string& p : testing::ListTree(root_)) {
      if (p.find('/', root_.size() + 1) == std::string::npos) out.push_back(p.substr(root_.size() + 1));
    }
    return out;
  }

  std::string dir_, root_;
  std::unique_ptr<SnapshotStore> store_;
};

TEST_F(SnapshotStoreTest, CreateHasPathListRemove) {
  Digest diff = WriteLayer("l0", {Dir("etc"), File("etc/hostname", "box\n")});
  Digest chain = ChainId(Digest(), diff);
  EXPECT_FALSE(store_->Has(chain));
  auto r = store_->Create(chain, Blob("l0"), diff);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->diff_id, diff);
  EXPECT_EQ(r->entries, 2);
  EXPECT_TRUE(store_->Has(chain));
  EXPECT_EQ(store_->Path(chain), root_ + "/" + chain.hex());
  EXPECT_EQ(*ReadFile(store_->Path(chain) + "/etc/hostname"), "box\n");
  EXPECT_EQ(store_->List(), std::vector<Digest>{chain});
  EXPECT_EQ(RootNames(), std::vector<std::string>{chain.hex()});

  struct stat st;
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);  // setuid binaries in layers stay out of host users' reach
  ASSERT_EQ(::stat(store_->Path(chain).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  ASSERT_TRUE(store_->Remove(chain).ok());
  EXPECT_FALSE(store_->Has(chain));
  EXPECT_TRUE(RootNames().empty());
  EXPECT_EQ(store_->Remove(chain).code(), Code::kNotFound);
  EXPECT_TRUE(store_->List().empty());
}

TEST_F(SnapshotStoreTest, WrongDiffIdLeavesNothing) {
  Digest diff = WriteLayer("l0", {File("a", "a")});
  Digest claimed = Digest::Of("some other layer");
  auto r = store_->Create(claimed, Blob("l0"), claimed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(diff.str()), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(claimed.str()), std::string::npos) << r.status().message();
  EXPECT_FALSE(store_->Has(claimed));
  EXPECT_TRUE(RootNames().empty());
}

// The gate (a streamed layer's blob digest check) is asked after the layer
// was unpacked and its diff_id checked, while the snapshot has no name yet;
// its refusal leaves nothing and is the error.
TEST_F(SnapshotStoreTest, AGateRefusingAfterTheUnpackLeavesNothing) {
  Digest diff = WriteLayer("l0", {Dir("etc"), File("etc/hostname", "box\n")});
  Digest chain = ChainId(Digest(), diff);
  auto source = FileBlobSource(Blob("l0"));
  ASSERT_TRUE(source.ok()) << source.status().message();
  std::vector<std::string> seen_by_gate;
  auto refuse = [&] {
    seen_by_gate = RootNames();
    return InvalidArgument("commit blob: digest mismatch: expected sha256:aaa, got sha256:bbb");
  };
  auto r = store_->Create(chain, *source, "sha256:layer", diff, refuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("layer sha256:layer: commit blob: digest mismatch"), std::string::npos)
      << r.status().message();
  ASSERT_EQ(seen_by_gate.size(), 1u);
  EXPECT_TRUE(seen_by_gate[0].starts_with("tmp-")) << seen_by_gate[0];  // unpacked, not named
  EXPECT_FALSE(store_->Has(chain));
  EXPECT_TRUE(RootNames().empty());

  auto allowed = store_->Create(chain, *source, "sha256:layer", diff, [] { return Status::Ok(); });
  ASSERT_TRUE(allowed.ok()) << allowed.status().message();
  EXPECT_EQ(*ReadFile(store_->Path(chain) + "/etc/hostname"), "box\n");
}

TEST_F(SnapshotStoreTest, HostileLayerLeavesNothing) {
  Digest diff = WriteLayer("l0", {File("a", "a"), File("b/c", "c"), File("../escape", "x")});
  auto r = store_->Create(diff, Blob("l0"), diff);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("../escape"), std::string::npos) << r.status().message();
  EXPECT_TRUE(RootNames().empty());
  EXPECT_FALSE(PathExists(dir_ + "/escape"));
}

TEST_F(SnapshotStoreTest, ConcurrentCreateOfTheSameChainId) {
  std::vector<TarEntry> entries;
  for (int i = 0; i < 300; ++i) {
    entries.push_back(File("d" + std::to_string(i % 10) + "/f" + std::to_string(i), "x"));
  }
  Digest diff = WriteLayer("l0", entries);
  constexpr int kThreads = 4;
  std::vector<Result<UnpackStats>> results(kThreads, Result<UnpackStats>(Internal("not run")));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = store_->Create(diff, Blob("l0"), diff); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(RootNames(), std::vector<std::string>{diff.hex()});
  EXPECT_EQ(testing::ListTree(store_->Path(diff)).size(), 310u);
}

TEST_F(SnapshotStoreTest, OpenRemovesStaleTmpDirsButNotLockedOnes) {
  ASSERT_TRUE(MakeDirs(root_ + "/tmp-crashed/usr/bin").ok());
  testing::WriteTestFile(root_ + "/tmp-crashed/usr/bin/x", "x");
  testing::WriteTestFile(root_ + "/tmp-file", "x");
  ASSERT_TRUE(MakeDirs(root_ + "/tmp-busy").ok());
  UniqueFd busy(::open((root_ + "/tmp-busy").c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_EQ(::flock(busy.get(), LOCK_EX), 0);
  Digest diff = WriteLayer("l0", {File("a", "a")});
  ASSERT_TRUE(store_->Create(diff, Blob("l0"), diff).ok());

  auto reopened = SnapshotStore::Open(root_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  std::vector<std::string> names = RootNames();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{diff.hex(), "tmp-busy"}));
  EXPECT_TRUE((*reopened)->Has(diff));
}

TEST_F(SnapshotStoreTest, RemoveNeverFollowsSymlinks) {
  std::string host = dir_ + "/host";
  ASSERT_TRUE(MakeDirs(host).ok());
  testing::WriteTestFile(host + "/precious", "keep");
  TarEntry link = testing::Symlink("evil", host);
  TarEntry file_link = testing::Symlink("evil-file", host + "/precious");
  Digest diff = WriteLayer("l0", {link, file_link, File("a", "a")});
  ASSERT_TRUE(store_->Create(diff, Blob("l0"), diff).ok());
  // Point a symlink at the host for real (the layer's own ones are relative
  // to the snapshot only when resolved in root).
  ASSERT_EQ(::symlink(host.c_str(), (store_->Path(diff) + "/real-evil").c_str()), 0);
  ASSERT_TRUE(store_->Remove(diff).ok());
  EXPECT_EQ(*ReadFile(host + "/precious"), "keep");
  EXPECT_TRUE(RootNames().empty());
}

// Runs `fn` in a child process with a private mount namespace: nothing it
// mounts can leak to the host. Returns the child's exit status.
template <typename Fn>
int InPrivateMountNamespace(Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(100);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(101);
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

TEST_F(SnapshotStoreTest, RemoveNeverCrossesMounts) {
  Digest diff = WriteLayer("l0", {Dir("mnt"), File("a", "a")});
  ASSERT_TRUE(store_->Create(diff, Blob("l0"), diff).ok());
  std::string mnt = store_->Path(diff) + "/mnt";
  int rc = InPrivateMountNamespace([&] {
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, nullptr) != 0) return 1;
    testing::WriteTestFile(mnt + "/precious", "keep");
    if (store_->Remove(diff).ok()) return 2;  // must refuse to delete through the mount
    std::string moved;
    for (const std::string& name : RootNames()) moved = root_ + "/" + name;  // renamed away first
    if (!PathExists(moved + "/mnt/precious")) return 3;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  // Without the mount (the child's namespace is gone), Open finishes the removal.
  ASSERT_TRUE(SnapshotStore::Open(root_).ok());
  EXPECT_TRUE(RootNames().empty());
}

TEST_F(SnapshotStoreTest, OverlayMergesSnapshotsWithWhiteoutsAndOpaqueDirs) {
  Digest lower = WriteLayer("lower", {File("a", "a"), File("b", "b"), Dir("d"), File("d/x", "x")});
  Digest upper =
      WriteLayer("upper", {File(".wh.a", ""), Dir("d"), File("d/.wh..wh..opq", ""), File("d/y", "y")});
  Digest lower_chain = ChainId(Digest(), lower);
  Digest upper_chain = ChainId(lower_chain, upper);
  ASSERT_TRUE(store_->Create(lower_chain, Blob("lower"), lower).ok());
  ASSERT_TRUE(store_->Create(upper_chain, Blob("upper"), upper).ok());
  std::string merged = dir_ + "/merged";
  ASSERT_TRUE(MakeDirs(merged).ok());
  std::string opts = "lowerdir=" + store_->Path(upper_chain) + ":" + store_->Path(lower_chain);
  int rc = InPrivateMountNamespace([&] {
    if (::mount("overlay", merged.c_str(), "overlay", MS_RDONLY, opts.c_str()) != 0) return 1;
    int bad = 0;
    if (PathExists(merged + "/a")) bad |= 2;
    if (!PathExists(merged + "/b")) bad |= 4;
    if (PathExists(merged + "/d/x")) bad |= 8;
    auto y = ReadFile(merged + "/d/y");
    if (!y.ok() || *y != "y") bad |= 16;
    if (testing::ListTree(merged).size() != 3) bad |= 32;  // b, d, d/y
    return bad;
  });
  EXPECT_EQ(rc, 0)
      << "1: mount failed, 2: whiteout ignored, 4: b missing, 8: opaque ignored, 16: d/y, 32: extra";
  // And the mount stayed in the child's namespace.
  EXPECT_TRUE(testing::ListTree(merged).empty());
}

}  // namespace
}  // namespace slipway
