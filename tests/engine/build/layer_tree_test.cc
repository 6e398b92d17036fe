// LayerTree: the merged view of overlay-format layer dirs (whiteouts, opaque
// directories) and copying out of it without following symlinks. Needs root
// for whiteouts (mknod) and trusted.* xattrs.
#include "engine/build/layer_tree.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>

#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

class LayerTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("slipway-layertree");
    lower_ = root_ + "/lower";
    upper_ = root_ + "/upper";
    for (const char* dir : {"/lower/d/sub", "/lower/gone/inner", "/upper/d"})
      ASSERT_TRUE(MakeDirs(root_ + dir).ok());
    std::ofstream(lower_ + "/d/a") << "a";
    std::ofstream(lower_ + "/d/sub/b") << "b";
    std::ofstream(lower_ + "/x") << "x";
    std::ofstream(lower_ + "/kept") << "kept";
    std::ofstream(lower_ + "/gone/inner/f") << "f";
    std::ofstream(upper_ + "/d/c") << "c";
    ASSERT_EQ(::mknod((upper_ + "/x").c_str(), S_IFCHR | 0600, makedev(0, 0)), 0);
    ASSERT_EQ(::mknod((upper_ + "/gone").c_str(), S_IFCHR | 0600, makedev(0, 0)), 0);
    ASSERT_EQ(::setxattr((upper_ + "/d").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
    ASSERT_EQ(::symlink("/etc", (lower_ + "/link").c_str()), 0);
  }
  void TearDown() override { (void)RemoveTree(root_); }

  std::string root_, lower_, upper_;
};

TEST_F(LayerTreeTest, MergesLikeOverlay) {
  LayerTree tree({upper_, lower_});
  auto root = tree.List("");
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(*root, (std::vector<std::string>{"d", "kept", "link"}));
  auto d = tree.List("d");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (std::vector<std::string>{"c"}));  // opaque: the lower's a and sub are hidden
  for (const char* hidden : {"x", "d/a", "d/sub/b", "gone", "gone/inner/f"}) {
    auto found = tree.Find(hidden);
    ASSERT_TRUE(found.ok()) << hidden << ": " << found.status().ToString();
    EXPECT_FALSE(found->has_value()) << hidden;
  }
  auto kept = tree.Find("kept");
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->root, lower_);
  auto glob = tree.Glob("/d/*");
  ASSERT_TRUE(glob.ok());
  EXPECT_EQ(*glob, (std::vector<std::string>{"d/c"}));
}

TEST_F(LayerTreeTest, NeverFollowsSymlinksOrLeavesTheRoot) {
  LayerTree tree({upper_, lower_});
  EXPECT_FALSE(tree.Find("link/passwd").ok());
  EXPECT_FALSE(CleanRelativePath("a/../../etc").ok());
  EXPECT_EQ(*CleanRelativePath("/a/./b//c/"), "a/b/c");
  EXPECT_EQ(*CleanRelativePath("."), "");

  std::string out = root_ + "/out";
  ASSERT_TRUE(CopyOut(tree, "", out, CopyAttrs{0, 0}, nullptr).ok());
  std::vector<std::string> copied;
  for (const std::string& path : ListTree(out)) copied.push_back(path.substr(out.size() + 1));
  EXPECT_EQ(copied, (std::vector<std::string>{"d", "d/c", "kept", "link"}));
  char target[64] = {};
  ASSERT_GT(::readlink((out + "/link").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "/etc");
}

}  // namespace
}  // namespace slipway::testing
