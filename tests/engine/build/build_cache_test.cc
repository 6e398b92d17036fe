// The build cache on disk: recorded sizes, last uses, eviction of the least
// recently used entries, and what a crash can leave. Plain directories, no
// builds: every last use is set explicitly, so no test sleeps.
#include "engine/build/build_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

class BuildCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("slipway-build-cache");
    dir_ = root_ + "/cache";
    cache_ = BuildCache(dir_);
  }
  void TearDown() override { (void)RemoveTree(root_); }

  static Digest Key(const std::string& name) { return Digest::Of(name); }
  std::string EntryDir(const std::string& name) const { return dir_ + "/" + Key(name).hex(); }

  // A layer dir holding `bytes` of data, stored under Key(name).
  BuildCache::Entry Store(const std::string& name, size_t bytes = 64 << 10) {
    std::string layer = root_ + "/layer-" + name;
    EXPECT_TRUE(MakeDirs(layer + "/sub").ok());
    EXPECT_TRUE(WriteFileAtomic(layer + "/sub/data", std::string(bytes, 'x'), 0644, false).ok());
    auto entry = cache_.Store(Key(name), layer, LayerSource::kPlainDir);
    EXPECT_TRUE(entry.ok()) << entry.status().ToString();
    return entry.ok() ? *entry : BuildCache::Entry{};
  }

  int64_t RecordedSize(const std::string& name) const {
    auto text = ReadFile(EntryDir(name) + "/size");
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    return text.ok() ? std::strtoll(text->c_str(), nullptr, 10) : -1;
  }

  static void SetUsed(const std::string& path, time_t seconds) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, {seconds, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
  }
  static time_t Used(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mtim.tv_sec;
  }

  // du's count of the bytes `path` takes, to check ours against.
  static int64_t Du(const std::string& path) {
    std::string out;
    EXPECT_EQ(RunShell("du -s -B1 -P '" + path + "'", &out), 0) << out;
    return std::strtoll(out.c_str(), nullptr, 10);
  }

  std::string ImageFile(const std::string& name) const { return dir_ + "/image-" + Key(name).hex(); }
  void RememberImage(const std::string& name, time_t used) {
    cache_.RememberImage(Key(name), Digest::Of("manifest " + name));
    SetUsed(ImageFile(name), used);
  }

  // What is in the cache dir besides entries and image-* files.
  std::vector<std::string> Others() const {
    std::vector<std::string> out;
    for (const std::string& name : ListDir(dir_))
      if (name.size() != 64 && name.rfind("image-", 0) != 0) out.push_back(name);
    return out;
  }

  std::string root_, dir_;
  BuildCache cache_{""};  // on dir_, from SetUp
};

TEST_F(BuildCacheTest, StoreRecordsTheLayerSizeOnDisk) {
  std::string layer = root_ + "/layer";
  ASSERT_TRUE(MakeDirs(layer + "/d").ok());
  ASSERT_TRUE(WriteFileAtomic(layer + "/d/big", std::string(200 << 10, 'x'), 0644, false).ok());
  // A second name of the same file takes no more room; what a symlink
  // points to is not the layer's.
  ASSERT_EQ(::link((layer + "/d/big").c_str(), (layer + "/hardlink").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(root_ + "/outside", std::string(1 << 20, 'y'), 0644, false).ok());
  ASSERT_EQ(::symlink((root_ + "/outside").c_str(), (layer + "/symlink").c_str()), 0);

  auto entry = cache_.Store(Key("a"), layer, LayerSource::kOverlayUpper);
  ASSERT_TRUE(entry.ok()) << entry.status().ToString();
  ASSERT_EQ(entry->layer_dir, EntryDir("a") + "/layer");
  int64_t size = RecordedSize("a");
  EXPECT_EQ(size, Du(entry->layer_dir));
  EXPECT_GE(size, 200 << 10);
  EXPECT_LT(size, 400 << 10);

  auto empty = cache_.Store(Key("nothing"), "", LayerSource::kPlainDir);
  ASSERT_TRUE(empty.ok() && empty->empty);
  EXPECT_EQ(RecordedSize("nothing"), 0);
}

TEST_F(BuildCacheTest, EvictsTheLeastRecentlyUsedFirst) {
  Store("a");
  Store("b");
  Store("c");
  SetUsed(EntryDir("a"), 1000);
  SetUsed(EntryDir("b"), 3000);
  SetUsed(EntryDir("c"), 2000);
  int64_t a = RecordedSize("a"), b = RecordedSize("b"), c = RecordedSize("c");
  ASSERT_GT(a, 0);

  // One byte over: the oldest goes, a alone.
  auto stats = EvictBuildCache(dir_, a + b + c - 1);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->entries_removed, 1);
  EXPECT_EQ(stats->bytes_removed, a);
  EXPECT_EQ(stats->bytes_kept, b + c);
  EXPECT_FALSE(PathExists(EntryDir("a")));
  EXPECT_FALSE(cache_.Lookup(Key("a")));
  EXPECT_TRUE(PathExists(EntryDir("b")) && PathExists(EntryDir("c")));

  // Then c, older than b.
  stats = EvictBuildCache(dir_, b);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->entries_removed, 1);
  EXPECT_EQ(stats->bytes_kept, b);
  EXPECT_FALSE(PathExists(EntryDir("c")));
  EXPECT_TRUE(cache_.Lookup(Key("b")));
  EXPECT_TRUE(Others().empty());  // removed through tmp-*, none left
}

