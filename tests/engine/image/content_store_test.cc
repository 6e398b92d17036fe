#include "engine/image/content_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

using testing::ListTree;
using testing::MakeTempDir;

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("content");
    auto store = ContentStore::Open(root_);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(root_).ok()); }

  std::unique_ptr<BlobWriter> NewWriter() {
    auto w = store_->NewWriter();
    EXPECT_TRUE(w.ok()) << w.status().message();
    return w.ok() ? std::move(w).value() : nullptr;
  }
  std::vector<std::string> Ingest() const { return ListTree(root_ + "/ingest"); }
  std::vector<std::string> Blobs() const { return ListTree(root_ + "/blobs/sha256"); }

  std::string root_;
  std::unique_ptr<ContentStore> store_;
};

TEST_F(ContentStoreTest, PutReadHasListDelete) {
  Digest hello = Digest::Of("hello");
  EXPECT_FALSE(store_->Has(hello));
  auto put = store_->Put("hello");
  ASSERT_TRUE(put.ok()) << put.status().message();
  EXPECT_EQ(*put, hello);
  EXPECT_TRUE(store_->Has(hello));
  EXPECT_EQ(store_->BlobPath(hello), root_ + "/blobs/sha256/" + hello.hex());
  EXPECT_EQ(*ReadFile(store_->BlobPath(hello)), "hello");
  EXPECT_EQ(*store_->Size(hello), 5);
  EXPECT_EQ(*store_->Read(hello, 5), "hello");
  EXPECT_TRUE(store_->Verify(hello).ok());

  // With the right expected digest; and again (already there is fine).
  ASSERT_TRUE(store_->Put("world", &*put).status().code() == Code::kInvalidArgument);
  Digest world = Digest::Of("world");
  ASSERT_TRUE(store_->Put("world", &world).ok());
  ASSERT_TRUE(store_->Put("world", &world).ok());
  EXPECT_EQ(store_->List(), (std::vector<Digest>{std::min(hello, world), std::max(hello, world)}));

  // Blobs are read-only, and the store root is private.
  struct stat st;
  ASSERT_EQ(::stat(store_->BlobPath(hello).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  ASSERT_TRUE(store_->Delete(hello).ok());
  EXPECT_FALSE(store_->Has(hello));
  EXPECT_EQ(store_->Delete(hello).code(), Code::kNotFound);
  EXPECT_EQ(store_->Read(hello, 100).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->List(), std::vector<Digest>{world});
  EXPECT_TRUE(Ingest().empty());
}

TEST_F(ContentStoreTest, ReadEnforcesLimitAndDetectsCorruption) {
  Digest d = *store_->Put("0123456789");
  auto big = store_->Read(d, 9);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), Code::kResourceExhausted);
  EXPECT_NE(big.status().message().find(d.str()), std::string::npos);

  // Corrupt the blob behind the store's back.
  ::chmod(store_->BlobPath(d).c_str(), 0644);
  ASSERT_TRUE(WriteExisting(store_->BlobPath(d), "X").ok());
  auto bad = store_->Read(d, 100);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("corrupt"), std::string::npos) << bad.status().message();
  Status v = store_->Verify(d);
  EXPECT_FALSE(v.ok());
  EXPECT_NE(v.message().find(Digest::Of("X123456789").str()), std::string::npos) << v.message();
}

TEST_F(ContentStoreTest, WrongDigestLeavesNoBlobAndNoTemp) {
  auto w = store_->NewWriter();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("evil ").ok());
  ASSERT_TRUE((*w)->Write("payload").ok());
  EXPECT_EQ((*w)->written(), 12);
  EXPECT_EQ(Ingest().size(), 1u);  // the temp file, while writing
  Digest claimed = Digest::Of("good payload");
  auto c = (*w)->Commit(&claimed, -1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find(claimed.str()), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find(Digest::Of("evil payload").str()), std::string::npos);
  EXPECT_TRUE(Blobs().empty());
  EXPECT_TRUE(Ingest().empty());
  EXPECT_FALSE(store_->Has(claimed));
  EXPECT_FALSE(store_->Has(Digest::Of("evil payload")));
}

