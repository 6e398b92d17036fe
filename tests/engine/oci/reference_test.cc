#include "engine/oci/reference.h"

#include <gtest/gtest.h>

namespace slipway {
namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Valid {
  std::string input, registry, repository, tag, digest;
};

TEST(ReferenceTest, ParsesAndNormalizes) {
  const Valid cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", ""},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", ""},
      {"user/app", "docker.io", "user/app", "latest", ""},
      {"docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", ""},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", ""},
      {"index.docker.io/user/app:v1", "docker.io", "user/app", "v1", ""},
      {"foo:5000", "docker.io", "library/foo", "5000", ""},
      {"localhost/foo", "localhost", "foo", "latest", ""},
      {"localhost:5000/foo/bar:v1", "localhost:5000", "foo/bar", "v1", ""},
      {"127.0.0.1:5000/test/busybox:1", "127.0.0.1:5000", "test/busybox", "1", ""},
      {"[::1]:5000/foo:bar", "[::1]:5000", "foo", "bar", ""},
      {"ghcr.io/org/app@sha256:" + kHex, "ghcr.io", "org/app", "", "sha256:" + kHex},
      {"ghcr.io/org/app:1.2@sha256:" + kHex, "ghcr.io", "org/app", "1.2", "sha256:" + kHex},
      {"registry.example.com/a/b/c:Tag_with-dots.1", "registry.example.com", "a/b/c", "Tag_with-dots.1", ""},
      {"my-reg.io/x__y/z.w-q/a---b:T", "my-reg.io", "x__y/z.w-q/a---b", "T", ""},
      {"quay.io/" + std::string(40, 'a') + ":" + std::string(128, 't'), "quay.io", std::string(40, 'a'),
       std::string(128, 't'), ""},
  };
  for (const Valid& c : cases) {
    SCOPED_TRACE(c.input);
    auto ref = ParseReference(c.input);
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    EXPECT_EQ(ref->registry, c.registry);
    EXPECT_EQ(ref->repository, c.repository);
    EXPECT_EQ(ref->tag, c.tag);
    EXPECT_EQ(ref->digest ? ref->digest->str() : "", c.digest);
    // str() is fully qualified and parses back to the same reference.
    auto again = ParseReference(ref->str());
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ(*again, *ref);
  }
}

struct Invalid {
  std::string input, error;  // `error` is part of the message
};

TEST(ReferenceTest, RejectsWithAClearMessage) {
  const Invalid cases[] = {
      {"", "empty image reference"},
      {"Busybox", "must be lowercase"},
      {"ghcr.io/Org/app", "must be lowercase"},
      {"busybox:", "tag \"\""},
      {"busybox:-bad", "tag \"-bad\""},
      {"busybox:" + std::string(129, 't'), "tag"},
      {"busybox@sha256:abc", "sha256:<64 lowercase hex digits>"},
      {"busybox@sha512:" + kHex + kHex, "only sha256"},
      {"busybox@sha256:" + std::string(64, 'A'), "sha256:<64 lowercase hex digits>"},
      {"foo//bar", "component \"\""},
      {"foo/bar_", "component \"bar_\""},
      {"-foo", "component \"-foo\""},
      {"foo..bar", "component \"foo..bar\""},
      {"foo___bar", "component \"foo___bar\""},
      {"example.com:99999/x", "invalid registry host \"example.com:99999\""},
      {"ex_ample.com/x", "invalid registry host"},
      {"-bad.com/x", "invalid registry host"},
      {":5000/x", "invalid registry host \":5000\""},
      {"@sha256:" + kHex, "missing repository name"},
      {kHex, "image id"},
      {"example.com/" + std::string(250, 'a'), "longer than 255"},
  };
  for (const Invalid& c : cases) {
    SCOPED_TRACE(c.input);
    auto ref = ParseReference(c.input);
    ASSERT_FALSE(ref.ok()) << ref->str();
    EXPECT_EQ(ref.status().code(), Code::kInvalidArgument);
    EXPECT_NE(ref.status().message().find(c.error), std::string::npos) << ref.status().message();
  }
}

TEST(ReferenceTest, FamiliarNamesAsDockerShowsThem) {
  auto familiar = [](const std::string& text) { return ParseReference(text)->Familiar(); };
  EXPECT_EQ(familiar("busybox"), "busybox:latest");
  EXPECT_EQ(familiar("docker.io/library/busybox:1"), "busybox:1");
  EXPECT_EQ(familiar("user/app:2"), "user/app:2");
  EXPECT_EQ(familiar("docker.io/library/a/b"), "library/a/b:latest");
  EXPECT_EQ(familiar("ghcr.io/o/a:1"), "ghcr.io/o/a:1");
  EXPECT_EQ(familiar("ghcr.io/o/a@sha256:" + kHex), "ghcr.io/o/a@sha256:" + kHex);
  EXPECT_EQ(ParseReference("busybox")->str(), "docker.io/library/busybox:latest");
  EXPECT_EQ(ParseReference("ghcr.io/o/a@sha256:" + kHex)->TagOrDigest(), "sha256:" + kHex);
  EXPECT_EQ(ParseReference("ghcr.io/o/a:1@sha256:" + kHex)->TagOrDigest(), "sha256:" + kHex);
}

TEST(ReferenceTest, TagGrammar) {
  EXPECT_TRUE(IsValidTag("latest"));
  EXPECT_TRUE(IsValidTag("_x"));
  EXPECT_TRUE(IsValidTag("1.0-rc.1"));
  EXPECT_FALSE(IsValidTag(".hidden"));
  EXPECT_FALSE(IsValidTag("a/b"));
  EXPECT_FALSE(IsValidTag(""));
  EXPECT_TRUE(IsValidTag(std::string(128, 'a')));
  EXPECT_FALSE(IsValidTag(std::string(129, 'a')));
}

}  // namespace
}  // namespace slipway