TEST_F(BuildCacheTest, ALookupHitKeepsAnEntry) {
  Store("a");
  Store("b");
  SetUsed(EntryDir("a"), 1000);
  SetUsed(EntryDir("b"), 2000);
  ASSERT_TRUE(cache_.Lookup(Key("a")));
  EXPECT_GT(Used(EntryDir("a")), ::time(nullptr) - 600);
  EXPECT_FALSE(cache_.Lookup(Key("missing")));

  auto stats = EvictBuildCache(dir_, RecordedSize("a"));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->entries_removed, 1);
  EXPECT_TRUE(cache_.Lookup(Key("a")));
  EXPECT_FALSE(PathExists(EntryDir("b")));
}

TEST_F(BuildCacheTest, StoreMarksTheEntryUsed) {
  Store("a");
  SetUsed(EntryDir("a"), 1000);
  // Storing a key again uses the entry there, which counts as a use.
  Store("a");
  EXPECT_GT(Used(EntryDir("a")), ::time(nullptr) - 600);
}

TEST_F(BuildCacheTest, ALookupImageHitKeepsAnImageFile) {
  Store("a");
  Store("b");
  SetUsed(EntryDir("a"), 1000);
  SetUsed(EntryDir("b"), 3000);
  RememberImage("one", 500);
  RememberImage("two", 500);
  ASSERT_TRUE(cache_.LookupImage(Key("one")));
  EXPECT_GT(Used(ImageFile("one")), ::time(nullptr) - 600);

  auto stats = EvictBuildCache(dir_, RecordedSize("b"));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->entries_removed, 1);
  EXPECT_TRUE(cache_.LookupImage(Key("one")));
  EXPECT_FALSE(PathExists(ImageFile("two")));
}

TEST_F(BuildCacheTest, DropsImageFilesUsedBeforeTheOldestEntryKept) {
  Store("a");
  Store("b");
  SetUsed(EntryDir("a"), 1000);
  SetUsed(EntryDir("b"), 3000);
  RememberImage("older-than-all", 500);
  RememberImage("between", 2000);
  RememberImage("newest", 4000);

  auto stats = EvictBuildCache(dir_, RecordedSize("b"));  // a goes, b stays
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_FALSE(PathExists(ImageFile("older-than-all")));
  EXPECT_FALSE(PathExists(ImageFile("between")));
  EXPECT_TRUE(PathExists(ImageFile("newest")));

  // With no entry kept, those used after the last one removed stay.
  RememberImage("before-b", 2500);
  stats = EvictBuildCache(dir_, 1);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->entries_removed, 1);
  EXPECT_EQ(stats->bytes_kept, 0);
  EXPECT_FALSE(PathExists(ImageFile("before-b")));
  EXPECT_TRUE(PathExists(ImageFile("newest")));
}

TEST_F(BuildCacheTest, UnderTheCapNothingIsEvicted) {
  Store("a");
  Store("b");
  SetUsed(EntryDir("a"), 1000);
  SetUsed(EntryDir("b"), 2000);
  RememberImage("old", 10);
  int64_t total = RecordedSize("a") + RecordedSize("b");

  for (int64_t cap : {total, total * 10}) {
    auto stats = EvictBuildCache(dir_, cap);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->entries_removed, 0) << cap;
    EXPECT_EQ(stats->bytes_removed, 0) << cap;
    EXPECT_EQ(stats->bytes_kept, total) << cap;
  }
  EXPECT_TRUE(cache_.Lookup(Key("a")) && cache_.Lookup(Key("b")));
  EXPECT_TRUE(PathExists(ImageFile("old")));
}