TEST_F(ContentStoreTest, WrongSizeLeavesNoBlob) {
  auto w = NewWriter();
  ASSERT_TRUE(w->Write("12345").ok());
  Digest d = Digest::Of("12345");
  auto c = w->Commit(&d, 6);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("size"), std::string::npos);
  EXPECT_TRUE(Blobs().empty());
  EXPECT_TRUE(Ingest().empty());
  // The writer cannot be used without a Reset; after one, it works again.
  EXPECT_FALSE(w->Write("x").ok());
  ASSERT_TRUE(w->Reset().ok());
  ASSERT_TRUE(w->Write("12345").ok());
  auto ok = w->Commit(&d, 5);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(store_->Has(d));
  EXPECT_FALSE(w->Write("more").ok());  // committed
}

TEST_F(ContentStoreTest, ResetStartsOver) {
  auto w = NewWriter();
  ASSERT_TRUE(w->Write("half a downl").ok());
  ASSERT_TRUE(w->Reset().ok());
  EXPECT_EQ(w->written(), 0);
  ASSERT_TRUE(w->Write("the whole ").ok());
  ASSERT_TRUE(w->Write("download").ok());
  Digest d = Digest::Of("the whole download");
  auto c = w->Commit(&d, 18);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(*store_->Read(d, 100), "the whole download");
  EXPECT_TRUE(Ingest().empty());
}

TEST_F(ContentStoreTest, ConcurrentWritersOfTheSameBlob) {
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + (i >> 10));
  Digest d = Digest::Of(data);
  constexpr int kThreads = 8;
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto w = store_->NewWriter();
      if (!w.ok()) {
        results[t] = w.status();
        return;
      }
      for (size_t pos = 0; pos < data.size(); pos += 10000) {
        Status st = (*w)->Write(std::string_view(data).substr(pos, 10000));
        if (!st.ok()) {
          results[t] = st;
          return;
        }
      }
      results[t] = (*w)->Commit(&d, static_cast<int64_t>(data.size())).status();
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Blobs().size(), 1u);
  EXPECT_TRUE(Ingest().empty());
  EXPECT_TRUE(store_->Verify(d).ok());
}

TEST_F(ContentStoreTest, AbandonedWriterLeavesNothing) {
  {
    auto w = NewWriter();
    ASSERT_TRUE(w->Write("never committed").ok());
    EXPECT_EQ(Ingest().size(), 1u);
  }
  EXPECT_TRUE(Ingest().empty());
  EXPECT_TRUE(Blobs().empty());
}

TEST_F(ContentStoreTest, OpenRemovesStaleIngestsButNotLiveOnes) {
  // A crashed writer's leftovers: a file and even a directory.
  testing::RunShell("echo partial > " + root_ + "/ingest/deadbeef", nullptr);
  ASSERT_TRUE(MakeDirs(root_ + "/ingest/olddir/sub").ok());
  auto live = NewWriter();  // holds its temp file locked
  ASSERT_TRUE(live->Write("in progress").ok());
  ASSERT_EQ(Ingest().size(), 4u);

  auto reopened = ContentStore::Open(root_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  ASSERT_EQ(Ingest().size(), 1u);  // only the live writer's file
  Digest d = Digest::Of("in progress more");
  ASSERT_TRUE(live->Write(" more").ok());
  ASSERT_TRUE(live->Commit(&d, -1).ok());
  EXPECT_TRUE((*reopened)->Has(d));
  EXPECT_TRUE(Ingest().empty());
}

TEST_F(ContentStoreTest, ListIgnoresForeignFiles) {
  Digest d = *store_->Put("x");
  testing::RunShell("touch " + root_ + "/blobs/sha256/not-a-digest", nullptr);
  EXPECT_EQ(store_->List(), std::vector<Digest>{d});
}

}  // namespace
}  // namespace slipway
