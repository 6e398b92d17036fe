// ADD's archive detection and unpacking, on archives written with libarchive.
#include "engine/build/add_archive.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "engine/base/fs.h"
#include "tests/engine/image/test_layers.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

class AddArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("slipway-add-archive"); }
  void TearDown() override { (void)RemoveTree(dir_); }

  std::string Put(const std::string& name, const std::string& data) {
    WriteTestFile(dir_ + "/" + name, data);
    return dir_ + "/" + name;
  }
  std::string NewDir(const std::string& name) {
    EXPECT_TRUE(MakeDirs(dir_ + "/" + name).ok());
    return dir_ + "/" + name;
  }

  std::string dir_;
};

TEST_F(AddArchiveTest, RecognisesTarsByContentNotName) {
  std::string tar = MakeTar({File("a.txt", "a\n")});
  EXPECT_TRUE(*IsTarArchive(Put("plain.bin", tar)));
  EXPECT_TRUE(*IsTarArchive(Put("gz.bin", Compress(tar, Compression::kGzip))));
  EXPECT_TRUE(*IsTarArchive(Put("zst.bin", Compress(tar, Compression::kZstd))));
  // A gzip'd text file and a file named like an archive are not archives.
  EXPECT_FALSE(*IsTarArchive(Put("notes.gz", Compress("just text\n", Compression::kGzip))));
  EXPECT_FALSE(*IsTarArchive(Put("fake.tar.gz", "not an archive at all")));
  EXPECT_FALSE(*IsTarArchive(Put("empty.tar", "")));
  EXPECT_FALSE(IsTarArchive(dir_ + "/missing").ok());
}

TEST_F(AddArchiveTest, UnpacksWithTheArchivesOwnersAndModes) {
  TarEntry file = File("app/bin/tool", "#!/bin/sh\n", 0750);
  file.uid = 1234;
  file.gid = 5678;
  std::string archive =
      Put("a.tgz", Compress(MakeTar({Dir("app"), Dir("app/bin"), file}), Compression::kGzip));
  std::string dest = NewDir("out");
  ASSERT_TRUE(UnpackArchive(archive, dest, 0).ok());
  struct stat st;
  ASSERT_EQ(::stat((dest + "/app/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(*ReadFile(dest + "/app/bin/tool"), "#!/bin/sh\n");
}

TEST_F(AddArchiveTest, HostileEntriesStayInside) {
  std::string archive = Put("evil.tar", MakeTar({File("../escaped", "x"), File("/abs", "y"),
                                                 Symlink("link", "/"), File("link/through", "z")}));
  std::string dest = NewDir("out");
  (void)UnpackArchive(archive, dest, 0);  // refused or contained, never outside
  EXPECT_FALSE(PathExists(dir_ + "/escaped"));
  EXPECT_FALSE(PathExists("/through"));
  auto abs = ReadFile("/abs");
  EXPECT_FALSE(abs.ok() && *abs == "y");
}

TEST_F(AddArchiveTest, WhiteoutNamesAreRefused) {
  std::string archive = Put("wh.tar", MakeTar({File("d/.wh.gone", "")}));
  std::string dest = NewDir("out");
  Status status = UnpackArchive(archive, dest, 0);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(".wh."), std::string::npos) << status.ToString();
  EXPECT_TRUE(ListDir(dest).empty());
}

// A small archive that expands far beyond the cap (a decompression bomb)
// stops at the cap, however small it looks.
TEST_F(AddArchiveTest, ExpansionIsCapped) {
  std::string bomb = Compress(MakeTar({File("zeros", std::string(16 << 20, '\0'))}), Compression::kGzip);
  ASSERT_LT(bomb.size(), 100u << 10);
  std::string archive = Put("bomb.tgz", bomb);
  Status capped = UnpackArchive(archive, NewDir("capped"), 1 << 20);
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.code(), Code::kResourceExhausted) << capped.ToString();
  EXPECT_NE(capped.message().find("expands to more than 1048576 bytes"), std::string::npos)
      << capped.ToString();
  EXPECT_TRUE(UnpackArchive(archive, NewDir("uncapped"), 32 << 20).ok());
}

}  // namespace
}  // namespace slipway::testing
