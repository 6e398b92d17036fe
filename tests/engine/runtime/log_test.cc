#include "engine/runtime/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = testing::MakeTempDir("log-test") + "/output.log"; }
  void TearDown() override { (void)RemoveTree(path_.substr(0, path_.rfind('/'))); }

  // What ReadLog hands on from `offset`, as "1:out|2:err|"; *next gets the
  // offset it returned.
  std::string Read(uint64_t offset, uint64_t* next, Status* status = nullptr) {
    std::string seen;
    auto r = ReadLog(path_, offset, [&](Stream s, std::string_view d) {
      seen += std::to_string(static_cast<int>(s)) + ":" + std::string(d) + "|";
    });
    if (status) *status = r.status();
    if (r.ok()) *next = *r;
    return seen;
  }
  void AppendRaw(std::string_view bytes) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(WriteAll(fd, bytes, path_).ok());
    ::close(fd);
  }

  std::string path_;
};

TEST_F(LogTest, WrittenChunksReadBackInOrder) {
  auto log = LogWriter::Create(path_);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE(log->Append(Stream::kStdout, "one\n").ok());
  ASSERT_TRUE(log->Append(Stream::kStderr, "two\n").ok());
  ASSERT_TRUE(log->Append(Stream::kStdout, std::string(200000, 'z')).ok());  // beyond one read
  uint64_t next = 0;
  EXPECT_EQ(Read(0, &next), "1:one\n|2:two\n|1:" + std::string(200000, 'z') + "|");
  EXPECT_EQ(next, 3 * 8 + 4 + 4 + 200000u);
  // The file holds Docker frames as they are served.
  auto bytes = ReadFile(path_);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->substr(0, 12), std::string("\x01\0\0\0\0\0\0\x04one\n", 12));
}

TEST_F(LogTest, AFollowerResumesAtAChunkBeingWritten) {
  auto log = LogWriter::Create(path_);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(log->Append(Stream::kStdout, "first").ok());
  std::string second = EncodeFrame(Stream::kStderr, "second");
  AppendRaw(second.substr(0, 5));  // a header half written
  uint64_t next = 0;
  EXPECT_EQ(Read(0, &next), "1:first|");
  EXPECT_EQ(next, 13u);
  AppendRaw(second.substr(5, 6));  // the header and part of the payload
  EXPECT_EQ(Read(next, &next), "");
  EXPECT_EQ(next, 13u);
  AppendRaw(second.substr(11));
  EXPECT_EQ(Read(next, &next), "2:second|");
  EXPECT_EQ(next, 13u + second.size());
}

TEST_F(LogTest, CorruptHeaderIsAnErrorNamingTheByte) {
  auto log = LogWriter::Create(path_);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(log->Append(Stream::kStdout, "ok").ok());
  // A size of 4 GiB - 1: refused, not waited for forever or allocated.
  AppendRaw(std::string("\x01\0\0\0\xff\xff\xff\xff", 8));
  uint64_t next = 0;
  Status st;
  EXPECT_EQ(Read(0, &next, &st), "1:ok|");
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_NE(st.message().find("corrupt log " + path_ + " at byte 10"), std::string::npos) << st.message();
}

TEST_F(LogTest, EndFrameIsNotALogChunk) {
  ASSERT_TRUE(LogWriter::Create(path_).ok());
  AppendRaw(EncodeFrame(Stream::kEnd, "{}"));
  uint64_t next = 0;
  Status st;
  EXPECT_EQ(Read(0, &next, &st), "");
  EXPECT_EQ(st.code(), Code::kInternal) << st.ToString();
}

}  // namespace
}  // namespace slipway