TEST_F(BuildCacheTest, NoLimitIsANoOp) {
  Store("a");
  SetUsed(EntryDir("a"), 1000);
  ASSERT_EQ(::unlink((EntryDir("a") + "/size").c_str()), 0);
  auto in_use = cache_.Use();  // not even the lock is taken
  ASSERT_TRUE(in_use.ok());
  for (int64_t cap : {int64_t{0}, int64_t{-1}}) {
    auto stats = EvictBuildCache(dir_, cap);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->entries_removed, 0);
    EXPECT_EQ(stats->bytes_removed, 0);
    EXPECT_EQ(stats->bytes_kept, 0);  // nothing measured
  }
  EXPECT_TRUE(cache_.Lookup(Key("a")));
  EXPECT_FALSE(PathExists(EntryDir("a") + "/size"));
}

TEST_F(BuildCacheTest, RefusedWhileABuildUsesTheCache) {
  Store("a");
  {
    auto in_use = cache_.Use();
    ASSERT_TRUE(in_use.ok()) << in_use.status().ToString();
    auto stats = EvictBuildCache(dir_, 1);
    ASSERT_FALSE(stats.ok());
    EXPECT_EQ(stats.status().code(), Code::kFailedPrecondition) << stats.status().ToString();
    EXPECT_TRUE(cache_.Lookup(Key("a")));
  }
  auto stats = EvictBuildCache(dir_, 1);  // the build is done
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->entries_removed, 1);
  EXPECT_FALSE(cache_.Lookup(Key("a")));
}

TEST_F(BuildCacheTest, AnEntryWithoutSizeIsMeasured) {
  Store("old");
  Store("new");
  int64_t old_size = RecordedSize("old");
  // As before sizes were recorded.
  ASSERT_EQ(::unlink((EntryDir("old") + "/size").c_str()), 0);
  SetUsed(EntryDir("old"), 1000);
  SetUsed(EntryDir("new"), 2000);

  auto stats = EvictBuildCache(dir_, 1 << 30);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->bytes_kept, old_size + RecordedSize("new"));
  EXPECT_EQ(RecordedSize("old"), Du(EntryDir("old") + "/layer"));
  EXPECT_EQ(Used(EntryDir("old")), 1000);  // measuring is no use

  // Measured when it is the one to go, too.
  ASSERT_EQ(::unlink((EntryDir("old") + "/size").c_str()), 0);
  SetUsed(EntryDir("old"), 1000);  // (unlinking moved it)
  stats = EvictBuildCache(dir_, RecordedSize("new"));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->entries_removed, 1);
  EXPECT_EQ(stats->bytes_removed, old_size);
  EXPECT_FALSE(PathExists(EntryDir("old")));
}

TEST_F(BuildCacheTest, AHalfRemovedEntryIsAMiss) {
  // What an older version's prune could leave: `layer/` gone first, or a
  // `layer` that is no directory.
  ASSERT_TRUE(MakeDirs(EntryDir("a")).ok());
  ASSERT_TRUE(WriteFileAtomic(EntryDir("a") + "/source", "upper").ok());
  ASSERT_TRUE(MakeDirs(EntryDir("b")).ok());
  ASSERT_TRUE(WriteFileAtomic(EntryDir("b") + "/source", "dir").ok());
  ASSERT_TRUE(WriteFileAtomic(EntryDir("b") + "/layer", "").ok());
  ASSERT_TRUE(MakeDirs(EntryDir("c")).ok());
  EXPECT_FALSE(cache_.Lookup(Key("a")));
  EXPECT_FALSE(cache_.Lookup(Key("b")));
  EXPECT_FALSE(cache_.Lookup(Key("c")));

  // A build storing the key gets its layer all the same, uncached ...
  BuildCache::Entry stored = Store("a");
  EXPECT_FALSE(stored.empty);
  EXPECT_TRUE(PathExists(stored.layer_dir + "/sub/data")) << stored.layer_dir;
  EXPECT_FALSE(cache_.Lookup(Key("a")));

  // ... until eviction, which removes the remains, whatever the cap.
  auto stats = EvictBuildCache(dir_, 1 << 30);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->entries_removed, 0);
  EXPECT_TRUE(ListDir(dir_).empty());
  Store("a");
  EXPECT_TRUE(cache_.Lookup(Key("a")));
}

TEST_F(BuildCacheTest, PruneRemovesEverything) {
  Store("a");
  RememberImage("one", 1000);
  ASSERT_TRUE(PruneBuildCache(dir_).ok());
  EXPECT_FALSE(PathExists(dir_));
  EXPECT_FALSE(cache_.Lookup(Key("a")));
  EXPECT_FALSE(cache_.LookupImage(Key("one")));
}

}  // namespace
}  // namespace slipway::testing
