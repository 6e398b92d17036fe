// BlobFeed: a reader following a content-store writer on another thread, on
// real files. What it must never do: read past what the writer published,
// end before the blob's size, or let anything read count once the writer
// restarted or its blob was refused.
#include "engine/image/blob_feed.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "engine/base/fs.h"
#include "engine/image/content_store.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

using namespace std::chrono_literals;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class BlobFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("blob-feed");
    auto store = ContentStore::Open(dir_ + "/content");
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
    auto writer = store_->NewWriter();
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    writer_ = std::move(writer).value();
  }
  void TearDown() override {
    writer_.reset();
    store_.reset();
    ASSERT_TRUE(RemoveTree(dir_).ok());
  }

  // A feed on writer_'s file for a blob of `size` bytes.
  std::unique_ptr<BlobFeed> Feed(int64_t size) {
    auto fd = writer_->OpenReader();
    EXPECT_TRUE(fd.ok()) << fd.status().message();
    return std::make_unique<BlobFeed>(std::move(fd).value(), size);
  }

  // Writes `data` and publishes it, as a download's sink does.
  void WriteAndPublish(BlobFeed& feed, std::string_view data) {
    ASSERT_TRUE(writer_->Write(data).ok());
    feed.Published(writer_->written());
  }

  std::string dir_;
  std::unique_ptr<ContentStore> store_;
  std::unique_ptr<BlobWriter> writer_;
};

// Everything `read` yields until its end (or the first error).
Result<std::string> ReadAll(Decompressor::ReadFn read) {
  std::string out;
  uint8_t buf[1000];
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(size_t n, read(buf, sizeof buf));
    if (n == 0) return out;
    out.append(reinterpret_cast<char*>(buf), n);
  }
}

TEST_F(BlobFeedTest, AReaderFollowsTheWriterToTheEndAndTheVerdictIsTheCommit) {
  std::string blob;
  for (int i = 0; i < 5000; ++i) blob += std::to_string(i) + ",";
  auto feed = Feed(static_cast<int64_t>(blob.size()));
  auto reader = std::async(std::launch::async, [&] { return ReadAll(feed->Reader()); });
  for (size_t at = 0; at < blob.size(); at += 3000) {
    WriteAndPublish(*feed, std::string_view(blob).substr(at, 3000));
    std::this_thread::sleep_for(2ms);
  }
  Digest digest = Digest::Of(blob);
  // The reader reached the end before the commit: the end is the size.
  Result<std::string> read = reader.get();
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(*read, blob);
  auto verdict = std::async(std::launch::async, [&] { return feed->Verdict(); });
  EXPECT_EQ(verdict.wait_for(50ms), std::future_status::timeout) << "a verdict before the commit";
  feed->Finish(writer_->Commit(&digest, static_cast<int64_t>(blob.size())).status());
  EXPECT_TRUE(verdict.get().ok());
  EXPECT_TRUE(store_->Has(digest));
  // A second reader, after the commit renamed the file: the same bytes.
  Result<std::string> again = ReadAll(feed->Reader());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, blob);
}

TEST_F(BlobFeedTest, AReaderNeverReadsPastWhatWasPublished) {
  auto feed = Feed(100);
  // In the file but not published (still in the writer's hands).
  ASSERT_TRUE(writer_->Write(std::string(100, 'x')).ok());
  feed->Published(40);
  Decompressor::ReadFn read = feed->Reader();
  uint8_t buf[100];
  Result<size_t> first = read(buf, sizeof buf);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 40u);
  auto second = std::async(std::launch::async, [&] { return read(buf, sizeof buf); });
  EXPECT_EQ(second.wait_for(100ms), std::future_status::timeout) << "read past what was published";
  feed->Published(100);
  Result<size_t> rest = second.get();
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(*rest, 60u);
  EXPECT_EQ(*read(buf, sizeof buf), 0u);
  feed->Finish(Status::Ok());
}

TEST_F(BlobFeedTest, ARestartVoidsWhatWasReadAndTheVerdict) {
  auto feed = Feed(10);
  WriteAndPublish(*feed, "01234");
  Decompressor::ReadFn read = feed->Reader();
  uint8_t buf[10];
  ASSERT_EQ(*read(buf, sizeof buf), 5u);
  // The writer starts over (a retried download) and then succeeds.
  feed->Restarted();
  ASSERT_TRUE(writer_->Reset().ok());
  Result<size_t> after = read(buf, sizeof buf);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), Code::kUnavailable) << after.status().message();
  EXPECT_TRUE(Contains(after.status().message(), "started over")) << after.status().message();
  WriteAndPublish(*feed, "0123456789");
  Digest digest = Digest::Of("0123456789");
  Status committed = writer_->Commit(&digest, 10).status();
  ASSERT_TRUE(committed.ok()) << committed.message();
  feed->Finish(committed);
  EXPECT_TRUE(feed->restarted());
  EXPECT_EQ(feed->Verdict().code(), Code::kUnavailable);
  // The blob itself is good: the caller unpacks that instead.
  EXPECT_TRUE(feed->WaitFinished().ok());
}

TEST_F(BlobFeedTest, ARestartBeforeAnythingWasPublishedVoidsNothing) {
  auto feed = Feed(3);
  feed->Restarted();
  ASSERT_TRUE(writer_->Reset().ok());
  EXPECT_FALSE(feed->restarted());
  WriteAndPublish(*feed, "abc");
  Result<std::string> read = ReadAll(feed->Reader());
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(*read, "abc");
  Digest digest = Digest::Of("abc");
  feed->Finish(writer_->Commit(&digest, 3).status());
  EXPECT_TRUE(feed->Verdict().ok());
}

// A body cut short: the writer fails with bytes still missing. The reader
// waiting for them wakes with the writer's error.
TEST_F(BlobFeedTest, AFailedWriterWakesAWaitingReaderWithItsError) {
  auto feed = Feed(1000);
  WriteAndPublish(*feed, std::string(300, 'y'));
  auto reader = std::async(std::launch::async, [&] { return ReadAll(feed->Reader()); });
  EXPECT_EQ(reader.wait_for(100ms), std::future_status::timeout) << "ended before the blob's size";
  feed->Finish(Status(Code::kUnavailable, "GET /v2/x/blobs/sha256:abc: connection reset"));
  Result<std::string> read = reader.get();
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kUnavailable);
  EXPECT_TRUE(Contains(read.status().message(), "the download failed: GET /v2/x/blobs/sha256:abc"))
      << read.status().message();
  EXPECT_FALSE(feed->Verdict().ok());
}

// All the bytes came, but they are not the blob the manifest names: the
// reader read them to the end, and only the verdict refuses them.
TEST_F(BlobFeedTest, AWrongDigestIsRefusedByTheVerdictAfterTheReaderReadItAll) {
  auto feed = Feed(4);
  WriteAndPublish(*feed, "evil");
  Result<std::string> read = ReadAll(feed->Reader());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "evil");
  Digest expected = Digest::Of("good");
  feed->Finish(writer_->Commit(&expected, 4).status());
  Status verdict = feed->Verdict();
  ASSERT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(verdict.message(), "the blob was refused")) << verdict.message();
  EXPECT_TRUE(Contains(verdict.message(), "digest mismatch: expected " + expected.str())) << verdict.message();
  EXPECT_TRUE(store_->List().empty());
  EXPECT_TRUE(ListDir(dir_ + "/content/ingest").empty());
}

}  // namespace
}  // namespace slipway
