// The end signal: fires once, wakes waiters and watches, and holds no file
// descriptor once nobody waits (an ended container kept until `rm` must cost
// none: 200 of them used to hold 200 eventfds).
#include "engine/containers/end_signal.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <thread>
#include <vector>

namespace slipway {
namespace {

using namespace std::chrono_literals;

int OpenFds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the DIR's own
}

Container Ended(const std::string& id) {
  Container c;
  c.id = id;
  c.state = ContainerState::kExited;
  return c;
}

TEST(EndSignalTest, FiresOnceWithTheFirstContainer) {
  EndSignal s;
  EXPECT_FALSE(s.fired());
  EXPECT_FALSE(s.AwaitFired(10ms));
  s.Fire(Ended("first"));
  s.Fire(Ended("second"));
  EXPECT_TRUE(s.fired());
  EXPECT_TRUE(s.AwaitFired(0ms));
  ASSERT_TRUE(s.final());
  EXPECT_EQ(s.final()->id, "first");
}

TEST(EndSignalTest, WakesAWaiterOnAnotherThread) {
  EndSignal s;
  std::thread firer([&] {
    std::this_thread::sleep_for(50ms);
    s.Fire(Ended("x"));
    s.Settle();
  });
  EXPECT_TRUE(s.AwaitFired(60s));
  s.AwaitSettled();
  firer.join();
}

TEST(EndSignalTest, AWatchIsReadableOnceFiredAndClosedWhenDropped) {
  auto s = std::make_shared<EndSignal>();
  int before = OpenFds();
  {
    auto watch = EndWatch::Open(s);
    ASSERT_TRUE(watch.ok()) << watch.status().ToString();
    EXPECT_EQ(OpenFds(), before + 1);
    pollfd p{watch->fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0) << "readable before the end";
    s->Fire(Ended("x"));
    EXPECT_EQ(::poll(&p, 1, 0), 1) << "not readable after the end";
    EXPECT_EQ(::poll(&p, 1, 0), 1) << "readable only once";
  }
  EXPECT_EQ(OpenFds(), before);
  // A watch taken after the end is readable at once.
  auto late = EndWatch::Open(s);
  ASSERT_TRUE(late.ok());
  pollfd p{late->fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);
}

TEST(EndSignalTest, EndedSignalsHoldNoDescriptors) {
  int before = OpenFds();
  std::vector<std::shared_ptr<EndSignal>> kept;
  for (int i = 0; i < 200; ++i) {
    auto s = std::make_shared<EndSignal>();
    s->Fire(Ended(std::to_string(i)));
    s->Settle();
    kept.push_back(s);
  }
  EXPECT_EQ(OpenFds(), before);
}

}  // namespace
}  // namespace slipway
