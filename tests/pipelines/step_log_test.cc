#include "pipelines/step_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "engine/base/fs.h"
#include "engine/runtime/log.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

struct Read {
  std::string out, err;
};

Read ReadBack(const std::string& path) {
  Read r;
  auto end = ReadLog(path, 0, [&](Stream s, std::string_view d) { (s == Stream::kStdout ? r.out : r.err).append(d); });
  EXPECT_TRUE(end.ok()) << end.status().ToString();
  return r;
}

class StepLogTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("step-log"); }
  void TearDown() override { (void)RemoveTree(dir_); }
  std::string dir_;
};

TEST_F(StepLogTest, KeepsBothStreamsInOrderAsTheSandboxLogReaderReadsThem) {
  std::string path = dir_ + "/0.log";
  auto log = StepLogWriter::Create(path, 1024);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE((*log)->Write(Stream::kStdout, "hello\n").ok());
  ASSERT_TRUE((*log)->Write(Stream::kStderr, "oops\n").ok());
  ASSERT_TRUE((*log)->Note("pulling busybox").ok());
  ASSERT_TRUE((*log)->Close().ok());
  Read r = ReadBack(path);
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "oops\n[slipway] pulling busybox\n");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u) << "a step's log is nobody else's to read";
}

TEST_F(StepLogTest, CutsAtTheCapAndSaysHowMuchWasDropped) {
  std::string path = dir_ + "/1.log";
  auto log = StepLogWriter::Create(path, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Write(Stream::kStdout, "0123456").ok());
  ASSERT_TRUE((*log)->Write(Stream::kStdout, "789abcdef").ok());  // 3 kept, 6 dropped
  ASSERT_TRUE((*log)->Write(Stream::kStderr, "zzzz").ok());       // all dropped
  ASSERT_TRUE((*log)->Note("killed: the step's timeout passed").ok());  // notes always fit
  EXPECT_EQ((*log)->written(), 10);
  EXPECT_EQ((*log)->dropped(), 10);
  ASSERT_TRUE((*log)->Close().ok());
  ASSERT_TRUE((*log)->Close().ok()) << "Close is idempotent";
  Read r = ReadBack(path);
  EXPECT_EQ(r.out, "0123456789");
  EXPECT_NE(r.err.find("killed: the step's timeout passed"), std::string::npos);
  EXPECT_NE(r.err.find("log cut at 10 bytes: 10 more bytes"), std::string::npos) << r.err;
  EXPECT_FALSE((*log)->Write(Stream::kStdout, "late").ok()) << "nothing is appended after Close";
}

TEST_F(StepLogTest, NothingCutNothingSaid) {
  std::string path = dir_ + "/2.log";
  auto log = StepLogWriter::Create(path, 5);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Write(Stream::kStdout, "12345").ok());
  ASSERT_TRUE((*log)->Close().ok());
  Read r = ReadBack(path);
  EXPECT_EQ(r.out, "12345");
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace slipway::pipelines
