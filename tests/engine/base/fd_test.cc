// PollUntil (engine/base/fd.h): ready fds at once, 0 at the deadline, and a
// wait a signal interrupts resumed rather than reported.
#include "engine/base/fd.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <chrono>

namespace slipway {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(PollUntilTest, ReadyAtOnceOrNothingByTheDeadline) {
  Result<Pipe> pipe = MakePipe();
  ASSERT_TRUE(pipe.ok());
  pollfd p = {pipe->read.get(), POLLIN, 0};
  EXPECT_EQ(PollUntil(&p, 1, Clock::now() - milliseconds(5)), 0) << "a deadline passed already";
  auto start = Clock::now();
  EXPECT_EQ(PollUntil(&p, 1, start + milliseconds(50)), 0);
  EXPECT_GE(Clock::now() - start, milliseconds(50)) << "returned before its deadline";
  ASSERT_EQ(::write(pipe->write.get(), "x", 1), 1);
  EXPECT_EQ(PollUntil(&p, 1, Clock::now() + std::chrono::seconds(20)), 1);
  EXPECT_TRUE(p.revents & POLLIN);
}

void Ignore(int) {}

TEST(PollUntilTest, ASignalDoesNotEndTheWait) {
  struct sigaction sa {};
  sa.sa_handler = Ignore;  // no SA_RESTART: poll fails with EINTR
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGALRM, &sa, &old), 0);
  itimerval every_10ms{{0, 10000}, {0, 10000}};
  ASSERT_EQ(::setitimer(ITIMER_REAL, &every_10ms, nullptr), 0);
  Result<Pipe> pipe = MakePipe();
  ASSERT_TRUE(pipe.ok());
  pollfd p = {pipe->read.get(), POLLIN, 0};
  auto start = Clock::now();
  int ready = PollUntil(&p, 1, start + milliseconds(100));
  auto waited = Clock::now() - start;
  itimerval off{};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &old, nullptr);
  EXPECT_EQ(ready, 0);
  EXPECT_GE(waited, milliseconds(100));
}

}  // namespace
}  // namespace slipway
