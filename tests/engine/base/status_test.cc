#include "engine/base/status.h"

#include <gtest/gtest.h>

namespace slipway {
namespace {

Result<int> Half(int n) {
  if (n % 2) return InvalidArgument("odd: " + std::to_string(n));
  return n / 2;
}

Result<int> Quarter(int n) {
  SLIPWAY_ASSIGN_OR_RETURN(int half, Half(n));
  return Half(half);
}

TEST(StatusTest, ErrnoNamesTheCallAndMapsTheCode) {
  Status st = Status::FromErrno(ENOENT, "open /x");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "open /x: No such file or directory");
  EXPECT_EQ(Status::FromErrno(EEXIST, "mkdir").code(), Code::kAlreadyExists);
  EXPECT_EQ(Status::FromErrno(EPERM, "mount").code(), Code::kPermissionDenied);
}

TEST(StatusTest, WrapKeepsCodeAndAddsContext) {
  Status st = NotFound("blob").Wrap("pull alpine");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "pull alpine: blob");
  EXPECT_TRUE(Status::Ok().Wrap("x").ok());
}

TEST(StatusTest, ResultCarriesValueOrError) {
  EXPECT_EQ(*Quarter(8), 2);
  auto odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "odd: 3");
  auto early = Quarter(5);
  EXPECT_EQ(early.status().message(), "odd: 5");
}

}  // namespace
}  // namespace slipway
